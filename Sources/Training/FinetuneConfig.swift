import Foundation
import Torch
import Datasets
import Models
import NN

/// Every setting of `stmae finetune` / `evaluate` / `linprobe` / `finetune-image`, defaults visible in one place
/// (mae_st `main_finetune` names, snake_case in JSON). The defaults fine-tune a tiny ViT on the built-in synthetic
/// videos (8 classes) in a few minutes on 2 CPU cores.
public struct FinetuneConfig: Codable, Equatable, Sendable {
    // data
    public var trainDir = ""  // class folders or a `path, label` list; empty: built-in data
    public var valDir = ""
    public var pathToDataDir = ""  // mae_st: a folder holding train.csv and val.csv (`path label` lines)
    public var datafileDir = ""  // optimized-stmae: where train.csv / val.csv are written ("" = output_dir)
    public var images = false  // image class folders (finetune-image): static clips
    public var fracRetained = 1.0  // few-shot: fraction kept per class (seeded)
    public var numFrames = 8
    public var samplingRate = 2
    public var targetFps = 10.0
    public var imgSize = 64
    public var shortSide = 0  // 0: img_size·256/224
    public var repeatAug = 1
    public var jitterScalesRelative = [0.5, 1.0]  // images: [0.08, 1] (RandomResizedCrop)
    public var jitterAspectRelative = [0.75, 1.3333]
    public var mean = [0.45, 0.45, 0.45]
    public var std = [0.225, 0.225, 0.225]
    public var numWorkers = 2
    // augmentation
    // -1: 0.5, but 0 on the built-in data (its classes are left/right motions) / regularisation
    public var flipProb = -1.0
    public var randAug = false  // mae_st --rand_aug: RandAugment (policy --aa) and random erasing (--reprob)
    public var aa = "rand-m7-mstd0.5-inc1"  // mae_st's RandAugment policy
    public var reprob = 0.25  // random erasing probability, with --rand_aug (mae_st Kinetics._aug_frame)
    public var mixup = 0.0  // Beta α (mae_st 0.8)
    public var cutmix = 0.0  // Beta α (mae_st 1.0)
    public var mixupProb = 1.0
    public var mixupSwitchProb = 0.5
    public var smoothing = 0.1
    public var dropPathRate = 0.1
    public var dropout = 0.0  // head dropout (mae_st 0.5)
    // model
    public var model = "vit_tiny"
    public var numClasses = 0  // 0: number of class folders
    public var patchSize = 0  // 0: the model's
    public var embedDim = 0  // 0: the model's (model size overrides)
    public var depth = 0
    public var numHeads = 0
    public var tPatchSize = 2
    public var globalPool = true
    public var clsEmbed = true
    public var sepPosEmbed = true  // false: one learned joint pos_embed (mae_st); see sincos_pos_embed
    public var sincosPosEmbed = false  // fixed VideoMAE sinusoid positions (overrides sep_pos_embed)
    public var finetune = ""  // pre-trained checkpoint (encoder keys; head re-initialised)
    public var inflation = "centre"  // TimeSformer/ViViT from an image ViT: Conv2d → Conv3d, centre | average
    public var temporalInit = "copy"  // … temporal attention: copy (of the spatial) | zero
    public var linearProbe = false  // frozen encoder, plain linear head
    // optimisation
    public var batchSize = 8
    public var accumIter = 1
    public var epochs = 10
    public var lr = 0.0  // 0: blr × batch_size × accum_iter × world_size × repeat_aug / 256
    public var blr = 1e-3
    public var layerDecay = 0.75
    public var minLr = 1e-6
    public var warmupEpochs = 1.0
    public var weightDecay = 0.05
    public var clipGrad = 0.0  // 0: off
    public var bf16 = false
    public var fp16 = false  // float16 autocast with dynamic loss scaling (GradScaler)
    /// Where the run computes (`--device`); not saved: a checkpoint resumes (or is evaluated) on any device.
    public var device = Device.preferred
    // evaluation
    public var numTemporalViews = 1  // mae_st test: 7 (SSv2: 2)
    public var numSpatialCrops = 1  // mae_st test: 3
    public var evalOnly = false  // --eval
    // run
    public var outputDir = "output_finetune"
    public var resume = ""
    public var seed = 0
    public var threads = 0
    public var logEvery = 10
    public var maxSteps = 0  // stop after this many optimizer steps in this run (0: no limit)
    public var savePrefix = ""  // prefix of checkpoint names
    public var pinMem = true  // mae_st/optimized-stmae --pin_mem: page-locked batches for GPU copies
    public var logDir = ""  // mae_st --log_dir: where log.jsonl and the plots go ("" = output_dir)
    public var logScale = false  // loss_curve.png with a log-scale y axis
    public var distributed = false  // require a launcher environment
    public var distEval = false  // mae_st --dist_eval: each rank evaluates a shard (one process: all)
    public var distTimeout = 1800.0  // seconds before a collective or the rendezvous fails (PyTorch's 30 min)
    /// Seconds without progress from a rank before the job stops (0: off; -1: $STMAE_HEARTBEAT_TIMEOUT, else 60).
    public var heartbeatTimeout = -1.0
    public var distBackend = "auto"  // c10d backend of data parallelism: auto (NCCL on CUDA, else Gloo), gloo, nccl

