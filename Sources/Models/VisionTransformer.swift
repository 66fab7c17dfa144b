import Foundation
import NN
import Torch

/// Video ViT classifier for fine-tuning (mae_st `models_vit`), with the MAE encoder's backbone and state-dict keys
/// (`patch_embed.proj`, `cls_token`, `pos_embed_{spatial,temporal,class}` or the joint `pos_embed`, `blocks.i.*`), so a
/// pre-trained encoder loads directly. Positions as `ViTConfig.posEmbedType`: learned separable, learned joint
/// [1, (1 +) L, D] (row 0 the cls token's), or a fixed sinusoid. Pooling: mean over patch tokens → `fc_norm`
/// (global_pool), or → `norm` (global pool, mae_st's layout: `fcNorm` false), or `norm` → cls
/// token. Then `dropout` → `head`. Input x: [N, 3, T, H, W] → logits [N, num_classes].
public final class VisionTransformer: Module {
    public var training = true
    public let config: ViTConfig

    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor?
    public let posEmbedSpatial: Tensor?, posEmbedTemporal: Tensor?, posEmbedClass: Tensor?
    /// Learned joint table [1, (1 +) L, D] (`.joint`).
    public let posEmbed: Tensor?
    /// Fixed sinusoid table [1, L, D] (`.sinusoid`); not in the state dict.
    public let sincosPosEmbed: Constant?
    public let blocks: [Block]
    public let norm: LayerNorm?
    public let fcNorm: LayerNorm?
    public let dropout: Dropout
    public let head: Linear

    public var tGrid: Int { patchEmbed.tGridSize }
    public var sGrid: Int { patchEmbed.spatialTokens }

