import Foundation
import Datasets
import Models
import NN
import Torch

/// A fine-tuning checkpoint's JSON sidecar (weights + AdamW state next to it, see `Checkpoint`).
public struct FinetuneCheckpointState: CheckpointSidecar {
    public var format = "stmae-finetune-checkpoint-v1"
    public var config: FinetuneConfig
    public var numClasses: Int
    /// The class list the run was trained with (label i = classNames[i]); nil in checkpoints from before it was kept.
    public var classNames: [String]?
    public var state: FinetuneState
    public var weights = ""
    public var optimizer = ""
    /// `--fp16`: the loss scaler's scale and growth tracker (nil otherwise).
    public var gradScaler: GradScalerState? = nil
    public static var configDefaults: [String: Any] { jsonObject(FinetuneConfig()) }
    /// Before mae_st's `--rand_aug` switch, `rand_aug` held the policy ("" = off): now `rand_aug` + `aa`.
    public static func upgradeSaved(_ config: [String: Any]) -> [String: Any] {
        guard let policy = config["rand_aug"] as? String else { return config }
        var c = config
        c["rand_aug"] = !policy.isEmpty
        if !policy.isEmpty { c["aa"] = policy }
        return c
    }
}

/// The ViT classifier a config describes (a catalogue name: mae_st's `vit_*` / `mae_vit_*`, HF-VideoMAE's
/// `videomae_vit_*`) with its size flags. `fcNorm`: see `ViTConfig.fcNorm` (`Finetuner` picks it from the weights it
/// starts from).
public func classifierConfig(_ c: FinetuneConfig, numClasses: Int, fcNorm: Bool = true) throws -> ViTConfig {
    var v = try ViTConfig.named(c.model)
    v.numFrames = c.numFrames; v.imgSize = c.imgSize; v.tPatchSize = c.tPatchSize
    if c.patchSize > 0 { v.patchSize = c.patchSize }
    if c.embedDim > 0 { v.embedDim = c.embedDim }
    if c.depth > 0 { v.depth = c.depth }
    if c.numHeads > 0 { v.numHeads = c.numHeads }
    try checkModelSizes(
        embedDim: v.embedDim, numHeads: v.numHeads, imgSize: c.imgSize, patchSize: v.patchSize,
        numFrames: c.numFrames, tPatchSize: v.tPatchSize)
    if ModelCatalog.entry(c.model, for: .classifier)?.family != .videoMAE {
        (v.clsEmbed, v.sepPosEmbed, v.sincosPosEmbed) = (c.clsEmbed, c.sepPosEmbed, c.sincosPosEmbed)
    }
    v.globalPool = c.globalPool || !v.clsEmbed
    v.numClasses = numClasses; v.dropPathRate = c.dropPathRate; v.dropout = c.dropout; v.fcNorm = fcNorm
    return v
}

/// The weights of `--finetune` in mae_st keys: an stmae checkpoint (.json sidecar or .safetensors), a mae_st / PyTorch
/// `.pth`, or a Hugging Face VideoMAE directory; errors name the flag and file.
public func readPretrained(_ path: String) throws -> [(String, Tensor)] {
    guard FileManager.default.fileExists(atPath: path) else {
        throw ConfigError("--finetune \(path): no such file or directory")
    }
    do { return try Weights.read(path) } catch { throw ConfigError("--finetune \(path): \(error)") }
}

/// Loads pre-trained weights (`--finetune`) with `VisionTransformer.loadPretrained` (Models): decoder, mask token
/// and unused norms are dropped, positions resized to the grid, a head of another size replaced by a fresh one
/// (trunc-normal `headInitStd`, from `generator`: `Finetuner` passes its seeded one); any other mismatch is an
/// error naming the file. The weights do not fix the head count: when the checkpoint records one (`Weights.settings`)
/// or its sizes are a standard model's, a model with another count is an error that names `--num_heads`.
/// `normAsFcNorm`: the checkpoint's `norm` becomes `fc_norm` (see `loadPretrained`).
public func loadPretrained(
    _ path: String, into model: VisionTransformer, headInitStd: Double,
    normAsFcNorm: Bool = false, generator: Generator? = nil
) throws -> PretrainedLoadReport {
    try loadPretrained(
        readPretrained(path), path: path, into: model, headInitStd: headInitStd,
        normAsFcNorm: normAsFcNorm, generator: generator)
}