    public init() {}

    /// The peak lr and its rule, as mae_st `main_finetune.main`: `eff_batch_size = batch_size × accum_iter ×
    /// world_size × repeat_aug` (unlike its pre-training, fine-tuning counts the repeated augmentations).
    public func learningRate(worldSize: Int) -> (lr: Double, rule: String) {
        peakLR(
            lr: lr, blr: blr,
            factors: [
                "batch_size": batchSize, "accum_iter": accumIter, "world_size": worldSize, "repeat_aug": repeatAug
            ],
            note: "mae_st fine-tuning")
    }

    /// The checks of settings together (`validate()`: after each flag's own range); errors name the flags.
    public func checkCombination() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw ConfigError(msg) } }
        try need(blr > 0 || lr > 0, "--blr must be > 0 (or give --lr), got \(blr)")
        try need(
            globalPool || clsEmbed,
            "--cls_token pooling needs a model with a cls token (cls_embed; videomae_* models have none)")
        if (mixup > 0 || cutmix > 0) && mixupProb > 0 {
            try need(
                batchSize % 2 == 0,
                "--batch_size must be even with --mixup/--cutmix (pairs are mixed), got \(batchSize)")
        }
        if randAug { do { _ = try RandAugment(aa) } catch { throw ConfigError("--aa '\(aa)': \(error)") } }
        try need(
            ModelCatalog.entry(model, for: .classifier)?.kind != .pretrainer,
            "--model \(model) is a pre-training model: pre-train it with `stmae pretrain --model \(model)`, "
                + "then fine-tune its encoder with `--model vit_base_patch16 --finetune CHECKPOINT` (same sizes)"
        )
        try need(
            PatchInflation(rawValue: inflation) != nil,
            "--inflation must be one of \(PatchInflation.allCases.map(\.rawValue)), got '\(inflation)'")
        try need(
            TemporalInit(rawValue: temporalInit) != nil,
            "--temporal_init must be one of \(TemporalInit.allCases.map(\.rawValue)), got '\(temporalInit)'")
    }

    /// The training and validation sources: `--train_dir` / `--val_dir`, or mae_st's `--path_to_data_dir` lists
    /// (`DIR/train.csv`, `DIR/val.csv` when present: `Kinetics` modes "finetune" and "val").
    public func dataSources() throws -> (train: String, val: String) {
        guard !pathToDataDir.isEmpty else { return (trainDir, valDir) }
        guard trainDir.isEmpty && valDir.isEmpty else {
            throw ConfigError("--path_to_data_dir \(pathToDataDir): give it or --train_dir/--val_dir, not both")
        }
        let val = pathToDataDir + "/val.csv"
        return (try upstreamList(pathToDataDir, "train"), FileManager.default.fileExists(atPath: val) ? val : "")
    }

    /// `--inflation` / `--temporal_init` (validated).
    public var patchInflation: PatchInflation { PatchInflation(rawValue: inflation) ?? .centre }
    public var temporalInitMode: TemporalInit { TemporalInit(rawValue: temporalInit) ?? .copy }

    /// The mixup settings (nil when off).
    public func mixupConfig(numClasses: Int) -> MixupConfig? {
        let c = MixupConfig(
            mixupAlpha: mixup, cutmixAlpha: cutmix, prob: mixupProb, switchProb: mixupSwitchProb,
            labelSmoothing: smoothing, numClasses: numClasses)
        return c.enabled ? c : nil
    }

    /// The short side of evaluation views, as mae_st `Kinetics.__getitem__` in test mode: with 3 spatial crops the
    /// crop size (the crops slide along the long side), with one centre crop `train_jitter_scales[0]` (here
    /// `--short_side`, default img_size·256/224: 256 at 224). Images (finetune-image): img_size + 32.
    public var evalShortSide: Int {
        if images { return imgSize + 32 }
        return numSpatialCrops == 1
            ? (shortSide > 0 ? shortSide : ClipConfig.defaultShortSide(imgSize: imgSize)) : imgSize
    }

    /// Clip sampling for training or for evaluation view (temporal `t`, spatial `s`).
    public func clipConfig(train: Bool, temporalIndex: Int = 0, spatialIndex: Int = 1) throws -> ClipConfig {
        let f = mean.map(Float.init), s = std.map(Float.init)
        return ClipConfig(
            numFrames: numFrames, samplingRate: samplingRate, targetFps: targetFps, imgSize: imgSize,
            shortSide: shortSide > 0 ? shortSide : nil, evalShortSide: evalShortSide,
            repeatAug: train ? repeatAug : 1, mean: f, std: s,
            scales: jitterScalesRelative[0] ... jitterScalesRelative[1],
            aspects: jitterAspectRelative[0] ... jitterAspectRelative[1],
            flipProbability: flipProb < 0 ? 0.5 : flipProb,
            train: train,
            temporalIndex: temporalIndex, numTemporalViews: train ? 1 : numTemporalViews,
            spatialIndex: numSpatialCrops == 1 ? 1 : spatialIndex,
            randAugment: train && randAug ? try RandAugment(aa) : nil, reprob: train && randAug ? reprob : 0)
    }

    enum CodingKeys: String, CodingKey {
        case trainDir = "train_dir", valDir = "val_dir", images, fracRetained = "frac_retained", numFrames =
            "num_frames"
        case samplingRate = "sampling_rate", targetFps = "target_fps", imgSize = "img_size", shortSide = "short_side"
        case repeatAug = "repeat_aug", jitterScalesRelative = "jitter_scales_relative"
        case jitterAspectRelative = "jitter_aspect_relative", mean, std, numWorkers = "num_workers", flipProb =
            "flip_prob"
        case randAug = "rand_aug", reprob, mixup, cutmix, mixupProb = "mixup_prob", mixupSwitchProb =
            "mixup_switch_prob"
        case smoothing, dropPathRate = "drop_path_rate", dropout, model, numClasses = "num_classes"
        case patchSize = "patch_size", embedDim = "embed_dim", depth, numHeads = "num_heads", tPatchSize =
            "t_patch_size", globalPool = "global_pool", clsEmbed = "cls_embed"
        case sepPosEmbed = "sep_pos_embed", sincosPosEmbed = "sincos_pos_embed", finetune, inflation, temporalInit =
            "temporal_init", linearProbe = "linear_probe", batchSize = "batch_size"
        case accumIter = "accum_iter", epochs, lr, blr, layerDecay = "layer_decay", minLr = "min_lr"
        case warmupEpochs = "warmup_epochs", weightDecay = "weight_decay", clipGrad = "clip_grad", bf16, fp16
        case numTemporalViews = "num_temporal_views", numSpatialCrops = "num_spatial_crops", evalOnly = "eval"
        case outputDir = "output_dir", resume, seed, threads, logEvery = "log_every", maxSteps = "max_steps"
        case pathToDataDir = "path_to_data_dir", datafileDir = "datafile_dir", aa, savePrefix = "save_prefix"
        case pinMem = "pin_mem", logDir = "log_dir", logScale = "log_scale", distEval = "dist_eval", distributed
        case distTimeout = "dist_timeout", heartbeatTimeout = "heartbeat_timeout", distBackend = "dist_backend"
    }
}
