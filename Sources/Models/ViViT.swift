import Foundation
import NN
import Torch

/// ViViT hyper-parameters (defaults: ViViT-B/16×2 factorised encoder, 32 frames, Kinetics-400).
public struct ViViTConfig: ViTSized, Codable, Equatable, Sendable {
    public var dims = ModelSize.base.with(numFrames: 32).dims
    public var inChans = 3
    public var numClasses = 400
    /// Layers of the temporal transformer (fact_encoder only).
    public var temporalDepth = 4
    public var mlpRatio = 4.0
    public var qkvBias = true
    public var tPatchSize = 2
    /// `fact_encoder` (Model 2), `joint_space_time` (Model 1) or `divided_space_time` (Model 3, factorised
    /// self-attention).
    public var model = "fact_encoder"
    public var dropRate = 0.0
    public var dropPathRate = 0.0
    public var normEps = 1e-6
    public init() {}
    public static let models = ["fact_encoder", "joint_space_time", "divided_space_time"]
}

/// Pre-norm block; factorised (ViViT Model 3): spatial attention within each time index, then temporal attention
/// (`temporal_norm1`, `temporal_attn`) across time at each position, then the MLP.
public final class ViViTBlock: Module {
    public var training = true
    public let norm1: LayerNorm, attn: Attention
    public let temporalNorm1: LayerNorm?, temporalAttn: Attention?
    public let norm2: LayerNorm, mlp: Mlp
    public let dropPath: DropPath

    public init(
        dim: Int, heads: Int, mlpRatio: Double, qkvBias: Bool, drop: Double, dropPath: Double, eps: Double,
        factorised: Bool
    ) throws {
        norm1 = try LayerNorm(dim, eps: eps)
        attn = try Attention(dim: dim, heads: heads, qkvBias: qkvBias, projection: .fused, projDrop: drop)
        temporalNorm1 = factorised ? try LayerNorm(dim, eps: eps) : nil
        temporalAttn =
            factorised
            ? try Attention(dim: dim, heads: heads, qkvBias: qkvBias, projection: .fused, projDrop: drop) : nil
        norm2 = try LayerNorm(dim, eps: eps)
        mlp = try Mlp(dim, hidden: Int(Double(dim) * mlpRatio), drop: drop)
        self.dropPath = DropPath(dropPath)
    }

    /// x: [B, L, D]; factorised: L = T'·S t-major and `frames` = T'.
    public func callAsFunction(_ x: Tensor, frames t: Int = 1) throws -> Tensor {
        var h = x
        if let temporalNorm1, let temporalAttn {
            let (b, l, d) = (x.size(0), x.size(1), x.size(2))
            let s = l / t
            h = try h + dropPath(attn(norm1(h.reshape([b * t, s, d])))).reshape([b, l, d])
            let ht = try h.reshape([b, t, s, d]).transpose(1, 2).reshape([b * s, t, d])
            h =
                try h
                + dropPath(temporalAttn(temporalNorm1(ht))).reshape([b, s, t, d]).transpose(1, 2).reshape([b, l, d])
        } else {
            h = try h + dropPath(attn(norm1(h)))
        }
        return try h + dropPath(mlp(norm2(h)))
    }
}

/// ViViT (Arnab et al. 2021). Tubelet Conv3d embedding (`patch_embed.proj`, t = 2), timm-layout blocks.
/// fact_encoder: `cls_token`, `pos_embed` [1, 1+S, D], `blocks`, `norm` (spatial, per time index), then
/// `temporal_cls_token`, `temporal_pos_embed` [1, 1+T', D], `temporal_blocks`, `temporal_norm`; joint: `pos_embed`
/// [1, 1+T'·S, D]; divided (no cls): `pos_embed` [1, T'·S, D], mean pool. Reference: reference/models_vivit.py.
public final class ViViT: Module {
    public var training = true
    public let config: ViViTConfig
    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor?
    public let posEmbed: Tensor
    public let posDrop: Dropout
    public let blocks: [ViViTBlock]
    public let norm: LayerNorm
    public let temporalClsToken: Tensor?, temporalPosEmbed: Tensor?
    public let temporalBlocks: [ViViTBlock]
    public let temporalNorm: LayerNorm?
    public let head: Linear

    public var tGrid: Int { patchEmbed.tGridSize }
    public var sGrid: Int { patchEmbed.spatialTokens }

