import Foundation
import Torch

/// Histograms of oriented gradients as MaskFeat's target, defined as scikit-image's
/// `hog(channel, orientations: 9, pixels_per_cell: (8, 8), cells_per_block: (2, 2), block_norm: "L2")` run on each
/// colour channel separately, with the blocks taken at patch-aligned positions (one block per patch):
/// central-difference gradients (no ½, zero on the border rows/columns), unsigned orientation
/// `deg(atan2(g_row, g_col)) mod 180`, hard binning, per-cell mean of the magnitudes per bin, then per patch and
/// channel `v / sqrt(Σv² + eps²)`. Computed in Double on the CPU, one thread per (image, channel); no gradient.
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
    public func callAsFunction(_ frames: Tensor) throws -> Tensor {
        let sh = frames.shape
        guard sh.count == 4 else { throw TorchError("HOG expects frames [N, C, H, W], got \(sh)") }
        let (n, c, h, w) = (sh[0], sh[1], sh[2], sh[3])
        let p = patchSize
        guard h % p == 0, w % p == 0, h >= 3, w >= 3 else {
            throw TorchError("HOG: frame size \(h)×\(w) must be a multiple of the patch size \(p)")
        }
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
}
