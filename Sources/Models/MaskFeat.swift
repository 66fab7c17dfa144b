import Foundation
import NN
import SeededRandom
import Torch

/// MaskFeat hyper-parameters (defaults: ViT-B/16 video backbone, 16 frames, t_patch 2, mask ratio 0.4, HOG 9 × 8×8).
public struct MaskFeatConfig: ViTSized, Codable, Equatable, Sendable {
    public var dims = ModelSize.base.dims
    public var inChans = 3
    public var mlpRatio = 4.0
    public var qkvBias = true
    public var tPatchSize = 2
    public var clsEmbed = true
    public var maskRatio = 0.4
    public var hogOrientations = 9
    public var hogCell = 8
    public var dropPathRate = 0.0
    public var normEps = 1e-6
    public init() {}
}

/// MaskFeat (Wei et al. 2022) pre-training with the project's video ViT as backbone (mae_st keys: `patch_embed.proj`
/// Conv3d, `cls_token`, `pos_embed_spatial/temporal/class`, `blocks.i.attn.q/k/v`, `norm`) plus `mask_token` and a
/// linear `pred_head`. The paper's MViTv2 backbone is not included. Masked tokens' embeddings are replaced by the mask
/// token (all tokens stay in the sequence); the target is the HOG of each cube's centre frame; MSE on masked tokens.
/// Reference: reference/models_maskfeat.py.
public final class MaskFeat: Module {
    public var training = true
    public let config: MaskFeatConfig
    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor?, posEmbedClass: Tensor?
    public let posEmbedSpatial: Tensor, posEmbedTemporal: Tensor
    public let maskToken: Tensor
    public let blocks: [Block]
    public let norm: LayerNorm
    public let predHead: Linear
    public let hog: HOG

    public var tGrid: Int { patchEmbed.tGridSize }
    public var sGrid: Int { patchEmbed.spatialTokens }
    public var numTokens: Int { patchEmbed.numPatches }

    public init(_ c: MaskFeatConfig, generator: Generator? = nil) throws {
        guard c.hogCell > 0, c.patchSize % c.hogCell == 0 else {
            throw ConfigError("patch_size \(c.patchSize) must be a multiple of hog_cell \(c.hogCell)")
        }
        config = c
        let d = c.embedDim
        patchEmbed = try PatchEmbed(c.dims, inChans: c.inChans, tPatchSize: c.tPatchSize)
        func param(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape).requiresGrad(true) }
        clsToken = c.clsEmbed ? try param([1, 1, d]) : nil
        posEmbedClass = c.clsEmbed ? try param([1, 1, d]) : nil
        posEmbedSpatial = try param([1, patchEmbed.spatialTokens, d])
        posEmbedTemporal = try param([1, patchEmbed.tGridSize, d])
        maskToken = try param([1, 1, d])
        blocks = try dropPathRates(c.dropPathRate, c.depth).map {
            try Block(dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, dropPath: $0, eps: c.normEps)
        }
        norm = try LayerNorm(d, eps: c.normEps)
        hog = HOG(orientations: c.hogOrientations, cellSize: c.hogCell, cellsPerPatch: c.patchSize / c.hogCell)
        predHead = try Linear(d, hog.featureDim(channels: c.inChans))
        try Init.torchDefault(weight: patchEmbed.proj.weight, bias: patchEmbed.proj.bias, generator: generator)
        try Init.xavierUniform(patchEmbed.proj.weight, generator: generator)
        try vitInit(
            self, tokens: [clsToken, posEmbedClass, posEmbedSpatial, posEmbedTemporal, maskToken].compactMap { $0 },
            generator: generator)
    }

    /// Frame index of each cube's centre: t·u + u/2.
    public var centreFrames: [Int] { (0 ..< tGrid).map { $0 * config.tPatchSize + config.tPatchSize / 2 } }

    /// x: [N, 3, T, H, W] → HOG targets [N, T'·S, C·cpp²·9] (t-major tokens), on x's device.
    public func forwardTarget(_ x: Tensor) throws -> Tensor {
        let (n, c, h, w) = (x.size(0), x.size(1), x.size(3), x.size(4))
        let idx = try Tensor(centreFrames.map(Int64.init), shape: [tGrid]).to(x.device)
        let frames = try x.detach().indexSelect(dim: 2, index: idx).transpose(1, 2).reshape([n * tGrid, c, h, w])
        let f = try hog(frames)
        return try f.reshape([n, tGrid * f.size(1), f.size(2)])
    }

    /// x: [N, 3, T, H, W], mask: [N, L] (1 = masked) → features [N, L, D] after `norm` (cls removed).
    public func forwardFeatures(_ x: Tensor, mask: Tensor) throws -> Tensor {
        try checkClip(x, model: "MaskFeat", chans: config.inChans, frames: config.numFrames, size: config.imgSize)
        let (n, l, d) = (x.size(0), numTokens, config.embedDim)
        guard mask.shape == [n, l] else {
            throw ConfigError("MaskFeat mask must be [\(n), \(l)] (1 = masked), got \(mask.shape)")
        }
        var f = try patchEmbed(x).reshape([n, l, d])
        let m = try mask.to(f.dtype).unsqueeze(-1)
        f = try f * (1 - m) + maskToken * m
        f = try f + separablePosEmbed(spatial: posEmbedSpatial, temporal: posEmbedTemporal, tGrid: tGrid, sGrid: sGrid)
        if let clsToken, let posEmbedClass {
            f = try Tensor.cat([(clsToken + posEmbedClass).expand([n, 1, d]), f], dim: 1)
        }
        for b in blocks { f = try b(f) }
        f = try norm(f)
        return clsToken == nil ? f : try f.slice(dim: 1, start: 1)
    }

    /// x: [N, 3, T, H, W], mask [N, L] → (loss, pred [N, L, F], target [N, L, F]).
    public func callAsFunction(_ x: Tensor, mask: Tensor) throws -> (loss: Tensor, pred: Tensor, target: Tensor) {
        let pred = try predHead(forwardFeatures(x, mask: mask))
        let target = try forwardTarget(x)
        let m = try mask.to(.float32)
        let perToken = try (pred.to(.float32) - target).square().mean(dims: [-1])
        return (try (perToken * m).sum() / m.sum(), pred, target)
    }

    /// Cube masks for a batch at `config.maskRatio` (see `cubeMask`).
    public func makeMask(batch n: Int, seed: UInt64) throws -> Tensor {
        let g = patchEmbed.gridSize
        return try cubeMask(batch: n, tGrid: tGrid, hGrid: g, wGrid: g, ratio: config.maskRatio, seed: seed)
    }
}

