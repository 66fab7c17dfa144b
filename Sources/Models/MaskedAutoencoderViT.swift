import Foundation
import NN
import Torch

/// Spatiotemporal masked autoencoder (Feichtenhofer et al. 2022) with mae_st's state-dict keys.
/// Input x: [N, 3, T, H, W]; tokens t-major; optional cls token. Positions (`MAEConfig.posEmbedType`): learned
/// separable (mae_st default), learned joint `pos_embed` [1, (1 +) L, D] / `decoder_pos_embed` [1, (1 +) L, Dd]
/// (mae_st `sep_pos_embed` false; row 0 is the cls token's), or a fixed sinusoid (VideoMAE).
public final class MaskedAutoencoderViT: Module {
    public var training = true
    public let config: MAEConfig
    public let maskType: MaskType
    public let tPredPatchSize: Int

    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor?, decoderClsToken: Tensor?
    public let posEmbedSpatial: Tensor?, posEmbedTemporal: Tensor?, posEmbedClass: Tensor?
    /// Learned joint table [1, (1 +) L, D] (`.joint`).
    public let posEmbed: Tensor?
    public let blocks: [Block]
    public let norm: LayerNorm
    public let decoderEmbed: Linear
    public let maskToken: Tensor
    public let decoderPosEmbedSpatial: Tensor?, decoderPosEmbedTemporal: Tensor?, decoderPosEmbedClass: Tensor?
    /// Learned joint table [1, (1 +) L, Dd] (`.joint`).
    public let decoderPosEmbed: Tensor?
    public let decoderBlocks: [Block]
    public let decoderNorm: LayerNorm
    public let decoderPred: Linear
    /// Fixed sinusoid tables [1, L, D], [1, L, Dd] (`.sinusoid`); not in the state dict.
    let sincosPosEmbed: Constant?, decoderSincosPosEmbed: Constant?

    public var tGrid: Int { patchEmbed.tGridSize }
    public var sGrid: Int { patchEmbed.spatialTokens }

