import Foundation
import NN
import Torch

/// TimeSformer hyper-parameters (defaults: TimeSformer-B, 8×224, divided space-time, Kinetics-400).
public struct TimeSformerConfig: ViTSized, Codable, Equatable, Sendable {
    public var dims = ModelSize.base.with(numFrames: 8).dims
    public var inChans = 3
    public var numClasses = 400
    public var mlpRatio = 4.0
    public var qkvBias = true
    /// `divided_space_time`, `joint_space_time` or `space_only`.
    public var attentionType = "divided_space_time"
    public var dropRate = 0.0
    public var dropPathRate = 0.0
    public var normEps = 1e-6
    public init() {}
    public static let attentionTypes = ["divided_space_time", "joint_space_time", "space_only"]
}

/// A TimeSformer block. Divided: temporal attention over the T tokens of each position (`temporal_norm1`,
/// `temporal_attn`, `temporal_fc`), then spatial attention over each frame's S tokens with a per-frame copy of the cls
/// token (outputs averaged over frames), then the MLP. Other types: a standard pre-norm block.
public final class TimeSformerBlock: Module {
    public var training = true
    public let norm1: LayerNorm, attn: Attention
    public let temporalNorm1: LayerNorm?, temporalAttn: Attention?, temporalFc: Linear?
    public let norm2: LayerNorm, mlp: Mlp
    public let dropPath: DropPath

    public init(
        dim: Int, heads: Int, mlpRatio: Double, qkvBias: Bool, drop: Double, dropPath: Double, eps: Double,
        divided: Bool
    ) throws {
        norm1 = try LayerNorm(dim, eps: eps)
        attn = try Attention(dim: dim, heads: heads, qkvBias: qkvBias, projection: .fused, projDrop: drop)
        temporalNorm1 = divided ? try LayerNorm(dim, eps: eps) : nil
        temporalAttn =
            divided ? try Attention(dim: dim, heads: heads, qkvBias: qkvBias, projection: .fused, projDrop: drop) : nil
        temporalFc = divided ? try Linear(dim, dim) : nil
        norm2 = try LayerNorm(dim, eps: eps)
        mlp = try Mlp(dim, hidden: Int(Double(dim) * mlpRatio), drop: drop)
        self.dropPath = DropPath(dropPath)
    }

    /// x: [B, 1 + S·T, D], patch tokens space-major (s·T + t); space_only: [B·T, 1 + S, D].
    public func callAsFunction(_ x: Tensor, frames t: Int) throws -> Tensor {
        guard let temporalNorm1, let temporalAttn, let temporalFc else {
            let h = try x + dropPath(attn(norm1(x)))
            return try h + dropPath(mlp(norm2(h)))
        }
        let (b, l, d) = (x.size(0), x.size(1), x.size(2))
        let s = (l - 1) / t
        let (cls0, xt, xs) = try temporalStage(x, frames: t, temporalNorm1, temporalAttn, temporalFc)
        let resS = try dropPath(attn(norm1(xs)))  // [B·T, 1 + S, D]
        let clsS = try resS.slice(dim: 1, end: 1).reshape([b, t, d]).mean(dims: [1], keepDim: true)
        let resP = try resS.slice(dim: 1, start: 1).reshape([b, t, s, d]).transpose(1, 2).reshape([b, s * t, d])
        let h = try Tensor.cat([cls0, xt], dim: 1) + Tensor.cat([clsS, resP], dim: 1)
        return try h + dropPath(mlp(norm2(h)))
    }
}

extension TimeSformerBlock {
    /// Divided block up to the spatial attention: (cls [B, 1, D], x after the temporal residual [B, S·T, D],
    /// spatial-attention input per frame with its cls copy [B·T, 1 + S, D]).
    func temporalStage(_ x: Tensor, frames t: Int, _ tn: LayerNorm, _ ta: Attention, _ fc: Linear) throws -> (
        Tensor, Tensor, Tensor
    ) {
        let (b, l, d) = (x.size(0), x.size(1), x.size(2))
        let s = (l - 1) / t
        let patches = try x.slice(dim: 1, start: 1)
        let resT = try dropPath(ta(tn(patches.reshape([b * s, t, d])))).reshape([b, s * t, d])
        let xt = try patches + fc(resT)
        let cls0 = try x.slice(dim: 1, end: 1)
        let xs = try Tensor.cat(
            [cls0.repeatInterleave(t, dim: 0), xt.reshape([b, s, t, d]).transpose(1, 2).reshape([b * t, s, d])], dim: 1)
        return (cls0, xt, xs)
    }

    /// Attention of the cls query to the patch keys, mean over heads (x as `callAsFunction`): divided → the spatial
    /// attention per frame [B·T, S]; joint → [B, S·T] in (s, t) order; space_only → [B·T, S].
    public func clsAttention(_ x: Tensor, frames t: Int) throws -> Tensor {
        if let tn = temporalNorm1, let ta = temporalAttn, let fc = temporalFc {
            return try clsRow(attentionProbs(attn, norm1(temporalStage(x, frames: t, tn, ta, fc).2)))
        }
        return try clsRow(attentionProbs(attn, norm1(x)))
    }
}

