import NN
import Torch

/// The end of an accumulation window, for pre-training and fine-tuning alike: gradient-norm clipping (`clipGrad` > 0),
/// the AdamW step, gradients cleared, and the bf16 weight copies (if any) refreshed from the updated weights.
public func optimizerStep(_ optimizer: AdamW, clipGrad: Double, bf16Weights: BF16Weights?) throws {
    if clipGrad > 0 { try Kernels.clipGradNorm(optimizer.grads(), maxNorm: clipGrad) }
    try optimizer.step()
    try optimizer.zeroGrad()
    try bf16Weights?.refresh()
}