    public init(_ c: MAEConfig, generator: Generator? = nil) throws {
        guard let mt = MaskType(rawValue: c.maskType) else {
            throw ConfigError(
                "--mask_type '\(c.maskType)': expected one of "
                    + "\(MaskType.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard c.inChans == 3 else { throw ConfigError("in_chans must be 3 (patchify assumes RGB)") }
        guard c.predTDim > 0, (c.tPatchSize * c.predTDim) % c.numFrames == 0, c.predTDim <= c.numFrames else {
            throw ConfigError(
                "pred_t_dim \(c.predTDim) must divide into num_frames \(c.numFrames) with t_patch_size \(c.tPatchSize)")
        }
        config = c; maskType = mt
        tPredPatchSize = c.tPatchSize * c.predTDim / c.numFrames
        let (d, dd) = (c.embedDim, c.decoderEmbedDim)
        patchEmbed = try PatchEmbed(c.dims, inChans: c.inChans, tPatchSize: c.tPatchSize)
        let (t, s, l) = (patchEmbed.tGridSize, patchEmbed.spatialTokens, patchEmbed.numPatches)
        func param(_ shape: [Int]) throws -> Tensor { try Tensor.zeros(shape).requiresGrad(true) }
        clsToken = c.clsEmbed ? try param([1, 1, d]) : nil
        decoderClsToken = c.clsEmbed ? try param([1, 1, dd]) : nil
        let (type, sep, rows) = (c.posEmbedType, c.posEmbedType == .separable, l + (c.clsEmbed ? 1 : 0))
        posEmbedSpatial = sep ? try param([1, s, d]) : nil
        posEmbedTemporal = sep ? try param([1, t, d]) : nil
        posEmbedClass = sep && c.clsEmbed ? try param([1, 1, d]) : nil
        decoderPosEmbedSpatial = sep ? try param([1, s, dd]) : nil
        decoderPosEmbedTemporal = sep ? try param([1, t, dd]) : nil
        decoderPosEmbedClass = sep && c.clsEmbed ? try param([1, 1, dd]) : nil
        posEmbed = type == .joint ? try param([1, rows, d]) : nil
        decoderPosEmbed = type == .joint ? try param([1, rows, dd]) : nil
        sincosPosEmbed = type == .sinusoid ? Constant(try sinusoidTable(positions: l, dim: d)) : nil
        decoderSincosPosEmbed = type == .sinusoid ? Constant(try sinusoidTable(positions: l, dim: dd)) : nil
        blocks = try (0 ..< c.depth).map { _ in
            try Block(dim: d, heads: c.numHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, eps: c.normEps)
        }
        norm = try LayerNorm(d, eps: c.normEps)
        decoderEmbed = try Linear(d, dd)
        maskToken = try param([1, 1, dd])
        decoderBlocks = try (0 ..< c.decoderDepth).map { _ in
            try Block(dim: dd, heads: c.decoderNumHeads, mlpRatio: c.mlpRatio, qkvBias: c.qkvBias, eps: c.normEps)
        }
        decoderNorm = try LayerNorm(dd, eps: c.normEps)
        decoderPred = try Linear(dd, tPredPatchSize * c.patchSize * c.patchSize * c.inChans)
        try initializeWeights(generator)
    }

    /// MAE init: xavier-uniform linears and patch conv (as 2-D), zero biases, LayerNorm 1/0, trunc-normal(.02)
    /// positions and cls, normal(.02) mask token; `decoder_cls_token` stays 0 (as mae_st).
    func initializeWeights(_ g: Generator?) throws {
        // The conv bias keeps PyTorch's default init (as mae_st); redraw it from `g` so init depends on `g` alone.
        try Init.torchDefault(weight: patchEmbed.proj.weight, bias: patchEmbed.proj.bias, generator: g)
        for p in [
            clsToken, posEmbedSpatial, posEmbedTemporal, posEmbedClass, decoderPosEmbedSpatial, decoderPosEmbedTemporal,
            decoderPosEmbedClass, posEmbed, decoderPosEmbed
        ].compactMap({ $0 }) {
            try Init.truncNormal(p, std: 0.02, generator: g)
        }
        if config.truncInit {
            try Init.truncNormal(patchEmbed.proj.weight, std: 1, generator: g)
            try Init.truncNormal(maskToken, std: 0.02, generator: g)
        } else {
            try Init.xavierUniform(patchEmbed.proj.weight, generator: g)
            try Init.normal(maskToken, std: 0.02, generator: g)
        }
        for (_, m) in namedModules() {
            if let lin = m as? Linear {
                if config.truncInit {
                    try Init.truncNormal(lin.weight, std: 0.02, generator: g)
                } else {
                    try Init.xavierUniform(lin.weight, generator: g)
                }
                if let b = lin.bias { try Init.constant(b, 0) }
            } else if let ln = m as? LayerNorm {
                try Init.constant(ln.weight, 1); try Init.constant(ln.bias, 0)
            }
        }
    }

    // MARK: forward

    /// Positions of the patch tokens [1, L, D] (encoder) or [1, L, Dd] (decoder); joint: the table's rows after the
    /// cls row.
    func patchPos(decoder: Bool) throws -> Tensor {
        switch config.posEmbedType {
        case .separable:
            return try decoder
                ? separablePosEmbed(
                    spatial: decoderPosEmbedSpatial!, temporal: decoderPosEmbedTemporal!, tGrid: tGrid, sGrid: sGrid)
                : separablePosEmbed(spatial: posEmbedSpatial!, temporal: posEmbedTemporal!, tGrid: tGrid, sGrid: sGrid)
        case .joint:
            return try (decoder ? decoderPosEmbed! : posEmbed!).slice(dim: 1, start: config.clsEmbed ? 1 : 0)
        case .sinusoid:
            return decoder ? decoderSincosPosEmbed!.value : sincosPosEmbed!.value
        }
    }

    /// The cls token's position [1, 1, D] / [1, 1, Dd]: `pos_embed_class`, or row 0 of the joint table; nil for the
    /// sinusoid (the cls token gets none) or without a cls token.
    func clsPos(decoder: Bool) throws -> Tensor? {
        guard config.clsEmbed else { return nil }
        switch config.posEmbedType {
        case .separable: return decoder ? decoderPosEmbedClass : posEmbedClass
        case .joint: return try (decoder ? decoderPosEmbed! : posEmbed!).slice(dim: 1, start: 0, end: 1)
        case .sinusoid: return nil
        }
    }

    /// x: [N, 3, T, H, W], idsKeep: [N, K] → latent [N, K, D] (after `norm`, cls removed).
    public func forwardEncoder(_ x: Tensor, idsKeep: Tensor) throws -> Tensor {
        let (n, d) = (x.size(0), config.embedDim)
        var h =
            try patchEmbed(x, keeping: idsKeep)
            + gatherTokens(patchPos(decoder: false).expand([n, tGrid * sGrid, d]), idsKeep)
        if let clsToken {
            var cls = try clsToken.expand([n, 1, d])
            if let pos = try clsPos(decoder: false) { cls = try cls + pos }
            h = try Tensor.cat([cls, h], dim: 1)
        }
        for b in blocks { h = try b(h) }
        h = try norm(h)
        return clsToken == nil ? h : try h.slice(dim: 1, start: 1)
    }

    /// [N, L', Dd] → [N, 1 + L', Dd] with the decoder cls token (+ its position) in front, if the model has one.
    func prependDecoderCls(_ h: Tensor) throws -> Tensor {
        guard let decoderClsToken else { return h }
        var cls = try decoderClsToken.expand([h.size(0), 1, h.size(2)])
        if let pos = try clsPos(decoder: true) { cls = try cls + pos }
        return try Tensor.cat([cls.to(h.dtype), h], dim: 1)
    }

    /// latent: [N, K, D], idsRestore: [N, L] → pred [N, L, u·p·p·3].
    public func forwardDecoder(_ latent: Tensor, idsRestore: Tensor) throws -> Tensor {
        let (n, k, l) = (latent.size(0), latent.size(1), idsRestore.size(1))
        var h = try decoderEmbed(latent)
        let dd = h.size(2)
        h = try Tensor.cat([h, maskToken.to(h.dtype).expand([n, l - k, dd])], dim: 1)
        h = try gatherTokens(h, idsRestore) + patchPos(decoder: true)
        h = try prependDecoderCls(h)
        for b in decoderBlocks { h = try b(h) }
        h = try decoderPred(decoderNorm(h))
        return decoderClsToken == nil ? h : try h.slice(dim: 1, start: 1)
    }

    /// Dual masking: the decoder sees the visible tokens (at their positions) and mask tokens at `idsDecode` only;
    /// attention is order-free, so nothing is unshuffled. latent [N, K, D], idsKeep [N, K], idsDecode [N, M]
    /// → pred [N, M, u·p·p·3] of the decoded tokens.
    public func forwardDecoder(_ latent: Tensor, idsKeep: Tensor, idsDecode: Tensor) throws -> Tensor {
        let (n, m) = (latent.size(0), idsDecode.size(1))
        var h = try decoderEmbed(latent)
        let dd = h.size(2)
        let pos = try patchPos(decoder: true).to(h.dtype).expand([n, tGrid * sGrid, dd])
        h = try Tensor.cat(
            [h + gatherTokens(pos, idsKeep), maskToken.to(h.dtype).expand([n, m, dd]) + gatherTokens(pos, idsDecode)],
            dim: 1)
        h = try prependDecoderCls(h)
        for b in decoderBlocks { h = try b(h) }
        return try decoderPred(decoderNorm(h.slice(dim: 1, start: h.size(1) - m)))
    }

    /// Frame indices of the prediction target: linspace(0, T−1, pred_t_dim) truncated (float32 as torch).
    public func targetFrameIndices() throws -> Tensor {
        try Tensor.linspace(0, Double(config.numFrames - 1), count: config.predTDim).to(.int64)
    }

    /// imgs [N, 3, T2, H, W] → [N, (T2/u)·(H/p)·(W/p), u·p·p·3], per-token feature order (u, p, q, c).
    public func patchify(_ imgs: Tensor) throws -> Tensor {
        let s = imgs.shape
        let (n, c, t2, h, w) = (s[0], s[1], s[2], s[3], s[4])
        let (p, u) = (config.patchSize, tPredPatchSize)
        return try imgs.reshape([n, c, t2 / u, u, h / p, p, w / p, p]).permute(0, 2, 4, 6, 3, 5, 7, 1)
            .reshape([n, (t2 / u) * (h / p) * (w / p), u * p * p * c])
    }

    /// Inverse of `patchify`: [N, L, u·p·p·3] → [N, 3, T2, H, W].
    public func unpatchify(_ x: Tensor, frames t2: Int? = nil) throws -> Tensor {
        let (n, p, u, g) = (x.size(0), config.patchSize, tPredPatchSize, patchEmbed.gridSize)
        let t2 = t2 ?? config.predTDim
        return try x.reshape([n, t2 / u, g, g, u, p, p, 3]).permute(0, 7, 1, 4, 2, 5, 3, 6).reshape([
            n, 3, t2, g * p, g * p
        ])
    }

    /// The reconstruction target [N, L, u·p·p·3] (per-patch normalised with `norm_pix_loss`).
    public func forwardTarget(_ imgs: Tensor) throws -> Tensor {
        var target = try patchify(imgs.indexSelect(dim: 2, index: targetFrameIndices().to(imgs.device)))
        if config.normPixLoss {
            let mean = try target.mean(dims: [-1], keepDim: true)
            let v = try target.variance(dims: [-1], keepDim: true)
            target = try (target - mean) / (v + 1e-6).sqrt()
        }
        return target
    }

    /// MSE per token, averaged over masked tokens only.
    public func forwardLoss(_ imgs: Tensor, pred: Tensor, mask: Tensor) throws -> Tensor {
        let target = try forwardTarget(imgs)
        let perToken = try (pred.to(.float32) - target).square().mean(dims: [-1])
        return try (perToken * mask).sum() / mask.sum()
    }

    /// Uniform [0, 1) decoder-masking noise [N, L].
    public func makeDecoderNoise(batch n: Int, generator: Generator? = nil) throws -> Tensor {
        try Tensor.rand([n, tGrid * sGrid], generator: generator)
    }

    /// Uniform [0, 1) noise of the shape the mask type needs.
    public func makeNoise(batch n: Int, generator: Generator? = nil) throws -> Tensor {
        try Tensor.rand(maskType.noiseShape(batch: n, tGrid: tGrid, sGrid: sGrid), generator: generator)
    }

    /// x: [N, 3, T, H, W] → (loss, pred [N, L, u·p·p·3], mask [N, L]). With `decoder_mask_ratio` > 0 and
    /// `decoderNoise` [N, L]: pred [N, M, u·p·p·3] of the decoded tokens (`decoderMasking`), and the loss over them.
    public func callAsFunction(_ x: Tensor, noise: Tensor, maskRatio: Double? = nil, decoderNoise: Tensor? = nil) throws
        -> (loss: Tensor, pred: Tensor, mask: Tensor)
    {
        let m = try masking(maskType, noise: noise, ratio: maskRatio ?? config.maskRatio, tGrid: tGrid, sGrid: sGrid)
        let latent = try forwardEncoder(x, idsKeep: m.idsKeep)
        if config.decoderMaskRatio > 0, let decoderNoise {
            let ids = try decoderMasking(
                mask: m.mask, decoderNoise: decoderNoise, ratio: config.decoderMaskRatio, kept: m.idsKeep.size(1))
            let pred = try forwardDecoder(latent, idsKeep: m.idsKeep, idsDecode: ids)
            let target = try gatherTokens(forwardTarget(x), ids)
            return (try (pred.to(.float32) - target).square().mean(), pred, m.mask)
        }
        let pred = try forwardDecoder(latent, idsRestore: m.idsRestore)
        return (try forwardLoss(x, pred: pred, mask: m.mask), pred, m.mask)
    }
}
