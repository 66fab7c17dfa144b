import Foundation
import Torch

/// Histograms of oriented gradients as MaskFeat's target, defined as scikit-image's
/// `hog(channel, orientations: 9, pixels_per_cell: (8, 8), cells_per_block: (2, 2), block_norm: "L2")` run on each
/// colour channel separately, with the blocks taken at patch-aligned positions (one block per patch):
/// central-difference gradients (no ½, zero on the border rows/columns), unsigned orientation
/// `deg(atan2(g_row, g_col)) mod 180`, hard binning, per-cell mean of the magnitudes per bin, then per patch and
/// channel `v / sqrt(Σv² + eps²)`. No gradient. Frames on the CPU are computed in Swift Double, one thread per
/// (image, channel) (the reference); frames on another device (CUDA, `meta`) by `tensorPath`, float64 libtorch ops on
/// that device, so the target never leaves it.
public struct HOG: Sendable {
    public var orientations = 9
    public var cellSize = 8
    /// Cells per patch side (patch = cellSize · cellsPerPatch pixels).
    public var cellsPerPatch = 2
    public var eps = 1e-5
    public init(orientations: Int = 9, cellSize: Int = 8, cellsPerPatch: Int = 2, eps: Double = 1e-5) {
        self.orientations = orientations; self.cellSize = cellSize; self.cellsPerPatch = cellsPerPatch; self.eps = eps
    }

    public var patchSize: Int { cellSize * cellsPerPatch }
    /// Features per token for `channels` channels: C · cpp² · bins (108 for RGB, 16×16 patches).
    public func featureDim(channels: Int) -> Int { channels * cellsPerPatch * cellsPerPatch * orientations }

    /// frames: [N, C, H, W] → [N, (H/P)·(W/P), C·cpp²·bins] float32; per token the order is (channel, cell row,
    /// cell column, bin), tokens row-major over patches.
    /// Frames on the CPU take the Swift Double loop, frames elsewhere `tensorPath` (same definition, on-device).
    public func callAsFunction(_ frames: Tensor) throws -> Tensor {
        let (n, c, h, w) = try checkedShape(frames)
        if frames.device != .cpu { return try tensorPath(frames) }
        let p = patchSize
        let x = try frames.to(.float64).contiguous().toArray(Double.self)
        let (hc, wc, hp, wp, k, nb) = (h / cellSize, w / cellSize, h / p, w / p, cellsPerPatch, orientations)
        let perToken = featureDim(channels: c)
        var out = [Float](repeating: 0, count: n * hp * wp * perToken)
        let binWidth = 180.0 / Double(nb), area = Double(cellSize * cellSize), eps = self.eps, cellSize = self.cellSize
        out.withUnsafeMutableBufferPointer { ob in
            let dst = ob.baseAddress!
            // one job per (image, channel): each writes its own slice of every token's features
            DispatchQueue.concurrentPerform(iterations: n * c) { job in
                let (img, ch) = (job / c, job % c)
                let base = (img * c + ch) * h * w
                var hist = [Double](repeating: 0, count: hc * wc * nb)
                for r in 0 ..< h {
                    for col in 0 ..< w {  // border rows have no row gradient, border columns no column gradient
                        let gr = r == 0 || r == h - 1 ? 0 : x[base + (r + 1) * w + col] - x[base + (r - 1) * w + col]
                        let gc = col == 0 || col == w - 1 ? 0 : x[base + r * w + col + 1] - x[base + r * w + col - 1]
                        let mag = (gr * gr + gc * gc).squareRoot()
                        if mag == 0 { continue }
                        var ori = atan2(gr, gc) * (180 / Double.pi)  // numpy rad2deg
                        ori = ori.truncatingRemainder(dividingBy: 180)
                        if ori < 0 { ori += 180 }
                        let bin = min(Int(ori / binWidth), nb - 1)
                        hist[((r / cellSize) * wc + col / cellSize) * nb + bin] += mag
                    }
                }
                // per patch: cpp × cpp cells × bins, L2-normalised
                var v = [Double](repeating: 0, count: k * k * nb)
                for pr in 0 ..< hp {
                    for pc in 0 ..< wp {
                        var ss = 0.0
                        for cr in 0 ..< k {
                            for cc in 0 ..< k {
                                for b in 0 ..< nb {
                                    let e = hist[((pr * k + cr) * wc + pc * k + cc) * nb + b] / area
                                    v[(cr * k + cc) * nb + b] = e
                                    ss += e * e
                                }
                            }
                        }
                        let norm = (ss + eps * eps).squareRoot()
                        let o = ((img * hp + pr) * wp + pc) * perToken + ch * k * k * nb
                        for j in v.indices { dst[o + j] = Float(v[j] / norm) }
                    }
                }
            }
        }
        return try Tensor(out, shape: [n, hp * wp, perToken])
    }

