import Torch

/// How tokens are removed for MAE pre-training; every decision is a function of a `noise` tensor (uniform [0, 1)).
/// Mask convention: 1 = removed. See reference/README.md for the definitions.
public enum MaskType: String, CaseIterable, Sendable {
    /// Per-token (MAE-ST): keep the `int(L·(1−r))` tokens of smallest noise. noise [N, L].
    case random
    /// VideoMAE tube: one spatial mask repeated over time; `int(r·S)` positions masked. noise [N, S].
    case tube
    /// Whole time slices ("time-only"); `int(r·T')` slices masked. noise [N, T'].
    case temporal
    /// One contiguous window of visible time slices, everything towards both clip boundaries masked. noise [N, 1].
    case boundary

    public func noiseShape(batch n: Int, tGrid: Int, sGrid: Int) -> [Int] {
        switch self {
        case .random: [n, tGrid * sGrid]
        case .tube: [n, sGrid]
        case .temporal: [n, tGrid]
        case .boundary: [n, 1]
        }
    }

    /// Visible tokens per sample.
    public func numKept(ratio r: Double, tGrid: Int, sGrid: Int) -> Int {
        switch self {
        case .random: Int(Double(tGrid * sGrid) * (1 - r))
        case .tube: (sGrid - Int(r * Double(sGrid))) * tGrid
        case .temporal, .boundary: (tGrid - Int(r * Double(tGrid))) * sGrid
        }
    }
}

/// The result of masking: ids_keep [N, K], ids_restore [N, L] (int64), mask [N, L] (float, 1 = removed).
public struct Masking {
    public let idsKeep: Tensor
    public let idsRestore: Tensor
    public let mask: Tensor
}

/// Masks from `noise`. `ids_shuffle` = kept then removed; `ids_restore = argsort(ids_shuffle)`.
public func masking(_ type: MaskType, noise: Tensor, ratio: Double, tGrid: Int, sGrid: Int) throws -> Masking {
    let n = noise.size(0), l = tGrid * sGrid
    guard noise.shape == type.noiseShape(batch: n, tGrid: tGrid, sGrid: sGrid) else {
        throw TorchError("\(type) masking needs noise \(type.noiseShape(batch: n, tGrid: tGrid, sGrid: sGrid)), got \(noise.shape)")
    }
    let keep = type.numKept(ratio: ratio, tGrid: tGrid, sGrid: sGrid)
    guard keep > 0, keep <= l else { throw TorchError("mask_ratio \(ratio) leaves \(keep) of \(l) tokens visible") }
    let mask: Tensor
    switch type {
    case .random:
        let idsShuffle = try noise.argsort(dim: 1)
        let idsRestore = try idsShuffle.argsort(dim: 1)
        let m = try idsRestore.ge(Double(keep)).to(.float32)  // rank ≥ keep → removed
        return Masking(idsKeep: try idsShuffle.slice(dim: 1, end: keep), idsRestore: idsRestore, mask: m)
    case .tube:
        let sKeep = keep / tGrid
        let rank = try noise.argsort(dim: 1).argsort(dim: 1)  // rank of each spatial position
        mask = try rank.ge(Double(sKeep)).to(.float32).repeat([1, tGrid])
    case .temporal:
        let rank = try noise.argsort(dim: 1).argsort(dim: 1)
        mask = try rank.ge(Double(keep / sGrid)).to(.float32).repeatInterleave(sGrid, dim: 1)
    case .boundary:
        let tKeep = keep / sGrid
        let start = try (noise.select(dim: 1, index: 0) * Double(tGrid - tKeep + 1)).floor().clamp(min: 0, max: Double(tGrid - tKeep))
            .unsqueeze(1)
        let t = try Tensor.arange(0, Double(tGrid), dtype: .float32).unsqueeze(0)
        let removed = try t.lt(start).logicalOr(t.ge(start + Double(tKeep)))
        mask = try removed.to(.float32).repeatInterleave(sGrid, dim: 1)
    }
    let idsShuffle = try mask.argsort(dim: 1, stable: true)
    return Masking(idsKeep: try idsShuffle.slice(dim: 1, end: keep), idsRestore: try idsShuffle.argsort(dim: 1), mask: mask)
}

/// Dual masking (VideoMAE V2, random rather than its running-cell pattern): of the masked tokens (mask 1, the same
/// count in every sample), the decoder keeps `int(masked · (1 − ratio))` (at least 1), those of smallest
/// `decoderNoise` [N, L]. → ids [N, M] int64.
public func decoderMasking(mask: Tensor, decoderNoise: Tensor, ratio: Double) throws -> Tensor {
    guard decoderNoise.shape == mask.shape else { throw TorchError("decoder noise must be \(mask.shape), got \(decoderNoise.shape)") }
    let masked = Int(try mask.select(dim: 0, index: 0).sum().item())
    let m = max(1, Int(Double(masked) * (1 - ratio)))
    return try (decoderNoise + (1 - mask) * 2).argsort(dim: 1).slice(dim: 1, end: m)
}
