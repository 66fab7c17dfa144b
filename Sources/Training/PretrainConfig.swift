import Foundation
import Torch
import Models
import NN

/// Every setting of `stmae pretrain`, defaults visible in one place (optimized-stmae / mae_st names, snake_case in
/// JSON).
/// The defaults train a tiny MAE on the built-in synthetic videos in about two minutes on 2 CPU cores.
public struct PretrainConfig: Codable, Equatable, Sendable {
    // data
    public var dataDirs: [String] = []  // empty: the built-in synthetic data set
    public var datafileDir: String = ""  // where train.csv is written (default: output_dir)
    public var pathToDataDir = ""  // mae_st: a folder holding train.csv (`path label` lines) instead of data_dirs
    public var dataFrac = 1.0
    public var numFrames = 8
    public var samplingRate = 2
    public var targetFps = 10.0
    public var imgSize = 64
    public var shortSide = 0  // 0: img_size·256/224
    public var repeatAug = 2
    public var jitterScalesRelative = [0.5, 1.0]
    public var jitterAspectRelative = [0.75, 1.3333]
    public var mean = [0.45, 0.45, 0.45]
    public var std = [0.225, 0.225, 0.225]
    public var numWorkers = 2
    // model
    public var model = "mae_vit_tiny"  // mae_vit_{tiny,small,base,large,huge}…, or maskfeat_vit_{tiny,base,large}
    public var patchSize = 0  // 0: the model's
    public var embedDim = 0  // 0: the model's (size overrides, encoder)
    public var depth = 0
    public var numHeads = 0
    public var tPatchSize = 2
    public var decoderEmbedDim = 0  // 0: the model's
    public var decoderDepth = 0
    public var decoderNumHeads = 0
    public var maskRatio = 0.0  // 0: the model's (MAE 0.9, MaskFeat 0.4)
    public var maskType = "random"
    public var decoderMaskRatio = 0.0  // dual masking (VideoMAE V2): share of masked tokens the decoder skips
    public var predTDim = 0  // 0: num_frames
    public var normPixLoss = false
    public var clsEmbed = true
    public var sepPosEmbed = true  // false: one learned joint pos_embed (mae_st); see sincos_pos_embed
    public var sincosPosEmbed = false  // fixed VideoMAE sinusoid positions (overrides sep_pos_embed)
    public var truncInit = false
    public var initFrom = ""  // MaskFeat: start from an image ViT or a video MAE encoder
    // optimisation
    public var batchSizePerGpu = 4
    public var accumIter = 1
    public var epochs = 12  // the tiny default: ≈ 8.5 s/epoch on 2 idle cores
    public var lr = 0.0  // 0: blr × batch_size_per_gpu × accum_iter × world_size / 256
    public var blr = 6.4e-2  // tiny default: lr 1e-3 at batch 4; mae_st ViT-B/L recipes: 1.6e-3
    public var minLr = 0.0
    public var warmupEpochs = 1.0
    public var weightDecay = 0.05
    public var biasWd = false  // mae_st --bias_wd: decay 1-D weights (norms) too; `.bias` never
    public var noWdPosEmbed = false  // exempt positions, cls_token and mask_token from decay (mae_st decays them)
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var clipGrad = 0.02  // 0: off
    public var bf16 = false
    public var fp16 = false  // float16 autocast with dynamic loss scaling (GradScaler)
    /// Where the run computes (`--device`); not saved: a checkpoint resumes on any device.
    public var device = Device.preferred
    // run
    public var outputDir = "output_pretrain"
    public var savePrefix = ""
    public var resume = ""
    public var seed = 0
    public var checkpointPeriod = 10  // epochs
    public var numCheckpointDel = 3  // keep the last N epoch checkpoints (0: all)
    public var maxSteps = 0  // stop after this many optimizer steps in this run (0: no limit)
    public var threads = 0  // 0: libtorch default
    public var logEvery = 10
    public var distributed = false
    public var pinMem = true  // mae_st/optimized-stmae --pin_mem: page-locked batches for GPU copies
    public var logDir = ""  // mae_st --log_dir: where log.jsonl and loss_curve.png go ("" = output_dir)
    public var logScale = false  // loss_curve.png with a log-scale y axis
    public var distTimeout = 1800.0  // seconds before a collective or the rendezvous fails (PyTorch's 30 min)
    /// Seconds without progress from a rank before the job stops (0: off; -1: $STMAE_HEARTBEAT_TIMEOUT, else 60).
    public var heartbeatTimeout = -1.0
    public var distBackend = "auto"  // c10d backend of data parallelism: auto (NCCL on CUDA, else Gloo), gloo, nccl

    public init() {}

