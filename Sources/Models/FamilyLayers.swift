import Foundation
import NN
import Torch

/// 2-D convolution (no padding). x: [N, C, H, W] → [N, O, H', W']. Key names `weight` [O, C, k, k], `bias`.
public final class Conv2d: Module {
    public var training = true
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: [Int]
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, bias: Bool = true) throws {
        weight = try Tensor.empty([outChannels, inChannels, kernel, kernel]).requiresGrad(true)
        self.bias = bias ? try Tensor.empty([outChannels]).requiresGrad(true) : nil
        self.stride = [stride, stride]
        try Init.torchDefault(weight: weight, bias: self.bias)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try conv2d(x, weight: weight, bias: bias, stride: stride)
    }
}

/// Per-frame 2-D patch embedding (TimeSformer): x: [N·T, 3, H, W] → [N·T, S, D].
public final class FramePatchEmbed: Module {
    public var training = true
    public let proj: Conv2d
    public let imgSize: Int, patchSize: Int
    public var spatialTokens: Int { (imgSize / patchSize) * (imgSize / patchSize) }
    public init(imgSize: Int, patchSize: Int, inChans: Int, embedDim: Int) throws {
        guard patchSize > 0, imgSize % patchSize == 0 else {
            throw ConfigError("img_size \(imgSize) is not divisible by patch_size \(patchSize)")
        }
        self.imgSize = imgSize; self.patchSize = patchSize
        proj = try Conv2d(inChans, embedDim, kernel: patchSize, stride: patchSize)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try proj(x).flatten(start: 2).transpose(1, 2)
    }
}

/// Stochastic-depth rates `linspace(0, rate, depth)` (as torch, float32).
func dropPathRates(_ rate: Double, _ depth: Int) throws -> [Double] {
    guard depth > 0 else { return [] }
    guard rate > 0 else { return Array(repeating: 0, count: depth) }
    return try Tensor.linspace(0, rate, count: depth).toArray(Float.self).map(Double.init)
}

/// Checks a clip against the model's expected `[N, C, T, H, W]`, naming what was expected.
func checkClip(_ x: Tensor, model: String, chans: Int, frames: Int, size: Int) throws {
    let s = x.shape
    guard s.count == 5, s[1] == chans, s[2] == frames, s[3] == size, s[4] == size else {
        throw ConfigError("\(model) expects input [N, \(chans), \(frames), \(size), \(size)], got \(s)")
    }
}

/// timm ViT init used by TimeSformer / ViViT / MaskFeat: trunc-normal(.02) Linear weights, bias 0, LayerNorm 1/0,
/// trunc-normal(.02) for `tokens` (positions, cls, mask token). Conv weights are left to the caller.
func vitInit(_ model: Module, tokens: [Tensor], generator g: Generator?) throws {
    for t in tokens { try Init.truncNormal(t, std: 0.02, generator: g) }
    for (_, m) in model.namedModules() {
        if let lin = m as? Linear {
            try Init.truncNormal(lin.weight, std: 0.02, generator: g)
            if let b = lin.bias { try Init.constant(b, 0) }
        } else if let ln = m as? LayerNorm {
            try Init.constant(ln.weight, 1); try Init.constant(ln.bias, 0)
        }
    }
}

/// Attention probabilities softmax(q·kᵀ / √head_dim) of `a` on x: [B, L, D] → [B, heads, L, L] (for attention
/// maps).
public func attentionProbs(_ a: Attention, _ x: Tensor) throws -> Tensor {
    let (b, l, d) = (x.size(0), x.size(1), x.size(2))
    let hd = d / a.heads
    let q: Tensor, k: Tensor
    if let qkv = a.qkv {
        var bias = qkv.bias
        if let qb = a.qBias { bias = try Tensor.cat([qb, Tensor.zeros([2 * d], dtype: qb.dtype, device: qb.device)]) }
        let t = try linear(x, weight: qkv.computeWeight, bias: bias).reshape([b, l, 3, a.heads, hd]).permute(
            2, 0, 3, 1, 4)
        (q, k) = (try t.select(dim: 0, index: 0), try t.select(dim: 0, index: 1))
    } else {
        (q, k) = (
            try a.q!(x).reshape([b, l, a.heads, hd]).transpose(1, 2),
            try a.k!(x).reshape([b, l, a.heads, hd]).transpose(1, 2)
        )
    }
    return try softmax(q.matmul(k.transpose(-2, -1)) * (1 / Double(hd).squareRoot()), dim: -1)
}

/// Row 0 (the cls query) of attention probabilities [B, H, 1+P, 1+P] over the P patch keys, mean over heads → [B, P].
func clsRow(_ p: Tensor) throws -> Tensor {
    try p.select(dim: 2, index: 0).slice(dim: 2, start: 1).mean(dims: [1])
}