    /// (N, C, H, W) of `frames`, checked: 4-D, H and W multiples of the patch size.
    func checkedShape(_ frames: Tensor) throws -> (Int, Int, Int, Int) {
        let sh = frames.shape
        guard sh.count == 4 else { throw TorchError("HOG expects frames [N, C, H, W], got \(sh)") }
        let (h, w) = (sh[2], sh[3])
        guard h % patchSize == 0, w % patchSize == 0, h >= 3, w >= 3 else {
            throw TorchError("HOG: frame size \(h)×\(w) must be a multiple of the patch size \(patchSize)")
        }
        return (sh[0], sh[1], h, w)
    }

    /// The same HOG from float64 libtorch ops on the frames' own device (nothing is read back to the host), for
    /// frames on CUDA or `meta`; on CPU frames it equals the Swift path up to summation order (~1e-15).
    ///
    /// The orientation is binned without atan2 (the binding has none): the gradient is folded into the upper half
    /// plane (negated where g_row < 0, or g_row = 0 and g_col < 0), where its angle θ ∈ [0°, 180°) is at least the
    /// bin edge φ exactly when `g_row·cos φ − g_col·sin φ ≥ 0`; the bin is the number of edges 1 … bins−1 reached
    /// (hence at most bins−1). This is the same bin as `floor((deg(atan2) mod 180) / (180/bins))` except for a
    /// gradient within rounding (~1e-16 relative) of an edge, e.g. g_row > 0 so tiny against g_col < 0 that atan2
    /// rounds to exactly 180° (→ bin 0 there, bins−1 here).
    public func tensorPath(_ frames: Tensor) throws -> Tensor {
        let (n, c, h, w) = try checkedShape(frames)
        let (hc, wc, hp, wp, k, nb, cs) = (
            h / cellSize, w / cellSize, h / patchSize, w / patchSize, cellsPerPatch, orientations, cellSize
        )
        let x = try frames.detach().to(.float64)
        let dev = x.device
        // central differences; the border rows (columns) have no row (column) gradient
        let zRow = try Tensor.zeros([n, c, 1, w], dtype: .float64, device: dev)
        let gr = try Tensor.cat([zRow, x.slice(dim: 2, start: 2) - x.slice(dim: 2, end: h - 2), zRow], dim: 2)
        let zCol = try Tensor.zeros([n, c, h, 1], dtype: .float64, device: dev)
        let gc = try Tensor.cat([zCol, x.slice(dim: 3, start: 2) - x.slice(dim: 3, end: w - 2), zCol], dim: 3)
        let mag = try (gr * gr + gc * gc).sqrt()
        // fold into the upper half plane (unsigned orientation), then count the bin edges reached
        // (by ±1 products: libtorch has no meta kernel for where / logical_and / logical_or)
        let flip = try gr.lt(0).to(.float64) + gr.eq(0).to(.float64) * gc.lt(0).to(.float64)
        let sign = try 1 - flip * 2
        let (fr, fc) = (try gr * sign, try gc * sign)
        var bin = try Tensor.zeros([n, c, h, w], dtype: .float64, device: dev)
        for e in 1 ..< nb {
            let phi = Double(e) * (Double.pi / Double(nb))
            bin = try bin + (fr * Foundation.cos(phi) - fc * Foundation.sin(phi)).ge(0).to(.float64)
        }
        // per cell and bin: mean of the magnitudes → [N, C, Hc, Wc, bins]
        var cells = [Tensor]()
        for b in 0 ..< nb {
            let m = try mag * bin.eq(Double(b)).to(.float64)
            cells.append(try m.reshape([n, c, hc, cs, wc, cs]).sum(dims: [3, 5]))
        }
        let hist = try Tensor.stack(cells, dim: -1) / Double(cs * cs)
        // per patch and channel: cpp × cpp cells × bins, L2-normalised; tokens row-major, (channel, cell, bin) order
        let v = try hist.reshape([n, c, hp, k, wp, k, nb]).permute(0, 2, 4, 1, 3, 5, 6)
            .reshape([n, hp * wp, c, k * k * nb])
        let norm = try ((v * v).sum(dims: [3], keepDim: true) + eps * eps).sqrt()
        return try (v / norm).reshape([n, hp * wp, featureDim(channels: c)]).to(.float32)
    }
}
