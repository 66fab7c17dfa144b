import Datasets
import Foundation
import Models
import NN
import Torch

/// Mutable progress of a run, saved in checkpoints.
public struct TrainState {
    public var epoch = 0
    public var nextBatch = 0
    public var step = 0
    public var lossHistory: [Double] = []
}

/// Everything one epoch needs.
public struct PretrainContext {
    public let model: any PretrainModel
    public let optimizer: AdamW
    public let schedule: CosineSchedule
    public let generator: Generator
    public let config: PretrainConfig
    public let log: RunLog
    public let flopsPerClip: Double
    public let peakGFLOPs: Double
    /// Polled after every optimizer step; true stops the epoch early (SIGINT, max steps).
    public let shouldStop: (TrainState) -> Bool
    /// Called after every optimizer step (tests, logging).
    public var onStep: ((TrainState, Double) -> Void)? = nil
    /// Gradients of each step: this process's own, or averaged over ranks (`DataParallel`).
    public var gradientSync: any GradientSync = LocalGradientSync()
    /// `--fp16`: dynamic loss scaling.
    public var scaler: GradScaler? = nil
    /// bf16 compute copies of the Linear weights (bf16 runs in one process; see `BF16Weights`).
    public var bf16Weights: BF16Weights? = nil
}

/// Trains one epoch from `state.nextBatch`, as mae_st's `train_one_epoch`: per-iteration lr from the schedule,
/// loss / accum_iter, optimizer step every accum_iter batches with gradient clipping. Returns false if stopped early.
public func trainOneEpoch(_ ctx: PretrainContext, feed: ClipFeed, state: inout TrainState) throws -> Bool {
    let c = ctx.config
    let n = feed.batchesPerEpoch
    var windowLoss = 0.0, windowClips = 0, windowStart = DispatchTime.now()
    var steps = StepAccumulator(
        ctx.optimizer, sync: ctx.gradientSync, scaler: ctx.scaler, bf16Weights: ctx.bf16Weights, config: c,
        log: ctx.log, batchesPerEpoch: n)
    let upload = DeviceUpload(device: c.device, pin: c.pinMem)
    let batches = BatchPrefetcher(
        try feed.batches(epoch: state.epoch, startBatch: state.nextBatch), depth: c.device.isCUDA ? 1 : 0
    ) { try upload($0.data, shape: $0.shape) }
    let progress = ProgressLine("epoch \(state.epoch)", total: n, unit: "batches", initial: state.nextBatch)
    var detail = ""  // the last log window's numbers
    while let next = try batches.next() {
        let (batch, x) = (next.batch, next.prepared)
        steps.wait.add(batches.lastWait)
        let it = batch.index
        if it % c.accumIter == 0 {
            ctx.optimizer.lr = ctx.schedule.lr(at: Double(it) / Double(n) + Double(state.epoch))
        }
        let loss = try c.autocast { try ctx.model.pretrainLoss(x, generator: ctx.generator) }
        windowLoss += try steps.backward(loss, batch: it, epoch: state.epoch)
        windowClips += batch.shape[0]
        state.nextBatch = it + 1
        progress.update(it + 1, detail: detail)
        guard let accLoss = try steps.step(after: it, state: &state) else { continue }
        ctx.onStep?(state, accLoss)
        if state.step % max(c.logEvery, 1) == 0 || it + 1 == n {
            let secs = seconds(since: windowStart)
            let clipsPerSec = Double(windowClips) / max(secs, 1e-9)
            let mfu = ctx.flopsPerClip * clipsPerSec / (ctx.peakGFLOPs * 1e9)
            let batches = Double(windowClips) / Double(batch.shape[0])
            ctx.log.write([
                "type": "throughput", "step": state.step, "clips_per_s": clipsPerSec, "mfu": mfu,
                "s_per_step": secs / max(batches, 1)
            ])
            detail = String(
                format: "step %d  loss %.4f  lr %.3e  %.1f clips/s  %.3f s/step  MFU %.1f%%", state.step,
                windowLoss / max(batches, 1), ctx.optimizer.lr, clipsPerSec, secs / max(batches, 1), mfu * 100)
            progress.update(it + 1, detail: detail, force: true)
            windowLoss = 0; windowClips = 0; windowStart = DispatchTime.now()
        }
        if ctx.shouldStop(state) { return false }
    }
    return true
}
