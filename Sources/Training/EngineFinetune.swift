import Foundation
import Datasets
import Models
import NN
import Torch

/// What fine-tuning needs from a video classifier (the `VisionTransformer` of Models conforms).
public protocol ClipClassifier: Module {
    /// x: [N, 3, T, H, W] → logits [N, num_classes] (head dropout active in training mode).
    func callAsFunction(_ x: Tensor) throws -> Tensor
    /// x: [N, 3, T, H, W] → pooled features [N, D] (before head dropout and head).
    func forwardFeatures(_ x: Tensor) throws -> Tensor
    /// The classification head (`head.weight`, `head.bias`).
    var head: Linear { get }
    /// mae_st's `num_layers` for layer-wise lr decay: `lr_scale = decay^(numLayers − layerId(key))`.
    var numLayers: Int { get }
    /// The layer a parameter belongs to: 0 (embeddings) … numLayers (final norm, head).
    func layerId(_ key: String) -> Int
    /// Parameter keys without weight decay besides 1-D tensors and biases (`no_weight_decay`).
    var noWeightDecay: Set<String> { get }
}

extension VisionTransformer: ClipClassifier {
    public var numLayers: Int { config.depth + 1 }
    public func layerId(_ key: String) -> Int { VisionTransformer.layerId(key, depth: config.depth) }
}

/// Progress of a fine-tuning run, saved in checkpoints. `epoch` and `nextBatch` also key every random stream still to
/// come (`FinetuneRandom`), so a resumed run draws what the uninterrupted one would have.
public struct FinetuneState: Codable, Equatable {
    public var epoch = 0
    public var nextBatch = 0
    public var step = 0
    public var lossHistory: [Double] = []
    public var valTop1: [Double] = []
    public var bestTop1 = -1.0
    public var bestEpoch = -1
    public init() {}
}

/// Everything one fine-tuning epoch needs.
public struct FinetuneContext {
    public let model: ClipClassifier
    public let optimizer: AdamW
    public let schedule: CosineSchedule
    public let config: FinetuneConfig
    public let numClasses: Int
    public let log: RunLog
    public let shouldStop: (FinetuneState) -> Bool
    /// bf16 compute copies of the Linear weights (`--bf16`; see `BF16Weights`).
    public var bf16Weights: BF16Weights? = nil
    /// Gradients of each step: this process's own, or averaged over ranks (`DataParallel`).
    public var gradientSync: any GradientSync = LocalGradientSync()
    /// This process's rank: part of every per-batch seed (`FinetuneRandom`).
    public var rank = 0
    /// Drop path / dropout modules of `model`, which draw from the generator of each batch (`FinetuneRandom`).
    public var stochastic: StochasticModules? = nil
    /// `--fp16`: dynamic loss scaling.
    public var scaler: GradScaler? = nil
}

/// A batch ready for a fine-tuning step: clips [N, 3, T, H, W] and targets (class indices [N], or mixup's soft
/// targets [N, classes]) on the device.
public struct FinetuneInput {
    public let index: Int
    public let x: Tensor
    public let target: Tensor
    public let soft: Bool
}

/// Mixup/cutmix (on the host floats, from the batch's own seed) and the copy to the device (`upload`).
public func finetuneInput(_ ctx: FinetuneContext, batch: ClipBatch, epoch: Int, upload: DeviceUpload) throws
    -> FinetuneInput
{
    let c = ctx.config
    var data = batch.data
    if let mix = c.mixupConfig(numClasses: ctx.numClasses) {
        var rng = FinetuneRandom.mixup(seed: c.seed, rank: ctx.rank, epoch: epoch, batch: batch.index)
        let soft = try Mixup.apply(mix, data: &data, shape: batch.shape, labels: batch.labels, rng: &rng).targets
        let target = try Tensor(soft, shape: [batch.labels.count, ctx.numClasses]).to(upload.device)
        return FinetuneInput(index: batch.index, x: try upload(data, shape: batch.shape), target: target, soft: true)
    }
    if let bad = batch.labels.first(where: { $0 < 0 || $0 >= ctx.numClasses }) {
        throw ConfigError("label \(bad) is outside 0..<\(ctx.numClasses) (--num_classes)")
    }
    return FinetuneInput(
        index: batch.index, x: try upload(data, shape: batch.shape), target: try upload.labels(batch.labels),
        soft: false)
}

/// The loss of one batch (mae_st `train_one_epoch`): mixup/cutmix → soft-target CE; else label-smoothing CE.
/// Linear probe: features computed without gradients, only the head is trained.
public func finetuneLoss(_ ctx: FinetuneContext, batch: ClipBatch, epoch: Int) throws -> Tensor {
    let upload = DeviceUpload(device: ctx.config.device, pin: ctx.config.pinMem)
    return try finetuneLoss(ctx, input: finetuneInput(ctx, batch: batch, epoch: epoch, upload: upload), epoch: epoch)
}

/// The loss of a prepared batch (`finetuneInput`); drop path / dropout draw from the batch's own generator.
public func finetuneLoss(_ ctx: FinetuneContext, input: FinetuneInput, epoch: Int) throws -> Tensor {
    let c = ctx.config
    if let s = ctx.stochastic, !s.isEmpty {
        s.draw(from: try FinetuneRandom.generator(seed: c.seed, rank: ctx.rank, epoch: epoch, batch: input.index))
    }
    let x = input.x
    let logits: Tensor = try c.autocast {
        if c.linearProbe {
            let f = try withNoGrad { try ctx.model.forwardFeatures(x).detach() }
            return try ctx.model.head(f)
        }
        return try ctx.model(x)
    }.to(.float32)
    if input.soft { return try crossEntropy(logits, input.target) }
    return try crossEntropy(logits, input.target, labelSmoothing: c.smoothing)
}

