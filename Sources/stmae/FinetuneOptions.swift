import ArgumentParser
import Foundation
import Models
import NN
import Training

/// The flags shared by `finetune`, `linprobe`, `finetune-image` and `evaluate` (mae_st `main_finetune` spellings).
/// Unset options keep the `FinetuneConfig` defaults.
struct FinetuneOptions: ParsableArguments {
    // data
    @Option(name: .customLong("train_dir"), help: "Training data: class folders (sorted folder index = label) or a `path, label` list.")
    var trainDir: String?
    @Option(name: .customLong("val_dir"), help: "Validation data (same forms). Neither: the built-in synthetic set.")
    var valDir: String?
    @Option(name: .customLong("frac_retained"), help: "Few-shot: fraction of training samples kept per class (seeded).")
    var fracRetained: Double?
    @Option(name: .customLong("num_frames")) var numFrames: Int?
    @Option(name: .customLong("sampling_rate")) var samplingRate: Int?
    @Option(name: .customLong("target_fps")) var targetFps: Double?
    @Option(name: .customLong("input_size"), help: "Crop size (alias --img_size).") var inputSize: Int?
    @Option(name: .customLong("img_size")) var imgSize: Int?
    @Option(name: .customLong("short_side"), help: "Training decode short side, and the short side of the single-crop test view (mae_st train_jitter_scales[0]) (0: img_size·256/224).") var shortSide: Int?
    @Option(name: .customLong("repeat_aug"), help: "Augmented clips per decoded video.") var repeatAug: Int?
    @Option(name: .customLong("num_workers")) var numWorkers: Int?
    // augmentation
    @Option(name: .customLong("rand_aug"), help: "RandAugment config, e.g. rand-m7-mstd0.5-inc1 ('' = off).") var randAug: String?
    @Option(help: "Random-erasing probability ('pixel' mode).") var reprob: Double?
    @Option(name: .customLong("flip_prob"), help: "Horizontal flip probability (default 0.5; 0 on the built-in left/right data).")
    var flipProb: Double?
    @Option(help: "Mixup Beta α (0 = off).") var mixup: Double?
    @Option(help: "CutMix Beta α (0 = off).") var cutmix: Double?
    @Option(name: .customLong("mixup_prob")) var mixupProb: Double?
    @Option(name: .customLong("mixup_switch_prob")) var mixupSwitchProb: Double?
    @Option(help: "Label smoothing.") var smoothing: Double?
    @Option(name: .customLong("drop_path_rate")) var dropPathRate: Double?
    @Option(help: "Head dropout.") var dropout: Double?
    // model
    @Option(help: ArgumentHelp(ModelCatalog.helpText(kind: .classifier) + ".")) var model: String?
    @Option(name: .customLong("num_classes"), help: "Classes (default: number of class folders).") var numClasses: Int?
    @Option(name: .customLong("patch_size")) var patchSize: Int?
    @Option(name: .customLong("embed_dim"), help: "Model size override (0: the model's).") var embedDim: Int?
    @Option(help: "Model size override: blocks.") var depth: Int?
    @Option(name: .customLong("num_heads"), help: "Model size override: attention heads.") var numHeads: Int?
    @Option(name: .customLong("t_patch_size")) var tPatchSize: Int?
    @Flag(name: .customLong("cls_token"), help: "Classify from the cls token (default: global average pool).") var clsToken = false
    @Flag(name: .customLong("global_pool"), help: "Mean over the patch tokens, then the post-pool norm (the default; MAE's spelling).")
    var globalPool = false
    @Option(name: .customLong("sep_pos_embed"), help: "Learned separable positions (true, mae_st default) or one learned joint pos_embed (false).")
    var sepPosEmbed: Bool?
    @Flag(name: .customLong("no_sep_pos_embed"), help: "One learned joint pos_embed over space-time (mae_st sep_pos_embed false).")
    var noSepPosEmbed = false
    @Flag(name: .customLong("sincos_pos_embed"), help: "Fixed VideoMAE sinusoid positions (videomae_* models have them).")
    var sincosPosEmbed = false
    @Option(help: "Pre-trained checkpoint (stmae .json/.safetensors or PyTorch .pth); the head is re-initialised.")
    var finetune: String?
    @Option(help: "TimeSformer/ViViT from an image ViT (--finetune): patch kernel inflation, centre | average.") var inflation: String?
    @Option(name: .customLong("temporal_init"), help: "TimeSformer/ViViT from an image ViT: temporal attention copy | zero.") var temporalInit: String?
    // optimisation
    @Option(name: .customLong("batch_size")) var batchSize: Int?
    @Option(name: .customLong("accum_iter")) var accumIter: Int?
    @Option var epochs: Int?
    @Option(help: "Absolute lr (default: blr × batch_size × accum_iter × world_size × repeat_aug / 256, mae_st fine-tuning).") var lr: Double?
    @Option(help: "Base lr.") var blr: Double?
    @Option(name: .customLong("layer_decay")) var layerDecay: Double?
    @Option(name: .customLong("min_lr")) var minLr: Double?
    @Option(name: .customLong("warmup_epochs")) var warmupEpochs: Double?
    @Option(name: .customLong("weight_decay")) var weightDecay: Double?
    @Option(name: .customLong("clip_grad"), help: "Gradient-norm clip (0 = off).") var clipGrad: Double?
    @Flag(help: "bfloat16 autocast.") var bf16 = false
    // evaluation / run
    @Option(name: .customLong("num_temporal_views")) var numTemporalViews: Int?
    @Option(name: .customLong("num_spatial_crops"), help: "1 (centre) or 3 (left/centre/right).") var numSpatialCrops: Int?
    @Flag(name: .customLong("eval"), help: "Only evaluate (the --resume checkpoint).") var evalOnly = false
    @Option(name: .customLong("output_dir")) var outputDir: String?
    @Option(help: "Checkpoint (.json) to resume from.") var resume: String?
    @Option var seed: Int?
    @Option var threads: Int?
    @Option(name: .customLong("log_every")) var logEvery: Int?
    @Option(name: .customLong("max_steps"), help: "Stop after this many optimizer steps (checkpoint-last is written).") var maxSteps: Int?