    public init(_ c: ViTConfig, generator: Generator? = nil) throws {
        guard c.globalPool || c.clsEmbed else {
            throw ConfigError("cls-token pooling (global_pool false) needs cls_embed true")
        }
        guard c.depth > 0, c.numClasses > 0 else { throw ConfigError("depth and num_classes must be positive") }
        for (name, p) in [("drop_rate", c.dropRate), ("drop_path_rate", c.dropPathRate), ("dropout", c.dropout)]
        where !(0 ..< 1).contains(p) {
            throw ConfigError("\(name) \(p) must be in [0, 1)")
        }
        config = c
        let d = c.embedDim
        patchEmbed = try PatchEmbed(c.dims, inChans: c.inChans, tPatchSize: c.tPatchSize)
        let (t, s, l) = (patchEmbed.tGridSize, patchEmbed.spatialTokens, patchEmbed.numPatches)
        func param(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape).requiresGrad(true) }
        clsToken = c.clsEmbed ? try param([1, 1, d]) : nil
        let (type, sep) = (c.posEmbedType, c.posEmbedType == .separable)
        posEmbedSpatial = sep ? try param([1, s, d]) : nil
        posEmbedTemporal = sep ? try param([1, t, d]) : nil
        posEmbedClass = sep && c.clsEmbed ? try param([1, 1, d]) : nil
        posEmbed = type == .joint ? try param([1, l + (c.clsEmbed ? 1 : 0), d]) : nil
        sincosPosEmbed = type == .sinusoid ? Constant(try sinusoidTable(positions: l, dim: d)) : nil
        // Stochastic depth decay rule: linspace(0, rate, depth).
        let dpr = (0 ..< c.depth).map { c.depth == 1 ? 0 : c.dropPathRate * Double($0) / Double(c.depth - 1) }
        blocks = try dpr.map {
            try Block(
                dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, kBias: c.kBias, drop: c.dropRate,
                dropPath: $0, eps: c.normEps)
        }
        let postPool = c.globalPool && c.fcNorm
        norm = postPool ? nil : try LayerNorm(d, eps: c.normEps)
        fcNorm = postPool ? try LayerNorm(d, eps: c.fcNormEps ?? c.normEps) : nil
        dropout = Dropout(c.dropout)
        head = try Linear(d, c.numClasses)
        try initializeWeights(generator)
    }

    /// MAE init for the backbone (xavier-uniform linears and patch conv, zero biases, LayerNorm 1/0, trunc-normal(.02)
    /// positions and cls); `head.weight` trunc-normal(.02), `head.bias` 0.
    func initializeWeights(_ g: Generator?) throws {
        try Init.torchDefault(weight: patchEmbed.proj.weight, bias: patchEmbed.proj.bias, generator: g)
        for p in [clsToken, posEmbedSpatial, posEmbedTemporal, posEmbedClass, posEmbed].compactMap({ $0 }) {
            try Init.truncNormal(p, std: 0.02, generator: g)
        }
        try Init.xavierUniform(patchEmbed.proj.weight, generator: g)
        for (_, m) in namedModules() {
            if let lin = m as? Linear {
                try Init.xavierUniform(lin.weight, generator: g)
                if let b = lin.bias { try Init.constant(b, 0) }
            } else if let ln = m as? LayerNorm {
                try Init.constant(ln.weight, 1); try Init.constant(ln.bias, 0)
            }
        }
        try initializeHead(std: 0.02, generator: g)
    }

    /// Fresh classifier: `head.weight` trunc-normal(std), `head.bias` 0, `fc_norm` 1/0. mae_st's fine-tuning uses
    /// std 2e-5 after loading a pre-trained encoder.
    public func initializeHead(std: Double, generator g: Generator? = nil) throws {
        try Init.truncNormal(head.weight, std: std, generator: g)
        try Init.constant(head.bias!, 0)
        if let fcNorm { try Init.constant(fcNorm.weight, 1); try Init.constant(fcNorm.bias, 0) }
    }

    /// Positions of the patch tokens [1, L, D] (joint: the table's rows after the cls row).
    func patchPos() throws -> Tensor {
        if let posEmbedSpatial, let posEmbedTemporal {
            return try separablePosEmbed(
                spatial: posEmbedSpatial, temporal: posEmbedTemporal, tGrid: tGrid, sGrid: sGrid)
        }
        if let posEmbed { return try posEmbed.slice(dim: 1, start: clsToken == nil ? 0 : 1) }
        return sincosPosEmbed!.value
    }

    /// The cls token's position [1, 1, D]: `pos_embed_class` or row 0 of the joint table (nil: sinusoid, no cls).
    func clsPos() throws -> Tensor? {
        guard clsToken != nil else { return nil }
        if let posEmbed { return try posEmbed.slice(dim: 1, start: 0, end: 1) }
        return posEmbedClass
    }

    /// x: [N, 3, T, H, W] → tokens after the last block [N, (1 +) L, D] (cls first when cls_embed).
    public func forwardTokens(_ x: Tensor) throws -> Tensor {
        var h = try patchEmbed(x)
        let (n, d) = (h.size(0), h.size(3))
        h = try h.reshape([n, tGrid * sGrid, d]) + patchPos()
        if let clsToken {
            var cls = try clsToken.expand([n, 1, d])
            if let pos = try clsPos() { cls = try cls + pos }
            h = try Tensor.cat([cls, h], dim: 1)
        }
        for b in blocks { h = try b(h) }
        return h
    }

    /// x: [N, 3, T, H, W] → pooled features [N, D] (the input of `dropout` → `head`; what `stmae embed` writes).
    public func forwardFeatures(_ x: Tensor) throws -> Tensor {
        let h = try forwardTokens(x)
        if config.globalPool {
            let patches = clsToken == nil ? h : try h.slice(dim: 1, start: 1)
            return try (fcNorm ?? norm!)(patches.mean(dims: [1]))
        }
        return try norm!(h).select(dim: 1, index: 0)
    }

    /// x: [N, 3, T, H, W] → logits [N, num_classes].
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try head(dropout(forwardFeatures(x))) }

    /// Every block index of a parameter key for layer-wise lr decay (mae_st `get_layer_id_for_vit`): cls/pos/patch
    /// embedding 0, `blocks.i` i+1, everything after the blocks depth+1.
    public static func layerId(_ key: String, depth: Int) -> Int {
        if ["cls_token", "pos_embed"].contains(where: key.hasPrefix) || key.hasPrefix("patch_embed") { return 0 }
        if key.hasPrefix("blocks.") { return Int(key.split(separator: ".")[1])! + 1 }
        return depth + 1
    }

    /// Keys without weight decay besides 1-D tensors and biases (mae_st `no_weight_decay`).
    public var noWeightDecay: Set<String> {
        ["cls_token", "pos_embed", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class"]
    }
}