    /// The model configuration these settings describe.
    public func maeConfig() throws -> MAEConfig {
        var c = try MAEConfig.named(model)
        c.imgSize = imgSize
        c.numFrames = numFrames
        c.tPatchSize = tPatchSize
        if patchSize > 0 { c.patchSize = patchSize }
        if embedDim > 0 { c.embedDim = embedDim }
        if depth > 0 { c.depth = depth }
        if numHeads > 0 { c.numHeads = numHeads }
        if decoderEmbedDim > 0 { c.decoderEmbedDim = decoderEmbedDim }
        if decoderDepth > 0 { c.decoderDepth = decoderDepth }
        if decoderNumHeads > 0 { c.decoderNumHeads = decoderNumHeads }
        c.predTDim = predTDim > 0 ? predTDim : numFrames
        if maskRatio > 0 { c.maskRatio = maskRatio }
        c.maskType = maskType
        c.decoderMaskRatio = decoderMaskRatio
        c.normPixLoss = normPixLoss
        c.clsEmbed = clsEmbed
        c.sepPosEmbed = sepPosEmbed
        c.sincosPosEmbed = sincosPosEmbed
        c.truncInit = truncInit
        return c
    }

    /// The peak lr and its rule, as mae_st `main_pretrain.main` / optimized-stmae `pretrain.main`:
    /// `eff_batch_size = batch_size × accum_iter × world_size` — repeat_aug is not in it (each step still sees
    /// batch × repeat_aug clips).
    public func learningRate(worldSize: Int) -> (lr: Double, rule: String) {
        peakLR(
            lr: lr, blr: blr,
            factors: ["batch_size_per_gpu": batchSizePerGpu, "accum_iter": accumIter, "world_size": worldSize],
            note: "mae_st pre-training; repeat_aug \(repeatAug) is not a factor")
    }

    /// The checks of settings together (`validate()`: after each flag's own range); errors name the flags.
    public func checkCombination() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw ConfigError(msg) } }
        try need(blr > 0 || lr > 0, "--blr must be > 0 (or give --lr), got \(blr)")
        try need(
            pathToDataDir.isEmpty || dataDirs.isEmpty,
            "--path_to_data_dir \(pathToDataDir): give it or --data_dirs, not both")
        if !isMAE { return try validateFamily() }
        try need(
            initFrom.isEmpty,
            "--init_from (an image ViT or video MAE to start from) is for MaskFeat models; "
                + "an MAE starts from --resume or its init"
        )
        let m = try maeConfig()
        try checkModelSizes(
            embedDim: m.embedDim, numHeads: m.numHeads, imgSize: m.imgSize, patchSize: m.patchSize,
            numFrames: m.numFrames, tPatchSize: m.tPatchSize)
        let (t, g) = (m.numFrames / m.tPatchSize, m.imgSize / m.patchSize)
        if let mt = MaskType(rawValue: m.maskType) {
            let kept = mt.numKept(ratio: m.maskRatio, tGrid: t, sGrid: g * g)
            try need(
                kept > 0, "--mask_ratio \(m.maskRatio) leaves no visible token of \(t * g * g) (\(m.maskType) masking)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case dataDirs = "data_dirs", datafileDir = "datafile_dir", dataFrac = "data_frac", numFrames = "num_frames"
        case samplingRate = "sampling_rate", targetFps = "target_fps", imgSize = "img_size", shortSide = "short_side"
        case repeatAug = "repeat_aug", jitterScalesRelative = "jitter_scales_relative"
        case jitterAspectRelative = "jitter_aspect_relative", mean, std, numWorkers = "num_workers", model
        case patchSize = "patch_size", embedDim = "embed_dim", depth, numHeads = "num_heads", tPatchSize =
            "t_patch_size", decoderEmbedDim = "decoder_embed_dim"
        case decoderDepth = "decoder_depth", decoderNumHeads = "decoder_num_heads", maskRatio = "mask_ratio"
        case maskType = "mask_type", decoderMaskRatio = "decoder_mask_ratio", predTDim = "pred_t_dim", normPixLoss =
            "norm_pix_loss", clsEmbed = "cls_embed"
        case sepPosEmbed = "sep_pos_embed", sincosPosEmbed = "sincos_pos_embed", truncInit = "trunc_init", initFrom =
            "init_from", batchSizePerGpu = "batch_size_per_gpu"
        case accumIter = "accum_iter", epochs, lr, blr, minLr = "min_lr", warmupEpochs = "warmup_epochs"
        case weightDecay = "weight_decay", biasWd = "bias_wd", noWdPosEmbed = "no_wd_pos_embed", beta1, beta2,
            clipGrad = "clip_grad", bf16, fp16, outputDir = "output_dir"
        case savePrefix = "save_prefix", resume, seed, checkpointPeriod = "checkpoint_period"
        case numCheckpointDel = "num_checkpoint_del", maxSteps = "max_steps", threads, logEvery = "log_every"
        case distributed, pathToDataDir = "path_to_data_dir", pinMem = "pin_mem", logDir = "log_dir"
        case logScale = "log_scale"
        case distTimeout = "dist_timeout", heartbeatTimeout = "heartbeat_timeout", distBackend = "dist_backend"
    }
}