func loadPretrained(
    _ state: [(String, Tensor)], path: String, into model: VisionTransformer, headInitStd: Double,
    normAsFcNorm: Bool = false, generator: Generator? = nil
) throws -> PretrainedLoadReport {
    let recorded: Int?
    do { recorded = try Weights.settings(path).numHeads } catch { throw ConfigError("--finetune \(path): \(error)") }
    let c = model.config
    let source = try? ViTConfig.inferred(from: state, numHeads: recorded, source: path)
    if let source, source.embedDim == c.embedDim, source.numHeads != c.numHeads {
        throw ConfigError(
            "--finetune \(path): the checkpoint's encoder has \(source.numHeads) attention heads "
                + "(\(recorded != nil ? "recorded" : "its standard size's")), the model \(c.numHeads): "
                + "pass --num_heads \(source.numHeads)"
        )
    }
    do {
        return try model.loadPretrained(
            state, source: "--finetune \(path)", headInitStd: headInitStd,
            normAsFcNorm: normAsFcNorm, generator: generator)
    } catch { throw ConfigError("--finetune \(path): \(error)") }
}

/// mae_st `main_finetune` / MAE `main_linprobe`: model, layer-decay AdamW, cosine schedule, resume, epochs with
/// validation, best checkpoint.
public final class Finetuner {
    public let config: FinetuneConfig
    public let numClasses: Int
    /// Label i's name (from the training data), saved in every checkpoint.
    public let classNames: [String]
    /// A ViT (`VisionTransformer`) or a TimeSformer / ViViT, by `--model`.
    public let model: any ClipClassifier
    public let optimizer: AdamW
    /// `--fp16`: the dynamic loss scale (`GradScaler`), saved in checkpoints.
    public let scaler: GradScaler?
    public let lr: Double
    /// How `lr` was found (the rule with its numbers), logged at the start of `run`.
    public let lrRule: String
    public let log: RunLog
    public private(set) var state = FinetuneState()
    public var onEpoch: ((FinetuneState, EvalResult?) -> Void)?
    /// This process's rank (seeds, see `FinetuneRandom`); rank 0 writes checkpoints and logs.
    public let rank: Int
    /// Data parallelism (`DataParallel`); the caller also broadcasts rank 0's parameters before `run`.
    public var gradientSync: any GradientSync = LocalGradientSync()
    /// Data parallelism: the ranks' stop requests combined each step (see `stopAgreed`), so all stop after one step.
    public var stopVote: StopVote?
    /// `--dist_eval`: sums of each rank's validation counts over ranks (`ProcessGroup.allReduceSum`); every rank
    /// evaluates its shard. nil: this process evaluates what `run` is given (rank 0 all of it, the others nothing).
    public var sumOverRanks: (([Double]) throws -> [Double])?