    public init(_ c: ViViTConfig, generator: Generator? = nil) throws {
        guard ViViTConfig.models.contains(c.model) else {
            throw ConfigError("ViViT model '\(c.model)': expected one of \(ViViTConfig.models.joined(separator: ", "))")
        }
        config = c
        let d = c.embedDim
        patchEmbed = try PatchEmbed(c.dims, inChans: c.inChans, tPatchSize: c.tPatchSize)
        let (t, s) = (patchEmbed.tGridSize, patchEmbed.spatialTokens)
        func param(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape).requiresGrad(true) }
        let fe = c.model == "fact_encoder", fsa = c.model == "divided_space_time"
        clsToken = fsa ? nil : try param([1, 1, d])
        posEmbed = try param([1, fe ? 1 + s : fsa ? t * s : 1 + t * s, d])
        posDrop = Dropout(c.dropRate)
        blocks = try dropPathRates(c.dropPathRate, c.depth).map {
            try ViViTBlock(
                dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, drop: c.dropRate,
                dropPath: $0, eps: c.normEps, factorised: fsa)
        }
        norm = try LayerNorm(d, eps: c.normEps)
        temporalClsToken = fe ? try param([1, 1, d]) : nil
        temporalPosEmbed = fe ? try param([1, 1 + t, d]) : nil
        temporalBlocks =
            fe
            ? try dropPathRates(c.dropPathRate, c.temporalDepth).map {
                try ViViTBlock(
                    dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, drop: c.dropRate,
                    dropPath: $0, eps: c.normEps, factorised: false)
            } : []
        temporalNorm = fe ? try LayerNorm(d, eps: c.normEps) : nil
        head = try Linear(d, c.numClasses)
        try Init.torchDefault(weight: patchEmbed.proj.weight, bias: patchEmbed.proj.bias, generator: generator)
        try vitInit(
            self, tokens: [clsToken, posEmbed, temporalClsToken, temporalPosEmbed].compactMap { $0 },
            generator: generator)
    }

    /// x: [N, 3, T, H, W] → the feature fed to the head, [N, D].
    public func forwardFeatures(_ x: Tensor) throws -> Tensor {
        try checkClip(x, model: "ViViT", chans: config.inChans, frames: config.numFrames, size: config.imgSize)
        var f = try patchEmbed(x)  // [N, T', S, D]
        let (n, t, s, d) = (f.size(0), f.size(1), f.size(2), f.size(3))
        switch config.model {
        case "fact_encoder":
            f = try posDrop(Tensor.cat([clsToken!.expand([n * t, 1, d]), f.reshape([n * t, s, d])], dim: 1) + posEmbed)
            for b in blocks { f = try b(f) }
            var z = try norm(f).select(dim: 1, index: 0).reshape([n, t, d])
            z = try Tensor.cat([temporalClsToken!.expand([n, 1, d]), z], dim: 1) + temporalPosEmbed!
            for b in temporalBlocks { z = try b(z) }
            return try temporalNorm!(z).select(dim: 1, index: 0)
        case "joint_space_time":
            return try jointTokens(f).select(dim: 1, index: 0)
        default:
            f = try posDrop(f.reshape([n, t * s, d]) + posEmbed)
            for b in blocks { f = try b(f, frames: t) }
            return try norm(f).mean(dims: [1])
        }
    }

    /// Joint model: patch embeddings [N, T', S, D] → normed tokens after the blocks [N, 1 + T'·S, D] (cls first).
    func jointTokens(_ emb: Tensor) throws -> Tensor {
        let (n, t, s, d) = (emb.size(0), emb.size(1), emb.size(2), emb.size(3))
        var f = try posDrop(Tensor.cat([clsToken!.expand([n, 1, d]), emb.reshape([n, t * s, d])], dim: 1) + posEmbed)
        for b in blocks { f = try b(f) }
        return try norm(f)
    }

    /// x: [N, 3, T, H, W] → logits [N, classes].
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try head(forwardFeatures(x)) }

    /// The last (spatial) block's attention, mean over heads: x → [N, T', S]. fact_encoder (per time index, spatial
    /// encoder) and joint: cls → patches; divided (no cls): mean attention each patch receives within its time index.
    public func attentionMap(_ x: Tensor) throws -> Tensor {
        try checkClip(x, model: "ViViT", chans: config.inChans, frames: config.numFrames, size: config.imgSize)
        return try withNoGrad {
            var f = try patchEmbed(x)
            let (n, t, s, d) = (f.size(0), f.size(1), f.size(2), f.size(3))
            let last = blocks.last!
            switch config.model {
            case "fact_encoder":
                f = try Tensor.cat([clsToken!.expand([n * t, 1, d]), f.reshape([n * t, s, d])], dim: 1) + posEmbed
                for b in blocks.dropLast() { f = try b(f) }
                return try clsRow(attentionProbs(last.attn, last.norm1(f))).reshape([n, t, s])
            case "joint_space_time":
                f = try Tensor.cat([clsToken!.expand([n, 1, d]), f.reshape([n, t * s, d])], dim: 1) + posEmbed
                for b in blocks.dropLast() { f = try b(f) }
                return try clsRow(attentionProbs(last.attn, last.norm1(f))).reshape([n, t, s])
            default:
                f = try f.reshape([n, t * s, d]) + posEmbed
                for b in blocks.dropLast() { f = try b(f, frames: t) }
                let p = try attentionProbs(last.attn, last.norm1(f.reshape([n * t, s, d])))  // [N·T', H, S, S]
                return try p.mean(dims: [1, 2]).reshape([n, t, s])
            }
        }
    }
}