/// MaskFeat cube masking: BEiT's block-wise masking extended in time. Each sample draws spatiotemporal cubes — a
/// time extent `1…T'`, a spatial area `U(minArea, remaining / extent)` with aspect ratio log-uniform in
/// [0.3, 1/0.3], a uniform position — keeping a cube when it masks new tokens without exceeding the target
/// `round(ratio · L)`; after 10 failed draws in a row the remainder is filled with random unmasked tokens (ours, so
/// every sample masks exactly the target count). → mask [N, T'·H'·W'] float32 (1 = masked), t-major tokens.
public func cubeMask(batch n: Int, tGrid: Int, hGrid: Int, wGrid: Int, ratio: Double, seed: UInt64, minArea: Int = 4)
    throws -> Tensor
{
    let l = tGrid * hGrid * wGrid
    let target = Int((ratio * Double(l)).rounded(.toNearestOrAwayFromZero))
    guard ratio >= 0, ratio < 1, target < l else {
        throw ConfigError("mask_ratio \(ratio) must be in [0, 1) (masks \(target) of \(l) tokens)")
    }
    var out = [Float](repeating: 0, count: n * l)
    for i in 0 ..< n {
        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x2545_F491_4F6C_DD1D)
        var m = [Bool](repeating: false, count: l)
        var count = 0, fails = 0
        while count < target, fails < 10 {
            let remaining = target - count
            let dt = Int.random(in: 1 ... tGrid, using: &rng)
            let maxArea = max(Double(minArea), Double(remaining) / Double(dt))
            let area = Double.random(in: Double(minArea) ... maxArea, using: &rng)
            let ar = exp(Double.random(in: log(0.3) ... log(1 / 0.3), using: &rng))
            let bh = Int((area * ar).squareRoot().rounded()), bw = Int((area / ar).squareRoot().rounded())
            guard bh >= 1, bw >= 1, bh <= hGrid, bw <= wGrid else { fails += 1; continue }
            let (t0, h0, w0) = (
                Int.random(in: 0 ... (tGrid - dt), using: &rng), Int.random(in: 0 ... (hGrid - bh), using: &rng),
                Int.random(in: 0 ... (wGrid - bw), using: &rng)
            )
            var new: [Int] = []
            for t in t0 ..< (t0 + dt) {
                for h in h0 ..< (h0 + bh) {
                    for w in w0 ..< (w0 + bw) {
                        let k = (t * hGrid + h) * wGrid + w
                        if !m[k] { new.append(k) }
                    }
                }
            }
            guard !new.isEmpty, new.count <= remaining else { fails += 1; continue }
            for k in new { m[k] = true }
            count += new.count; fails = 0
        }
        if count < target {
            var free = (0 ..< l).filter { !m[$0] }
            free.shuffle(using: &rng)
            for k in free.prefix(target - count) { m[k] = true }
        }
        for k in 0 ..< l where m[k] { out[i * l + k] = 1 }
    }
    return try Tensor(out, shape: [n, l])
}