    public init(
        _ config: FinetuneConfig, numClasses: Int, classNames: [String] = [], worldSize: Int = 1,
        rank: Int = 0
    ) throws {
        try config.validate()
        guard numClasses > 0 else { throw ConfigError("--num_classes must be positive, got \(numClasses)") }
        self.config = config
        self.numClasses = numClasses
        self.classNames = classNames
        self.rank = rank
        if config.threads > 0 { try Runtime.setNumThreads(config.threads) }
        // mae_st `main_finetune.main`: torch.manual_seed(seed + rank). stmae's own draws do not use that process-wide
        // generator: the model's init and a fresh head come from `initGenerator`, the rest see `FinetuneRandom`.
        try Runtime.manualSeed(FinetuneRandom.key(config.seed + rank))
        let initGenerator = try Generator(seed: FinetuneRandom.key(config.seed))
        log = try RunLog(dir: config.logDirectory, enabled: !config.evalOnly && rank == 0, lossTag: "loss")
        // The weights this run starts from: the checkpoint to resume, else the pre-trained `--finetune` one.
        var resumed: (state: FinetuneCheckpointState, weights: [(String, Tensor)], dir: String)? = nil
        if !config.resume.isEmpty {
            let (s, dir) = try Checkpoint.loadSidecar(config.resume, as: FinetuneCheckpointState.self)
            guard s.numClasses == numClasses else {
                throw ConfigError(
                    "--resume \(config.resume): checkpoint has \(s.numClasses) classes, the data \(numClasses)")
            }
            resumed = (s, try TensorFile.loadOrdered(dir + "/" + s.weights).tensors, dir)
        }
        let isViT = (ModelCatalog.entry(config.model, for: .classifier)?.loading ?? .vitEncoder) == .vitEncoder
        let pretrained = resumed == nil && isViT && !config.finetune.isEmpty ? try readPretrained(config.finetune) : nil
        // mae_st's classifier pools and then applies `norm`, which its fine-tuning loads from the MAE encoder's `norm`;
        // a `fc_norm` (image MAE, HF, stmae before this layout) only where the starting weights carry one.
        let keys = Set((resumed?.weights ?? pretrained ?? []).map(\.0))
        let fcNorm = keys.isEmpty || keys.contains("fc_norm.weight") || !keys.contains("norm.weight")
        model = try makeClassifier(config, numClasses: numClasses, fcNorm: fcNorm, generator: initGenerator)
        if resumed == nil, !config.finetune.isEmpty {
            // MAE: fresh head std 2e-5 for fine-tuning, 0.01 for the linear probe.
            let std = config.linearProbe ? 0.01 : 2e-5
            if let vit = model as? VisionTransformer, let pretrained {
                let r = try loadPretrained(
                    pretrained, path: config.finetune, into: vit, headInitStd: std,
                    generator: initGenerator)
                RunLog.info("--finetune \(config.finetune): \(r)")
            } else {
                RunLog.info(
                    try loadFamilyPretrained(
                        config.finetune, into: model, inflation: config.patchInflation,
                        temporal: config.temporalInitMode, headInitStd: std,
                        generator: initGenerator))
            }
        }
        // built and initialised on the CPU (the same weights on every device), then moved; a resumed checkpoint's CPU
        // tensors are copied onto the device below (map_location)
        try model.move(to: config.device)
        let groups: [ParamGroup]
        if config.linearProbe {
            try model.setRequiresGrad(false)
            try model.setRequiresGrad(true) { $0.hasPrefix("head.") }
            groups = paramGroups(model.namedParameters(), weightDecay: 0)
        } else {
            let m = model
            groups = paramGroups(
                m.namedParameters(), weightDecay: config.weightDecay, skip: m.noWeightDecay,
                layerDecay: config.layerDecay, numLayers: m.numLayers
            ) { m.layerId($0) }
        }
        (lr, lrRule) = config.learningRate(worldSize: worldSize)
        optimizer = AdamW(groups, lr: lr)
        scaler = config.fp16 && !config.evalOnly ? try GradScaler() : nil
        if let resumed {
            if let scaler, let saved = resumed.state.gradScaler { try scaler.load(saved) }
            try model.loadStateDict(Dictionary(resumed.weights, uniquingKeysWith: { a, _ in a }))
            if !config.evalOnly {
                try optimizer.loadStateDict(TensorFile.load(resumed.dir + "/" + resumed.state.optimizer))
            }
            state = resumed.state.state
            log.step = state.step  // summaries written before the first new step sit at the resumed step
            RunLog.info(
                "resumed from \(config.resume): epoch \(state.epoch), batch \(state.nextBatch), step \(state.step)")
        }
    }

