import Foundation
import Testing
import TensorFiles
import TestSupport
import Torch
@testable import Models

/// HOG's device-generic path (float64 libtorch ops, used for frames off the CPU) against the Swift Double path (the
/// scikit-image-checked reference), both run on CPU frames.
struct HOGTensorPathTests {
    /// ‖tensorPath − Swift path‖∞ on `frames`, after checking both give the same shape and dtype.
    func maxDiff(_ hog: HOG, _ frames: Tensor) throws -> Double {
        let (a, b) = (try hog.tensorPath(frames), try hog(frames))
        #expect(a.shape == b.shape && a.dtype == .float32 && a.device == .cpu)
        let (x, y) = (try a.toArray(Float.self), try b.toArray(Float.self))
        #expect(y.contains { $0 > 0.1 } || y.allSatisfy { $0 == 0 })
        return zip(x, y).map { Double(abs($0 - $1)) }.max() ?? 0
    }

    /// The HOG settings exercised: MaskFeat's default, one cell per patch (MaskFeat with patch = cell), and an
    /// uneven bin count on small cells.
    static let settings = [HOG(), HOG(cellsPerPatch: 1), HOG(orientations: 7, cellSize: 4, cellsPerPatch: 3)]

    /// Gaussian noise frames of several sizes, float32 and float64.
    @Test(arguments: 0 ..< settings.count) func randomFrames(_ s: Int) throws {
        let hog = Self.settings[s], p = hog.patchSize
        for (i, (n, c, gh, gw)) in [(2, 3, 1, 1), (1, 2, 2, 3), (3, 1, 3, 2)].enumerated() {
            let x = try Tensor.randn([n, c, gh * p, gw * p], generator: Generator(seed: UInt64(10 * s + i)))
            #expect(try maxDiff(hog, x) < 1e-5, "\(hog) on \(x.shape)")
            #expect(try maxDiff(hog, x.to(.float64)) < 1e-5, "\(hog) on float64 \(x.shape)")
        }
    }

    /// Smooth and structured frames: sinusoids, 8-bit quantised sinusoids (integer gradients), ramps in each
    /// direction (0°, 90°, 45°, 135°, and the 180° ≡ 0° fold of a decreasing column ramp), and a constant frame.
    @Test(arguments: 0 ..< settings.count) func smoothFrames(_ s: Int) throws {
        let hog = Self.settings[s], p = hog.patchSize
        for (gh, gw) in [(1, 1), (2, 3), (3, 2)] {
            let (h, w) = (gh * p, gw * p)
            let fields: [(String, (Double, Double) -> Double)] = [
                ("sin", { r, c in Foundation.sin(0.31 * r) * Foundation.cos(0.17 * c) + 0.2 * Foundation.sin(r + c) }),
                ("quantised", { r, c in (127.5 + 127.5 * Foundation.sin(0.23 * r - 0.4 * c)).rounded() }),
                ("rows", { r, _ in 2 * r }), ("cols down", { _, c in -3 * c }), ("diagonal", { r, c in r + c }),
                ("anti-diagonal", { r, c in r - c }), ("radial", { r, c in ((r - 7) * (r - 7) + (c - 5) * (c - 5)) }),
                ("constant", { _, _ in 0.5 })
            ]
            for (name, f) in fields {
                var px = [Double]()
                for ch in 0 ..< 2 { for r in 0 ..< h { for c in 0 ..< w { px.append(f(Double(r + ch), Double(c))) } } }
                let x = try Tensor(px, shape: [1, 2, h, w])
                #expect(try maxDiff(hog, x) < 1e-5, "\(hog) on \(name) \(h)×\(w)")
            }
        }
    }

    /// The tensor path also matches scikit-image's `hog` on the stored 8-bit frames.
    @Test func matchesScikitImage() throws {
        let t = Dictionary(
            uniqueKeysWithValues: try TensorFile.loadOrdered(fixturePath("family_hog.safetensors", in: .module)).0)
        let h = try HOG().tensorPath(t["input.frames"]!)
        #expect(h.shape == [2, 6, 108])
        #expect(try maxRel(h, t["out.hog"]!) < 1e-5)
        #expect(throws: TorchError.self) { try HOG().tensorPath(t["input.frames"]!.slice(dim: 3, end: 40)) }
    }

    /// Frames on `meta` take the tensor path and stay there (the Swift path would have to read their values);
    /// MaskFeat's target of a meta clip is on meta.
    @Test func staysOnTheFramesDevice() throws {
        let h = try HOG()(Tensor.zeros([2, 3, 32, 48], device: .meta))
        #expect(h.shape == [2, 6, 108] && h.device == .meta && h.dtype == .float32)
        var c = MaskFeatConfig()
        (c.imgSize, c.embedDim, c.depth, c.numHeads, c.numFrames) = (32, 32, 1, 2, 4)
        let m = try MaskFeat(c, generator: Generator(seed: 1))
        let target = try m.forwardTarget(Tensor.zeros([2, 3, 4, 32, 32], device: .meta))
        #expect(target.device == .meta && target.shape == [2, m.numTokens, m.hog.featureDim(channels: 3)])
    }
}
