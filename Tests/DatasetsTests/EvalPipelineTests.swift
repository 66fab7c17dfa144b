// ClipPipeline's evaluation views end to end: still images (lossless PNG) against the upstream fixture, and
// videos against EvalView on their natively decoded frames.
import Foundation
import Media
import TestSupport
import Testing
@testable import Datasets

@Suite struct EvalPipelineTests {
    /// Frame 0 of `c` as a PNG, loaded as a `numFrames`-frame static clip by the evaluation pipeline.
    static func loadStill(_ c: EvalCase, spatialIndex: Int, mode: EvalResize, numFrames: Int = 2) throws -> [Float] {
        let tmp = try TempDir("data")
        let px = Array(c.clip.frame(0))
        try Image(width: c.width, height: c.height, pixels: px).savePNG(path: tmp.sub("f.png"))
        let cfg = ClipConfig(
            numFrames: numFrames, samplingRate: 1, imgSize: c.crop, evalShortSide: c.shortSide, mean: EvalFixture.mean,
            std: EvalFixture.std, train: false, spatialIndex: spatialIndex, evalResize: mode)
        return try ClipPipeline(config: cfg).load(path: tmp.sub("f.png"))
    }

    /// Frame 0 of a `[3, T, crop, crop]` view, repeated `numFrames` times.
    static func still(_ view: [Float], frames: Int, crop: Int, numFrames: Int = 2) -> [Float] {
        let plane = crop * crop
        return (0 ..< 3).flatMap { ch in
            (0 ..< numFrames).flatMap { _ in view[ch * frames * plane ..< ch * frames * plane + plane] }
        }
    }

    /// The default evaluation view is mae_st's test transform, pixel for pixel.
    @Test(arguments: EvalFixture.cases) func stillImagesMatchMaeSt(_ c: EvalCase) throws {
        for (i, view) in c.maeSt {
            let d = evalDiff(
                try Self.loadStill(c, spatialIndex: i, mode: .maeSt), Self.still(view, frames: c.frames, crop: c.crop))
            #expect(d.maxAbs <= evalTolerance, "\(c.name) spatial \(i): max abs \(d.maxAbs), rel L2 \(d.relL2)")
        }
        // How far apart the two upstreams are on these frames (printed, not a property of stmae).
        let hf = Self.still(
            EvalFixture.hfNormalized(c.hfPixels, frames: c.frames, crop: c.crop), frames: c.frames, crop: c.crop)
        if let view = c.maeSt[1] {
            let d = evalDiff(Self.still(view, frames: c.frames, crop: c.crop), hf)
            print("eval views \(c.name): mae_st vs HF processor: max abs \(d.maxAbs), rel L2 \(d.relL2)")
        }
    }

    @Test(arguments: EvalFixture.cases) func stillImagesMatchVideoMAEImageProcessor(_ c: EvalCase) throws {
        let expected = Self.still(
            EvalFixture.hfNormalized(c.hfPixels, frames: c.frames, crop: c.crop), frames: c.frames, crop: c.crop)
        let d = evalDiff(try Self.loadStill(c, spatialIndex: 1, mode: .huggingFace), expected)
        #expect(d.maxAbs <= evalTolerance, "\(c.name): max abs \(d.maxAbs), rel L2 \(d.relL2)")
    }

    /// Videos: frames are decoded at their native size and EvalView does the resize, in both modes and every crop.
    @Test func videoViewsUseNativeFrames() throws {
        let path = Fixture.samples[0].path
        let reader = try VideoReader(path: path, threads: 1)
        for mode in EvalResize.allCases {
            for s in 0 ... 2 {
                let cfg = ClipConfig(
                    numFrames: 4, samplingRate: 2, targetFps: 10, imgSize: 16, evalShortSide: 21, train: false,
                    temporalIndex: 1, numTemporalViews: 2, spatialIndex: s, evalResize: mode)
                let got = try ClipPipeline(config: cfg).load(path: path)
                let idx = ClipSampling.viewIndices(
                    frameCount: reader.frameCount, fps: reader.fps, numFrames: 4, samplingRate: 2,
                    targetFps: 10, temporalIndex: 1, numTemporalViews: 2)
                let clip = try reader.decodeFrames(at: idx)
                #expect(clip.width == 32 && clip.height == 32)
                var want = [Float](repeating: .nan, count: got.count)
                want.withUnsafeMutableBufferPointer {
                    EvalView.render(
                        clip, frames: Array(0 ..< 4), mode: mode, shortSide: 21, crop: 16, spatialIndex: s,
                        mean: cfg.mean, std: cfg.std, into: $0)
                }
                #expect(got == want, "\(mode) spatial \(s)")
            }
        }
        #expect { try ClipPipeline(config: ClipConfig(imgSize: 32, evalShortSide: 24, train: false)) } throws: {
            "\($0)".contains("evalShortSide")
        }
    }
}
