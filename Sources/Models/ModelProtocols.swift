import Foundation
import NN
import Torch

/// A self-supervised pre-training model as the pretrain engine sees it: a batch of clips → loss, drawing its own
/// masking from `generator` (so a run is reproducible and resumable from the generator state).
public protocol PretrainModel: Module {
    /// x: [N, 3, T, H, W] → scalar loss.
    func pretrainLoss(_ x: Tensor, generator: Generator?) throws -> Tensor
}

/// A video classifier as the fine-tune engine sees it: x [N, 3, T, H, W] → logits [N, classes].
public protocol VideoClassifier: Module {
    var numClasses: Int { get }
    func logits(_ x: Tensor) throws -> Tensor
}

extension MaskedAutoencoderViT: PretrainModel {
    /// MAE: noise of the mask type's shape (and decoder noise with dual masking) from `generator`, then the
    /// masked-reconstruction loss.
    public func pretrainLoss(_ x: Tensor, generator: Generator?) throws -> Tensor {
        // drawn on the CPU (the same masks on every device), then on the clips' device
        let noise = try makeNoise(batch: x.size(0), generator: generator).to(x.device)
        let decoderNoise =
            config.decoderMaskRatio > 0
            ? try makeDecoderNoise(batch: x.size(0), generator: generator).to(x.device) : nil
        return try self(x, noise: noise, decoderNoise: decoderNoise).loss
    }
}

extension MaskFeat: PretrainModel {
    /// MaskFeat: cube masks at `mask_ratio` seeded from `generator`, then the HOG-regression loss.
    public func pretrainLoss(_ x: Tensor, generator: Generator?) throws -> Tensor {
        let seed = try Tensor.randint(0, Int(Int32.max), [2], generator: generator).toArray(Int64.self)
        // drawn in Swift (on the CPU), used on the clip's device
        let mask = try makeMask(batch: x.size(0), seed: UInt64(seed[0]) << 31 | UInt64(seed[1])).to(x.device)
        return try self(x, mask: mask).loss
    }
}

extension TimeSformer: VideoClassifier {
    public var numClasses: Int { config.numClasses }
    public func logits(_ x: Tensor) throws -> Tensor { try self(x) }
}

extension ViViT: VideoClassifier {
    public var numClasses: Int { config.numClasses }
    public func logits(_ x: Tensor) throws -> Tensor { try self(x) }
}