    /// The config these flags describe, on top of `base`.
    func config(_ base: FinetuneConfig = FinetuneConfig()) -> FinetuneConfig {
        var c = base
        func set<T>(_ v: T?, _ path: WritableKeyPath<FinetuneConfig, T>) { if let v { c[keyPath: path] = v } }
        set(trainDir, \.trainDir); set(valDir, \.valDir); set(fracRetained, \.fracRetained); set(numFrames, \.numFrames)
        set(samplingRate, \.samplingRate); set(targetFps, \.targetFps); set(inputSize ?? imgSize, \.imgSize)
        set(shortSide, \.shortSide); set(repeatAug, \.repeatAug); set(numWorkers, \.numWorkers); set(randAug, \.randAug); set(flipProb, \.flipProb)
        set(reprob, \.reprob); set(mixup, \.mixup); set(cutmix, \.cutmix); set(mixupProb, \.mixupProb)
        set(mixupSwitchProb, \.mixupSwitchProb); set(smoothing, \.smoothing); set(dropPathRate, \.dropPathRate)
        set(dropout, \.dropout); set(model, \.model); set(numClasses, \.numClasses); set(patchSize, \.patchSize)
        set(embedDim, \.embedDim); set(depth, \.depth); set(numHeads, \.numHeads)
        set(tPatchSize, \.tPatchSize); set(finetune, \.finetune); set(inflation, \.inflation); set(temporalInit, \.temporalInit); set(batchSize, \.batchSize); set(accumIter, \.accumIter)
        set(epochs, \.epochs); set(lr, \.lr); set(blr, \.blr); set(layerDecay, \.layerDecay); set(minLr, \.minLr)
        set(warmupEpochs, \.warmupEpochs); set(weightDecay, \.weightDecay); set(clipGrad, \.clipGrad)
        set(numTemporalViews, \.numTemporalViews); set(numSpatialCrops, \.numSpatialCrops); set(outputDir, \.outputDir)
        set(resume, \.resume); set(seed, \.seed); set(threads, \.threads); set(logEvery, \.logEvery); set(maxSteps, \.maxSteps)
        if clsToken { c.globalPool = false }
        if globalPool { c.globalPool = true }
        set(sepPosEmbed, \.sepPosEmbed)
        if noSepPosEmbed { c.sepPosEmbed = false }
        if sincosPosEmbed { c.sincosPosEmbed = true }
        if bf16 { c.bf16 = true }
        if evalOnly { c.evalOnly = true }
        return c
    }
}

