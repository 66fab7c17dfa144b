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
