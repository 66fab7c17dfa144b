import Torch

/// How tokens are removed for MAE pre-training; every random decision is a function of a `noise` tensor (uniform
/// [0, 1)). Mask convention: 1 = removed. See reference/README.md for the definitions.
public enum MaskType: String, CaseIterable, Sendable {
    /// Per-token (MAE-ST): keep the `int(L·(1−r))` tokens of smallest noise. noise [N, L].
    case random
    /// VideoMAE tube: one spatial mask repeated over time; `int(r·S)` positions masked. noise [N, S].
    case tube
    /// optimized-stmae's `temporal`: the first `int(L·(1−r))` tokens in time order are visible, the future is
    /// masked. No noise ([N, 0]).
    case temporal
    /// optimized-stmae's `boundary`: of K = `int(L·(1−r))` visible tokens, the first K − K/2 and the last K/2 in
    /// time order (both ends of the clip); the middle is masked. No noise ([N, 0]).
    case boundary
    /// Whole random time slices (the paper's "time-only"); `int(r·T')` slices masked. noise [N, T'].
    case timeSlice = "time_slice"
    /// One random contiguous window of visible time slices, everything towards both clip ends masked. noise [N, 1].
    case window

    public func noiseShape(batch n: Int, tGrid: Int, sGrid: Int) -> [Int] {
        switch self {
        case .random: [n, tGrid * sGrid]
        case .tube: [n, sGrid]
        case .temporal, .boundary: [n, 0]
        case .timeSlice: [n, tGrid]
        case .window: [n, 1]
        }
    }

    /// Visible tokens per sample.
    public func numKept(ratio r: Double, tGrid: Int, sGrid: Int) -> Int {
        switch self {
        case .random, .temporal, .boundary: Int(Double(tGrid * sGrid) * (1 - r))
        case .tube: (sGrid - Int(r * Double(sGrid))) * tGrid
        case .timeSlice, .window: (tGrid - Int(r * Double(tGrid))) * sGrid
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
        throw TorchError(
            "\(type) masking needs noise \(type.noiseShape(batch: n, tGrid: tGrid, sGrid: sGrid)), got \(noise.shape)")
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
    case .temporal, .boundary:
        let head = type == .temporal ? keep : keep - keep / 2
        let pos = try Tensor.arange(0, Double(l), dtype: .float32, device: noise.device).unsqueeze(0).expand([n, l])
        mask = try pos.ge(Double(head)).logicalAnd(pos.lt(Double(l - (keep - head)))).to(.float32)
    case .timeSlice:
        let rank = try noise.argsort(dim: 1).argsort(dim: 1)
        mask = try rank.ge(Double(keep / sGrid)).to(.float32).repeatInterleave(sGrid, dim: 1)
    case .window:
        let tKeep = keep / sGrid
        let start = try (noise.select(dim: 1, index: 0) * Double(tGrid - tKeep + 1)).floor().clamp(
            min: 0, max: Double(tGrid - tKeep)
        )
        .unsqueeze(1)
        let t = try Tensor.arange(0, Double(tGrid), dtype: .float32, device: noise.device).unsqueeze(0)
        let removed = try t.lt(start).logicalOr(t.ge(start + Double(tKeep)))
        mask = try removed.to(.float32).repeatInterleave(sGrid, dim: 1)
    }
    let idsShuffle = try mask.argsort(dim: 1, stable: true)
    return Masking(
        idsKeep: try idsShuffle.slice(dim: 1, end: keep), idsRestore: try idsShuffle.argsort(dim: 1), mask: mask)
}

/// Dual masking (VideoMAE V2, random rather than its running-cell pattern): of the masked tokens (mask 1, the same
/// count in every sample), the decoder keeps `int(masked · (1 − ratio))` (at least 1), those of smallest
/// `decoderNoise` [N, L]. → ids [N, M] int64. `kept`: the visible count (`idsKeep`'s width), so that nothing is read
/// from the device; nil counts the mask's ones.
public func decoderMasking(mask: Tensor, decoderNoise: Tensor, ratio: Double, kept: Int? = nil) throws -> Tensor {
    guard decoderNoise.shape == mask.shape else {
        throw TorchError("decoder noise must be \(mask.shape), got \(decoderNoise.shape)")
    }
    let masked = try kept.map { mask.size(1) - $0 } ?? Int(mask.select(dim: 0, index: 0).sum().item())
    let m = max(1, Int(Double(masked) * (1 - ratio)))
    return try (decoderNoise + (1 - mask) * 2).argsort(dim: 1).slice(dim: 1, end: m)
}
