// Evaluation views against mae_st's test transform and transformers' VideoMAEImageProcessor (reference fixture).
import Foundation
import Media
import Testing
@testable import Datasets

/// Tolerance on normalised values (|x| ≲ 2.7): float32 rounding only. mae_st normalises before it interpolates
/// and HF rescales in float64; either reorders a few float32 operations (≈ 1e-6). One uint8 level is
/// 1/(255·0.229) ≈ 0.017 and a wrong tap or crop offset moves values by ≫ 1e-3, so 1e-5 means "same pixels".
let evalTolerance: Float = 1e-5

@Suite struct EvalViewTests {
    @Test func fixtureFramesAreRebuiltExactly() {
        #expect(EvalFixture.cases.count == 8)
        for c in EvalFixture.cases {
            #expect(c.clip.pixels.reduce(Int64(0)) { $0 + Int64($1) } == c.inputSum, "\(c.name)")
        }
    }

    /// Both upstreams floor the long side (320×240 → 298 at 224, where rounding gave 299); mae_st keeps a frame
    /// whose short side is already the target as it is.
    @Test func shortSideSizesFloorTheLongSide() {
        #expect(EvalView.maeStSize(width: 320, height: 240, shortSide: 224) == (298, 224))
        #expect(EvalView.hfSize(width: 320, height: 240, shortSide: 224) == (298, 224))
        #expect(EvalView.maeStSize(width: 171, height: 128, shortSide: 64) == (85, 64))
        #expect(EvalView.hfSize(width: 97, height: 131, shortSide: 56) == (56, 75))
        #expect(EvalView.maeStSize(width: 97, height: 131, shortSide: 56) == (56, 75))
        #expect(EvalView.maeStSize(width: 171, height: 128, shortSide: 128) == (171, 128))
        #expect(EvalView.maeStSize(width: 64, height: 64, shortSide: 40) == (40, 40))
    }

    /// mae_st's `uniform_crop` rounds the centre offset up, HF's `center_crop` down.
    @Test func cropOrigins() {
        #expect(EvalView.cropOrigin(.maeSt, width: 171, height: 128, size: 112, spatialIndex: 1) == (30, 8))
        #expect(EvalView.cropOrigin(.huggingFace, width: 171, height: 128, size: 112, spatialIndex: 1) == (29, 8))
        #expect(EvalView.cropOrigin(.maeSt, width: 56, height: 75, size: 48, spatialIndex: 0) == (4, 0))
        #expect(EvalView.cropOrigin(.maeSt, width: 56, height: 75, size: 48, spatialIndex: 2) == (4, 27))
        #expect(EvalView.cropOrigin(.maeSt, width: 40, height: 40, size: 40, spatialIndex: 2) == (0, 0))
    }

    static func render(_ c: EvalCase, _ mode: EvalResize, spatialIndex: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: 3 * c.frames * c.crop * c.crop)
        out.withUnsafeMutableBufferPointer {
            EvalView.render(
                c.clip, frames: Array(0 ..< c.frames), mode: mode, shortSide: c.shortSide, crop: c.crop,
                spatialIndex: spatialIndex, mean: EvalFixture.mean, std: EvalFixture.std, into: $0)
        }
        return out
    }

    @Test(arguments: EvalFixture.cases) func maeStViewsMatchMaeSt(_ c: EvalCase) {
        #expect(!c.maeSt.isEmpty)
        for (i, expected) in c.maeSt {
            let d = evalDiff(Self.render(c, .maeSt, spatialIndex: i), expected)
            #expect(d.maxAbs <= evalTolerance, "\(c.name) spatial \(i): max abs \(d.maxAbs), rel L2 \(d.relL2)")
        }
    }

    @Test(arguments: EvalFixture.cases) func hfViewsMatchVideoMAEImageProcessor(_ c: EvalCase) {
        let expected = EvalFixture.hfNormalized(c.hfPixels, frames: c.frames, crop: c.crop)
        for i in 0 ... 2 {  // HF has one centre crop whatever the spatial index
            let d = evalDiff(Self.render(c, .huggingFace, spatialIndex: i), expected)
            #expect(d.maxAbs <= evalTolerance, "\(c.name): max abs \(d.maxAbs), rel L2 \(d.relL2)")
        }
    }

    /// The pixels themselves: Pillow's uint8 output, exactly.
    @Test func pilResizeIsBitExact() {
        for c in EvalFixture.cases {
            let (w, h) = EvalView.hfSize(width: c.width, height: c.height, shortSide: c.shortSide)
            let (x0, y0) = EvalView.cropOrigin(.huggingFace, width: w, height: h, size: c.crop, spatialIndex: 1)
            let n = c.crop * c.crop * 3
            var px = [UInt8](repeating: 0, count: c.frames * n)
            for f in 0 ..< c.frames {
                PILResize.bilinear(
                    c.clip, frame: f, width: w, height: h, x0: x0, y0: y0, crop: c.crop,
                    into: &px[f * n ..< (f + 1) * n])
            }
            #expect(px == c.hfPixels, "\(c.name)")
        }
    }
}