/// Runs fine-tuning (or, with `--eval`, evaluation) for a config; shared by the subcommands.
func runFinetune(_ c: FinetuneConfig) throws {
    if c.evalOnly { return try runEvaluate(c) }
    try c.validate()
    let data = try FinetuneData(c)
    RunLog.info("data: \(data.trainCount) training, \(data.valCount) validation \(c.images ? "images" : "videos"), \(data.numClasses) classes; "
        + "\(data.val.count) test view(s)")
    installStopHandlers()
    let f = try Finetuner(c, numClasses: data.numClasses)
    let s = try f.run(train: data.train!, val: data.val)
    if s.bestEpoch >= 0 {
        RunLog.info(String(format: "best val top-1 %.2f%% at epoch %d; checkpoints in %@", s.bestTop1, s.bestEpoch, c.outputDir))
    }
}

/// Multi-view evaluation of a checkpoint: prints top-1/top-5/per-class accuracy, writes eval.json and confusion.png.
func runEvaluate(_ c: FinetuneConfig) throws {
    var c = c
    c.evalOnly = true
    guard !c.resume.isEmpty else { throw ValidationError("--resume CHECKPOINT is required for evaluation") }
    try c.validate()
    let data = try FinetuneData(c, needTrain: false)
    guard !data.val.isEmpty else { throw ValidationError("--val_dir: no validation data to evaluate") }
    let f = try Finetuner(c, numClasses: data.numClasses)
    if c.bf16 { try BF16Weights.convertForInference(f.model) }  // bf16 weights once instead of a cast per batch
    let t0 = Date()
    let r = try evaluateViews(f.model, feeds: data.val, numClasses: data.numClasses, bf16: c.bf16)
    let secs = Date().timeIntervalSince(t0)
    print(String(format: "%d \(c.images ? "images" : "videos") × %d views: top-1 %.2f%%  top-5 %.2f%%  mean class acc %.2f%%  loss %.4f  (%.1f s)",
                 r.count, r.views, r.top1, r.top5, r.meanClassAccuracy, r.loss, secs))
    let width = data.classNames.map(\.count).max() ?? 0
    for (i, acc) in r.perClass.enumerated() {
        let name = data.classNames[i]
        print("  " + name + String(repeating: " ", count: width - name.count) + String(format: "  %6.2f%%", acc))
    }
    try FileManager.default.createDirectory(atPath: c.outputDir, withIntermediateDirectories: true)
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    struct Report: Encodable { let top1, top5, meanClassAccuracy, loss: Double; let perClass: [Double]; let classNames: [String]; let result: EvalResult }
    let rep = Report(top1: r.top1, top5: r.top5, meanClassAccuracy: r.meanClassAccuracy, loss: r.loss.isFinite ? r.loss : -1,
                     perClass: r.perClass.map { $0.isNaN ? -1 : $0 }, classNames: data.classNames, result: r)
    try atomicWrite(enc.encode(rep), to: c.outputDir + "/eval.json")
    try ConfusionPlot.write(r, to: c.outputDir + "/confusion.png")
    RunLog.info("wrote \(c.outputDir)/eval.json and \(c.outputDir)/confusion.png")
}