    /// Trains until `epochs` (or a stop request), validating after every epoch; returns the final state.
    @discardableResult
    public func run(train: ClipFeed, val: [ClipFeed]) throws -> FinetuneState {
        let c = config
        let schedule = CosineSchedule(lr: lr, minLR: c.minLr, warmupEpochs: c.warmupEpochs, epochs: Double(c.epochs))
        RunLog.info(
            String(
                format: "%@ %@: %.2fM parameters (%d trained); %@; %d batches/epoch",
                c.linearProbe ? "linear probe" : "fine-tune", c.model, Double(model.parameterCount) / 1e6,
                optimizer.groups.reduce(0) { $0 + $1.params.reduce(0) { $0 + $1.count } }, lrRule, train.batchesPerEpoch
            ))
        let stop = StopCondition(vote: stopVote, startStep: state.step, maxSteps: c.maxSteps)
        var ctx = FinetuneContext(
            model: model, optimizer: optimizer, schedule: schedule, config: c,
            numClasses: numClasses, log: log, shouldStop: { stop(step: $0.step) }, gradientSync: gradientSync,
            rank: rank, stochastic: StochasticModules(model), scaler: scaler)
        // bf16 on the CPU in one process: matmuls on bf16 weight copies the loop refreshes (DDP's hooks sit on the
        // fp32 weights); other devices cast at use (autocast)
        let copies = c.bf16 && c.device == .cpu && gradientSync.isLocal ? try BF16Weights(model) : nil
        defer { copies?.remove() }
        ctx.bf16Weights = copies
        while state.epoch < c.epochs {
            model.train()
            if c.linearProbe { model.eval() }  // frozen encoder: no drop path / dropout in the features
            let t0 = DispatchTime.now()
            guard try trainOneEpochFinetune(ctx, feed: train, state: &state) else {
                try stop.rethrow()
                let path = try save(name: c.savePrefix + "checkpoint-last")
                if rank == 0 {
                    RunLog.info(state.stoppedLine(checkpoint: path))
                }
                return state
            }
            let secs = seconds(since: t0)
            let loss = state.epochLoss(batchesPerEpoch: train.batchesPerEpoch, accumIter: c.accumIter)
            var result: EvalResult? = nil
            if !val.isEmpty {
                // rank 0's line (with --dist_eval its shard's batches; the others evaluate theirs silently)
                let batches = val.map(\.batchesPerEpoch).reduce(0, +)
                let progress = rank == 0 ? ProgressLine("validation", total: batches, unit: "batches") : nil
                let r = try evaluateViews(
                    model, feeds: val, numClasses: numClasses, bf16: c.bf16, fp16: c.fp16, device: c.device,
                    sumOverRanks: sumOverRanks, progress: progress)
                progress?.finish(batches)
                state.valTop1.append(r.top1)
                if r.top1 > state.bestTop1 { state.bestTop1 = r.top1; state.bestEpoch = state.epoch }
                result = r
            }
            log.write([
                "type": "epoch", "epoch": state.epoch, "loss": loss, "seconds": secs, "step": state.step,
                "val_top1": result?.top1 ?? -1, "val_top5": result?.top5 ?? -1, "val_loss": result?.loss ?? -1
            ])
            if rank == 0 {  // rank 0's validation (all of it, or with --dist_eval every rank's summed)
                RunLog.progress(
                    String(
                        format: "epoch %d done: loss %.4f, %.1f s%@", state.epoch, loss, secs,
                        result.map {
                            String(
                                format: "; val top-1 %.1f%% top-5 %.1f%% (best %.1f%%)", $0.top1, $0.top5,
                                state.bestTop1)
                        } ?? ""),
                    final: true)
            }
            let improved = result != nil && state.bestEpoch == state.epoch
            state.epoch += 1
            state.nextBatch = 0
            try save(name: c.savePrefix + "checkpoint-last")
            if improved { try save(name: c.savePrefix + "checkpoint-best") }
            if rank == 0 { writePictures(result, epoch: state.epoch - 1) }
            onEpoch?(state, result)
        }
        return state
    }

    /// Writes checkpoint `name` (weights, optimizer, sidecar) into the output directory; returns the JSON path.
    @discardableResult
    public func save(name: String) throws -> String {
        guard rank == 0 else { return config.outputDir + "/" + name + ".json" }
        let s = FinetuneCheckpointState(
            config: config, numClasses: numClasses, classNames: classNames.isEmpty ? nil : classNames,
            state: state, gradScaler: try scaler?.state())
        return try Checkpoint.save(dir: config.outputDir, name: name, model: model, optimizer: optimizer, state: s)
    }
}
