import Datasets
import Foundation
import Models
import NN
import Torch

/// Video pre-training (mae_st's `main_pretrain`): model (MAE-ST or MaskFeat, see `PretrainConfig.makeModel`),
/// optimizer, schedule, resume, epochs, checkpoints.
public final class Pretrainer {
    public let config: PretrainConfig
    public let model: any PretrainModel
    public let optimizer: AdamW
    public let generator: Generator
    /// `--fp16`: the dynamic loss scale (`GradScaler`), saved in checkpoints.
    public let scaler: GradScaler?
    public private(set) var state = TrainState()
    public let log: RunLog
    public let lr: Double
    /// How `lr` was found (the rule with its numbers), logged at the start of `run`.
    public let lrRule: String
    /// Rank 0 writes checkpoints and logs (data-parallel runs).
    public var isMain = true
    public var onStep: ((TrainState, Double) -> Void)?
    /// Data parallelism (`DataParallel`); the caller also broadcasts rank 0's parameters before `run`.
    public var gradientSync: any GradientSync = LocalGradientSync()
    /// Data parallelism: the ranks' stop requests combined each step (see `stopAgreed`), so all stop after one step.
    public var stopVote: StopVote?

    public init(_ config: PretrainConfig, worldSize: Int = 1, rank: Int = 0) throws {
        try config.validate()
        self.config = config
        if config.threads > 0 { try Runtime.setNumThreads(config.threads) }
        isMain = rank == 0
        log = try RunLog(dir: config.logDirectory, enabled: rank == 0, lossTag: "train_loss")
        // mae_st `main_pretrain.main`: torch.manual_seed(seed + rank)
        try Runtime.manualSeed(UInt64(config.seed + rank))
        let initGen = try Generator(seed: UInt64(config.seed))
        model = try config.makeModel(generator: initGen)  // on the CPU: the same initial weights on every device
        try model.move(to: config.device)
        let groups = paramGroups(
            model.namedParameters(), weightDecay: config.weightDecay, skip: config.weightDecaySkip(model),
            decay1D: config.biasWd)
        (lr, lrRule) = config.learningRate(worldSize: worldSize)
        optimizer = AdamW(groups, lr: lr, betas: (config.beta1, config.beta2))
        generator = try Generator(seed: UInt64(config.seed) &+ 1 &+ UInt64(rank) &* 1000)
        scaler = config.fp16 ? try GradScaler() : nil
        if !config.resume.isEmpty {
            let (s, dir): (CheckpointState, String)
            do { (s, dir) = try Checkpoint.load(config.resume) } catch { throw ConfigError("--resume \(error)") }
            // map_location: the saved CPU tensors are copied onto the model's and optimizer's device
            try Checkpoint.restore(s, dir: dir, model: model, optimizer: optimizer, generator: generator)
            if let scaler, let saved = s.gradScaler { try scaler.load(saved) }
            state = TrainState(epoch: s.epoch, nextBatch: s.nextBatch, step: s.step, lossHistory: s.lossHistory)
            log.step = s.step  // summaries written before the first new step sit at the resumed step
            RunLog.info("resumed from \(config.resume): epoch \(s.epoch), batch \(s.nextBatch), step \(s.step)")
        }
    }

    /// Trains until `epochs` (or a stop request); returns the final state.
    @discardableResult
    public func run(feed: ClipFeed) throws -> TrainState {
        let c = config
        let schedule = CosineSchedule(lr: lr, minLR: c.minLr, warmupEpochs: c.warmupEpochs, epochs: Double(c.epochs))
        let peak = try measurePeakGFLOPs(bf16: c.bf16, device: c.device)
        let flops = try c.trainFlopsPerClip()
        if isMain {
            RunLog.info(
                String(
                    format:
                        "model %@: %.2fM parameters; %@; %.1f GFLOP/clip/step; "
                        + "GEMM peak %.0f GFLOP/s; %d batches/epoch",
                    c.model, Double(model.parameterCount) / 1e6, lrRule, flops / 1e9, peak, feed.batchesPerEpoch))
        }
        let stop = StopCondition(vote: stopVote, startStep: state.step, maxSteps: c.maxSteps)
        var ctx = PretrainContext(
            model: model, optimizer: optimizer, schedule: schedule, generator: generator, config: c, log: log,
            flopsPerClip: flops, peakGFLOPs: peak,
            shouldStop: { stop(step: $0.step) },
            onStep: onStep, gradientSync: gradientSync, scaler: scaler)
        // bf16 on the CPU in one process: the matmuls use bf16 weight copies the loop refreshes (DDP's hooks sit on
        // the fp32 weights); other devices cast at use (autocast)
        let copies = c.bf16 && c.device == .cpu && gradientSync.isLocal ? try BF16Weights(model) : nil
        defer { copies?.remove() }
        ctx.bf16Weights = copies
        model.train()
        while state.epoch < c.epochs {
            let t0 = DispatchTime.now()
            let done = try trainOneEpoch(ctx, feed: feed, state: &state)
            if !done {
                try stop.rethrow()
                if isMain {
                    let path = try save(name: c.savePrefix + "checkpoint-last")
                    RunLog.info(state.stoppedLine(checkpoint: path))
                }
                return state
            }
            let secs = seconds(since: t0)
            let epochLoss = state.epochLoss(batchesPerEpoch: feed.batchesPerEpoch, accumIter: c.accumIter)
            log.write([
                "type": "epoch", "epoch": state.epoch, "loss": epochLoss, "lr": optimizer.lr, "seconds": secs,
                "step": state.step
            ])
            if isMain {
                RunLog.progress(
                    String(format: "epoch %d done: mean loss %.4f, %.1f s", state.epoch, epochLoss, secs), final: true)
            }
            let finished = state.epoch
            state.epoch += 1
            state.nextBatch = 0
            if isMain, state.epoch % max(c.checkpointPeriod, 1) == 0 || state.epoch == c.epochs {
                try save(name: c.savePrefix + String(format: "checkpoint-%05d", finished))
                Checkpoint.prune(dir: c.outputDir, prefix: c.savePrefix, keep: c.numCheckpointDel)
            }
            if isMain { writePictures(feed: feed, epoch: finished) }
        }
        return state
    }

    /// Writes a checkpoint of the current state; returns its JSON path.
    @discardableResult
    public func save(name: String) throws -> String {
        let s = CheckpointState(
            config: config, epoch: state.epoch, nextBatch: state.nextBatch, step: state.step,
            generatorState: Data(try generator.state()).base64EncodedString(), weights: "", optimizer: "",
            lossHistory: state.lossHistory, gradScaler: try scaler?.state())
        return try Checkpoint.save(dir: config.outputDir, name: name, model: model, optimizer: optimizer, state: s)
    }
}