/// One epoch from `state.nextBatch`: per-iteration lr, loss / accum_iter, clip_grad, AdamW step.
/// False if stopped early.
public func trainOneEpochFinetune(_ ctx: FinetuneContext, feed: ClipFeed, state: inout FinetuneState) throws -> Bool {
    let c = ctx.config, n = feed.batchesPerEpoch
    var window = 0.0, windowSteps = 0, t0 = DispatchTime.now()
    var steps = StepAccumulator(
        ctx.optimizer, sync: ctx.gradientSync, scaler: ctx.scaler, bf16Weights: ctx.bf16Weights, config: c,
        log: ctx.log, batchesPerEpoch: n)
    let upload = DeviceUpload(device: c.device, pin: c.pinMem), epoch = state.epoch
    let batches = BatchPrefetcher(
        try feed.batches(epoch: state.epoch, startBatch: state.nextBatch), depth: c.device.isCUDA ? 1 : 0
    ) { try finetuneInput(ctx, batch: $0, epoch: epoch, upload: upload) }
    let progress = ProgressLine("epoch \(state.epoch)", total: n, unit: "batches", initial: state.nextBatch)
    var detail = ""  // the last log window's numbers
    while let next = try batches.next() {
        steps.wait.add(batches.lastWait)
        let it = next.batch.index
        if it % c.accumIter == 0 {
            ctx.optimizer.lr = ctx.schedule.lr(at: Double(it) / Double(n) + Double(state.epoch))
        }
        let loss = try finetuneLoss(ctx, input: next.prepared, epoch: state.epoch)
        _ = try steps.backward(loss, batch: it, epoch: state.epoch)
        state.nextBatch = it + 1
        progress.update(it + 1, detail: detail)
        guard let acc = try steps.step(after: it, state: &state) else { continue }
        window += acc; windowSteps += 1
        if state.step % max(c.logEvery, 1) == 0 || it + 1 == n {
            let secs = seconds(since: t0)
            ctx.log.write([
                "type": "throughput", "step": state.step, "s_per_step": secs / Double(max(windowSteps, 1)),
                "clips_per_s": Double(windowSteps * c.accumIter * next.batch.shape[0]) / max(secs, 1e-9)
            ])
            detail = String(
                format: "step %d  loss %.4f  lr %.3e  %.2f s/step", state.step, window / Double(max(windowSteps, 1)),
                ctx.optimizer.lr, secs / Double(max(windowSteps, 1)))
            progress.update(it + 1, detail: detail, force: true)
            window = 0; windowSteps = 0; t0 = DispatchTime.now()
        }
        if ctx.shouldStop(state) { return false }
    }
    return true
}

/// Evaluates every view feed (one per temporal × spatial view) and averages the softmax per video. `sumOverRanks`
/// (`--dist_eval`): the feeds hold this rank's shard of the videos; the counts are summed over ranks (`summed`).
/// `progress`: updated after every batch (batches done over all feeds, clips/s).
public func evaluateViews(
    _ model: ClipClassifier, feeds: [ClipFeed], numClasses: Int,
    bf16: Bool, fp16: Bool = false, device: Device = .cpu, sumOverRanks: (([Double]) throws -> [Double])? = nil,
    progress: ProgressLine? = nil
) throws -> EvalResult {
    let upload = DeviceUpload(device: device)
    let half: DType? = bf16 ? .bfloat16 : fp16 ? .float16 : nil
    let wasTraining = model.training
    model.eval()
    defer { model.train(wasTraining) }
    var agg = ViewAggregator(numClasses: numClasses)
    var lossSum = 0.0, lossCount = 0, batches = 0, clips = 0
    let t0 = Date()
    try withNoGrad {
        for feed in feeds {
            try feed.forEach(epoch: 0, startBatch: 0) { batch in
                let x = try upload(batch.data, shape: batch.shape)
                let logits = try withAutocast(half ?? .bfloat16, device: device, enabled: half != nil) {
                    try model(x)
                }.to(.float32)
                let labelled = batch.labels.allSatisfy { (0 ..< numClasses).contains($0) }
                let loss = labelled ? try crossEntropy(logits, upload.labels(batch.labels)) : nil
                let probs = try softmax(logits, dim: -1)
                guard device.holdsValues else { return true }  // meta: shapes only, no values to count
                if let loss {
                    lossSum += try loss.item() * Double(batch.labels.count)
                    lossCount += batch.labels.count
                }
                agg.add(probs: try probs.toArray(Float.self), samples: batch.sampleIndices, labels: batch.labels)
                batches += 1; clips += batch.shape[0]
                progress?.update(
                    batches, detail: String(format: "%.1f clips/s", Double(clips) / -t0.timeIntervalSinceNow))
                return true
            }
        }
    }
    var r = agg.result()
    if let sumOverRanks { (r, lossSum, lossCount) = try r.summed(lossSum: lossSum, lossCount: lossCount, sumOverRanks) }
    r.loss = lossCount > 0 ? lossSum / Double(lossCount) : .nan
    return r
}
