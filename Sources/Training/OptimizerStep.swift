import NN
import Torch

/// The end of an accumulation window, for pre-training and fine-tuning alike: gradient-norm clipping (`clipGrad` > 0),
/// the AdamW step, gradients cleared, and the bf16 weight copies (if any) refreshed from the updated weights. With a
/// `scaler` (`--fp16`), as mae_st's `NativeScalerWithGradNormCount`: gradients unscaled before clipping, the step
/// skipped on inf/NaN gradients, the scale updated. Returns whether the step was taken.
@discardableResult
public func optimizerStep(_ optimizer: AdamW, clipGrad: Double, bf16Weights: BF16Weights?, scaler: GradScaler? = nil)
    throws -> Bool
{
    var stepped = true
    if let scaler {
        if clipGrad > 0 {
            try scaler.unscale(optimizer)
            try Kernels.clipGradNorm(optimizer.grads(), maxNorm: clipGrad)
        }
        stepped = try scaler.step(optimizer)
        try scaler.update()
    } else {
        if clipGrad > 0 { try Kernels.clipGradNorm(optimizer.grads(), maxNorm: clipGrad) }
        try optimizer.step()
    }
    try optimizer.zeroGrad()
    try bf16Weights?.refresh()
    return stepped
}
