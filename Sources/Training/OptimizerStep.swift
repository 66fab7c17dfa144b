import NN
import Torch

/// The end of an accumulation window, for pre-training and fine-tuning alike: gradient-norm clipping (`clipGrad` > 0),
/// the AdamW step, gradients cleared, and the bf16 weight copies (if any) refreshed from the updated weights.
/// Returns the gradients' total 2-norm before clipping, as mae_st's `NativeScaler` (clipGrad 0: measured only,
/// unless `measureNorm` is false — benchmarks — then NaN).
@discardableResult
public func optimizerStep(
    _ optimizer: AdamW, clipGrad: Double, bf16Weights: BF16Weights?, measureNorm: Bool = true
) throws -> Double {
    var norm = Double.nan
    if clipGrad > 0 || measureNorm {
        norm = try Kernels.clipGradNorm(optimizer.grads(), maxNorm: clipGrad > 0 ? clipGrad : .infinity)
    }
    try optimizer.step()
    try optimizer.zeroGrad()
    try bf16Weights?.refresh()
    return norm
}
