import NN
import Torch

/// The end of an accumulation window, for pre-training and fine-tuning alike: gradient-norm clipping (`clipGrad` > 0),
/// the AdamW step, gradients cleared, and the bf16 weight copies (if any) refreshed from the updated weights. With a
/// `scaler` (`--fp16`), as mae_st's `NativeScalerWithGradNormCount`: gradients unscaled before the norm and clipping,
/// the step skipped on inf/NaN gradients, the scale updated. Returns the gradients' total 2-norm before clipping, as
/// `NativeScaler` (clipGrad 0: measured only, unless `measureNorm` is false — benchmarks — then NaN; a skipped fp16
/// step's norm is inf or NaN).
@discardableResult
public func optimizerStep(
    _ optimizer: AdamW, clipGrad: Double, bf16Weights: BF16Weights?, scaler: GradScaler? = nil,
    measureNorm: Bool = true
) throws -> Double {
    var norm = Double.nan
    if clipGrad > 0 || measureNorm {
        try scaler?.unscale(optimizer)
        norm = try Kernels.clipGradNorm(optimizer.grads(), maxNorm: clipGrad > 0 ? clipGrad : .infinity)
    }
    if let scaler {
        try scaler.step(optimizer)
        try scaler.update()
    } else {
        try optimizer.step()
    }
    try optimizer.zeroGrad()
    try bf16Weights?.refresh()
    return norm
}

/// The progress a run saves in its checkpoints (`TrainState`, `FinetuneState`).
public protocol RunProgress {
    var epoch: Int { get }
    var nextBatch: Int { get }
    var step: Int { get set }
    var lossHistory: [Double] { get set }
}

extension RunProgress {
    /// The mean loss of the steps of the epoch just trained (batches / accum_iter of them).
    public func epochLoss(batchesPerEpoch: Int, accumIter: Int) -> Double {
        let recent = lossHistory.suffix(max(batchesPerEpoch / accumIter, 1))
        return recent.reduce(0, +) / Double(max(recent.count, 1))
    }

    /// What a run stopped early prints: where it stopped and how to go on from checkpoint `path`.
    public func stoppedLine(checkpoint path: String) -> String {
        "\nstopped at epoch \(epoch) batch \(nextBatch) (step \(step)); checkpoint \(path); "
            + "continue with --resume \(path)"
    }
}

extension TrainState: RunProgress {}
extension FinetuneState: RunProgress {}

/// Micro-batches accumulated into optimizer steps, for pre-training and fine-tuning alike (mae_st's
/// `train_one_epoch`): each loss divided by accum_iter and back-propagated (scaled under `--fp16`); at the end of a
/// window the gradients synced over ranks, the mean loss reduced over ranks, `optimizerStep` taken and logged.
struct StepAccumulator {
    let optimizer: AdamW, sync: any GradientSync, scaler: GradScaler?, bf16Weights: BF16Weights?
    let accumIter: Int, clipGrad: Double, device: Device
    let log: RunLog, batchesPerEpoch: Int, repeatAug: Int
    /// Time spent waiting for batches since the last step.
    var wait = DataWait()
    private var loss = 0.0

    init<C: RunSettings>(
        _ optimizer: AdamW, sync: any GradientSync, scaler: GradScaler?, bf16Weights: BF16Weights?, config c: C,
        log: RunLog, batchesPerEpoch: Int
    ) {
        (self.optimizer, self.sync, self.scaler, self.bf16Weights) = (optimizer, sync, scaler, bf16Weights)
        (accumIter, clipGrad, device) = (c.accumIter, c.clipGrad, c.device)
        (self.log, self.batchesPerEpoch, repeatAug) = (log, batchesPerEpoch, c.repeatAug)
    }

    /// Back-propagates micro-batch `it`'s loss; returns its value (NaN on meta, which has none). A non-finite loss
    /// stops training.
    mutating func backward(_ loss: Tensor, batch it: Int, epoch: Int) throws -> Double {
        let v = device.holdsValues ? try loss.item() : .nan
        guard v.isFinite || !device.holdsValues else {
            throw TorchError("loss is \(v) at epoch \(epoch) batch \(it): stopping training")
        }
        try sync.beforeBackward(loss, willStep: (it + 1) % accumIter == 0)
        let scaled = try loss / Double(accumIter)
        try (scaler?.scale(scaled) ?? scaled).backward()
        self.loss += v / Double(accumIter)
        return v
    }

    /// After micro-batch `it`: at the end of a window, the step taken, counted in `state` and logged (a `step` record
    /// of log.jsonl, mae_st's x-axis `epoch_1000x` included); returns its loss (mean over ranks). Else nil.
    mutating func step<S: RunProgress>(after it: Int, state: inout S) throws -> Double? {
        guard (it + 1) % accumIter == 0 else { return nil }
        try sync.syncGradients()
        let mean = try sync.reduceMean(loss)
        loss = 0
        let gradNorm = try optimizerStep(optimizer, clipGrad: clipGrad, bf16Weights: bf16Weights, scaler: scaler)
        state.step += 1
        state.lossHistory.append(mean)
        let x = epoch1000x(batch: it, batchesPerEpoch: batchesPerEpoch, epoch: state.epoch, repeatAug: repeatAug)
        var record: [String: Any] = [
            "type": "step", "epoch": state.epoch, "batch": it, "step": state.step, "loss": mean, "lr": optimizer.lr,
            "grad_norm": gradNorm, "epoch_1000x": x
        ]
        record.merge(wait.take()) { a, _ in a }
        if let scaler { record["loss_scale"] = try scaler.currentScale }
        log.write(record)
        return mean
    }
}