/// TimeSformer (Bertasius et al. 2021) with the released checkpoints' keys (`patch_embed.proj`, `cls_token`,
/// `pos_embed` [1, 1+S, D], `time_embed` [1, T, D], `blocks.i.temporal_attn`, …, `norm`, `head`).
/// x: [N, 3, T, H, W] → logits [N, classes]. Reference: reference/models_timesformer.py.
public final class TimeSformer: Module {
    public var training = true
    public let config: TimeSformerConfig
    public let patchEmbed: FramePatchEmbed
    public let clsToken: Tensor
    public let posEmbed: Tensor
    public let timeEmbed: Tensor?
    public let posDrop: Dropout
    public let blocks: [TimeSformerBlock]
    public let norm: LayerNorm
    public let head: Linear

    public var spaceOnly: Bool { config.attentionType == "space_only" }
    public var sGrid: Int { patchEmbed.spatialTokens }

    public init(_ c: TimeSformerConfig, generator: Generator? = nil) throws {
        guard TimeSformerConfig.attentionTypes.contains(c.attentionType) else {
            throw ConfigError(
                "attention_type '\(c.attentionType)': expected one of "
                    + "\(TimeSformerConfig.attentionTypes.joined(separator: ", "))"
            )
        }
        config = c
        let d = c.embedDim
        patchEmbed = try FramePatchEmbed(imgSize: c.imgSize, patchSize: c.patchSize, inChans: c.inChans, embedDim: d)
        clsToken = try Tensor.zeros([1, 1, d]).requiresGrad(true)
        posEmbed = try Tensor.zeros([1, 1 + patchEmbed.spatialTokens, d]).requiresGrad(true)
        timeEmbed = c.attentionType == "space_only" ? nil : try Tensor.zeros([1, c.numFrames, d]).requiresGrad(true)
        posDrop = Dropout(c.dropRate)
        let dpr = try dropPathRates(c.dropPathRate, c.depth)
        blocks = try dpr.map {
            try TimeSformerBlock(
                dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, drop: c.dropRate,
                dropPath: $0, eps: c.normEps, divided: c.attentionType == "divided_space_time")
        }
        norm = try LayerNorm(d, eps: c.normEps)
        head = try Linear(d, c.numClasses)
        try Init.torchDefault(weight: patchEmbed.proj.weight, bias: patchEmbed.proj.bias, generator: generator)
        try vitInit(self, tokens: [posEmbed, clsToken], generator: generator)
        for b in blocks { if let fc = b.temporalFc { try Init.constant(fc.weight, 0); try Init.constant(fc.bias!, 0) } }
    }

    /// Tokens entering the blocks: [N, 1 + S·T, D] (patches space-major), space_only [N·T, 1 + S, D].
    func embed(_ x: Tensor) throws -> Tensor {
        try checkClip(x, model: "TimeSformer", chans: config.inChans, frames: config.numFrames, size: config.imgSize)
        let (n, t, s, d) = (x.size(0), config.numFrames, sGrid, config.embedDim)
        var f = try patchEmbed(x.transpose(1, 2).reshape([n * t, config.inChans, config.imgSize, config.imgSize]))
        f = try posDrop(Tensor.cat([clsToken.expand([n * t, 1, d]), f], dim: 1) + posEmbed)  // [N·T, 1+S, D]
        if spaceOnly { return f }
        let cls = try f.slice(dim: 0, end: n).slice(dim: 1, end: 1)  // cls + pos_embed[0]
        // [N, S, T, D]
        let p = try f.slice(dim: 1, start: 1).reshape([n, t, s, d]).transpose(1, 2) + timeEmbed!.unsqueeze(1)
        return try Tensor.cat([cls, posDrop(p).reshape([n, s * t, d])], dim: 1)
    }

    /// x: [N, 3, T, H, W] → the normed cls feature [N, D].
    public func forwardFeatures(_ x: Tensor) throws -> Tensor {
        let (n, t) = (x.size(0), config.numFrames)
        var f = try embed(x)
        for b in blocks { f = try b(f, frames: t) }
        if spaceOnly { f = try f.reshape([n, t, 1 + sGrid, config.embedDim]).mean(dims: [1]) }
        return try norm(f).select(dim: 1, index: 0)
    }

    /// The last block's attention from the cls token to the patches, mean over heads: x → [N, T, S] (s = h·W' + w;
    /// divided / space_only: each frame's spatial attention; joint: the cls row over all patches). Explicit softmax.
    public func attentionMap(_ x: Tensor) throws -> Tensor {
        let (n, t, s) = (x.size(0), config.numFrames, sGrid)
        return try withNoGrad {
            var f = try embed(x)
            for b in blocks.dropLast() { f = try b(f, frames: t) }
            let a = try blocks.last!.clsAttention(f, frames: t)
            return config.attentionType == "joint_space_time"
                ? try a.reshape([n, s, t]).transpose(1, 2).contiguous() : try a.reshape([n, t, s])
        }
    }

    /// x: [N, 3, T, H, W] → logits [N, classes].
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try head(forwardFeatures(x)) }
}
