import Torch

/// y = x Wᵀ + b. x: [*, in] → [*, out].
public final class Linear: Module {
    public var training = true
    public let weight: Tensor
    public let bias: Tensor?
    /// A low-precision copy used in place of `weight` in the matmul (`BF16Weights`); not in the state dict.
    public var weightCopy: Constant?
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws {
        weight = try Tensor.empty([outFeatures, inFeatures]).requiresGrad(true)
        self.bias = bias ? try Tensor.empty([outFeatures]).requiresGrad(true) : nil
        try Init.torchDefault(weight: weight, bias: self.bias)
    }
    /// The weight the matmul uses: `weightCopy` if set, else `weight`.
    public var computeWeight: Tensor { weightCopy?.value ?? weight }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try linear(x, weight: computeWeight, bias: bias) }
}

/// LayerNorm over the last dimension.
public final class LayerNorm: Module {
    public var training = true
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Double
    public init(_ dim: Int, eps: Double = 1e-6) throws {
        weight = try Tensor.ones([dim]).requiresGrad(true)
        bias = try Tensor.zeros([dim]).requiresGrad(true)
        self.eps = eps
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try layerNorm(x, normalizedShape: [weight.count], weight: weight, bias: bias, eps: eps)
    }
}

/// 3-D convolution. x: [N, C, T, H, W] → [N, O, T', H', W'].
public final class Conv3d: Module {
    public var training = true
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: [Int]
    public let padding: [Int]
    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: [Int], stride: [Int], padding: [Int] = [0, 0, 0],
        bias: Bool = true
    ) throws {
        guard kernel.count == 3, stride.count == 3 else {
            throw TorchError("Conv3d: kernel and stride need 3 values, got \(kernel), \(stride)")
        }
        weight = try Tensor.empty([outChannels, inChannels] + kernel).requiresGrad(true)
        self.bias = bias ? try Tensor.empty([outChannels]).requiresGrad(true) : nil
        self.stride = stride
        self.padding = padding
        try Init.torchDefault(weight: weight, bias: self.bias)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// Random zeroing with inverted scaling, active in training mode: the base of `Dropout` and `DropPath`. The mask
/// comes from `generator` when set (a run's own seeded stream), else from libtorch's default generator.
public class RandomDrop: Module {
    public var training = true
    public let p: Double
    public var generator: Generator? = nil
    public init(_ p: Double = 0) { self.p = p }

    /// x · mask / (1 − p), mask ∈ {0, 1} of `maskShape` (broadcast over x) with P(1) = 1 − p.
    func dropped(_ x: Tensor, maskShape: [Int]) throws -> Tensor {
        let keep = 1 - p
        let mask = try (Tensor.rand(maskShape, dtype: x.dtype, generator: generator, device: x.device) + keep).floor()
        return try x * (mask / keep)
    }
}

/// Element dropout (`torch.nn.Dropout`).
public final class Dropout: RandomDrop {
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard generator != nil, training, p > 0 else { return try dropout(x, p: p, training: training) }
        guard p < 1 else { return try x * 0.0 }
        return try dropped(x, maskShape: x.shape)
    }
}

/// Stochastic depth: drops the whole residual branch per sample with probability `p`, scaling kept ones by 1/(1−p).
public final class DropPath: RandomDrop {
    /// x: [N, ...]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        guard training, p > 0 else { return x }
        return try dropped(x, maskShape: [x.size(0)] + Array(repeating: 1, count: x.rank - 1))
    }
}
