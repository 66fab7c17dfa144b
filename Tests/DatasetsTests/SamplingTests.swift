import Foundation
import Media
import Testing
import Datasets

@Suite struct ClipSamplingTests {
    @Test func spanFollowsMaeStFormula() {
        #expect(ClipSampling.span(numFrames: 16, samplingRate: 4, targetFps: 30, fps: 30) == 64)
        #expect(ClipSampling.span(numFrames: 4, samplingRate: 8, targetFps: 30, fps: 15) == 16)
        #expect(ClipSampling.span(numFrames: 5, samplingRate: 3, targetFps: 30, fps: 25) == 12.5)
        #expect(ClipSampling.span(numFrames: 4, samplingRate: 2, targetFps: 30, fps: 0) == 8)  // unknown fps
    }

    @Test func handComputedIndices() {
        // linspace(20, 35, 4) = 20, 25, 30, 35.
        #expect(ClipSampling.indices(start: 20, span: 16, count: 4, frameCount: 100) == [20, 25, 30, 35])
        // span 12.5 from 7.3: linspace(7.3, 18.8, 5) = 7.3, 10.175, 13.05, 15.925, 18.8.
        #expect(ClipSampling.indices(start: 7.3, span: 12.5, count: 5, frameCount: 100) == [7, 10, 13, 15, 18])
        // Video shorter than the span (10 frames, span 32): start 0, linspace(0, 31, 8) clamped to 9.
        #expect(ClipSampling.indices(start: 0, span: 32, count: 8, frameCount: 10) == [0, 4, 8, 9, 9, 9, 9, 9])
        #expect(ClipSampling.indices(start: 3, span: 5, count: 1, frameCount: 10) == [3])
    }

    @Test func randomClipsStayInTheVideo() {
        var starts = Set<Int>()
        for s in 0 ..< 200 {
            var rng = SampleRNG(s)
            let idx = ClipSampling.randomIndices(frameCount: 100, fps: 15, numFrames: 4, samplingRate: 8, rng: &rng)
            #expect(idx.count == 4 && idx[0] >= 0 && idx[0] <= 84 && idx[3] <= 99)
            #expect(idx[3] - idx[0] == 15 || idx[3] - idx[0] == 14)  // span − 1, up to truncation
            starts.insert(idx[0])
        }
        #expect(starts.count > 40)
        // Shorter than the span: always starts at 0.
        var rng = SampleRNG(1)
        #expect(
            ClipSampling.randomIndices(frameCount: 10, fps: 30, numFrames: 8, samplingRate: 4, rng: &rng)
                == [0, 4, 8, 9, 9, 9, 9, 9])
    }

    @Test func evaluationViewsAreEvenlySpaced() {
        func view(_ i: Int, _ n: Int, offset: Bool = false) -> [Int] {
            ClipSampling.viewIndices(
                frameCount: 100, fps: 15, numFrames: 4, samplingRate: 8,
                temporalIndex: i, numTemporalViews: n, useOffset: offset)
        }
        #expect(view(0, 1) == [0, 5, 10, 15])
        #expect(view(1, 3) == [28, 33, 38, 43])  // delta 84 · 1/3
        #expect(view(2, 3) == [56, 61, 66, 71])
        #expect(view(2, 3, offset: true) == [84, 89, 94, 99])
        #expect(view(0, 1, offset: true) == [42, 47, 52, 57])
    }
}

@Suite struct AugmentTests {
    @Test func randomResizedCropStaysInsideWithRequestedScaleAndAspect() {
        for s in 0 ..< 500 {
            var rng = SampleRNG(s, 9)
            let (w, h) = s % 2 == 0 ? (97, 73) : (73, 130)
            let box = Augment.randomResizedCrop(width: w, height: h, rng: &rng)
            #expect(box.x >= 0 && box.y >= 0 && box.x + box.width <= w && box.y + box.height <= h)
            let area = Double(box.width * box.height) / Double(w * h)
            let aspect = Double(box.width) / Double(box.height)
            #expect(area > 0.45 && area <= 1.0)
            #expect(aspect > 0.7 && aspect < 1.4)
        }
        // Nothing fits a 100×10 strip: centre crop clamped to the largest aspect (round(10·4/3) = 13).
        var rng = SampleRNG(3)
        #expect(
            Augment.randomResizedCrop(width: 100, height: 10, rng: &rng) == CropBox(x: 43, y: 0, width: 13, height: 10))
    }

    @Test func uniformCropPositions() {
        // (width, height, spatial index) → the 60×60 crop's corner
        for (w, h, index, x, y) in [(100, 60, 0, 0, 0), (100, 60, 1, 20, 0), (100, 60, 2, 40, 0), (60, 100, 2, 0, 40)] {
            #expect(
                Augment.uniformCrop(width: w, height: h, size: 60, spatialIndex: index)
                    == CropBox(x: x, y: y, width: 60, height: 60))
        }
        #expect(Augment.uniformCrop(width: 50, height: 40, size: 64) == CropBox(x: 0, y: 0, width: 50, height: 40))
    }

    /// A 2-frame clip whose pixel (t, y, x, c) = 10·x + 3·y + c + 50·t.
    func gradientClip(width: Int, height: Int) -> VideoClip {
        var px: [UInt8] = []
        for t in 0 ..< 2 {
            for y in 0 ..< height {
                for x in 0 ..< width { for c in 0 ..< 3 { px.append(UInt8(10 * x + 3 * y + c + 50 * t)) } }
            }
        }
        return VideoClip(frames: 2, height: height, width: width, pixels: px)
    }

    func run(
        _ clip: VideoClip, frames: [Int], box: CropBox, out: Int, flip: Bool,
        mean: [Float] = [0, 0, 0], std: [Float] = [1 / 255, 1 / 255, 1 / 255]
    ) -> [Float] {
        var data = [Float](repeating: .nan, count: 3 * frames.count * out * out)
        data.withUnsafeMutableBufferPointer {
            Augment.resizeNormalize(
                clip, frames: frames, box: box, outWidth: out, outHeight: out, flip: flip, mean: mean, std: std,
                into: $0)
        }
        return data
    }

    @Test func cropIsExactAtScaleOneAndFlipMirrors() {
        let clip = gradientClip(width: 8, height: 6)
        let box = CropBox(x: 2, y: 1, width: 4, height: 4)
        let plain = run(clip, frames: [1, 0], box: box, out: 4, flip: false)  // std 1/255: values in pixel units
        let flipped = run(clip, frames: [1, 0], box: box, out: 4, flip: true)
        // Layout [3, T, H, W]: channel c, clip frame k (source frame 1 − k), row y, column x.
        for c in 0 ..< 3 {
            for k in 0 ..< 2 {
                for y in 0 ..< 4 {
                    for x in 0 ..< 4 {
                        let i = ((c * 2 + k) * 4 + y) * 4 + x
                        let expected = Float(10 * (x + 2) + 3 * (y + 1) + c + 50 * (1 - k))
                        #expect(abs(plain[i] - expected) < 1e-3)
                        #expect(flipped[i] == plain[((c * 2 + k) * 4 + y) * 4 + (3 - x)])
                    }
                }
            }
        }
    }

    @Test func bilinearDownsampleMatchesAlignCornersFalse() {
        let clip = gradientClip(width: 4, height: 4)
        // Scale 2: output (y, x) samples source (2y + 0.5, 2x + 0.5), the mean of a 2×2 block.
        let out = run(clip, frames: [0], box: CropBox(x: 0, y: 0, width: 4, height: 4), out: 2, flip: false)
        #expect(abs(out[0] - Float(10 * 0.5 + 3 * 0.5)) < 1e-3)
        #expect(abs(out[3] - Float(10 * 2.5 + 3 * 2.5)) < 1e-3)
        #expect(abs(out[4 + 1] - Float(10 * 2.5 + 3 * 0.5 + 1)) < 1e-3)  // channel 1, (0, 1)
    }

    @Test func normalisationUsesMeanAndStdPerChannel() {
        let clip = VideoClip(frames: 1, height: 1, width: 1, pixels: [0, 255, 114])
        let out = run(
            clip, frames: [0], box: CropBox(x: 0, y: 0, width: 1, height: 1), out: 1, flip: false,
            mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225])
        #expect(abs(out[0] - (0 - 0.45) / 0.225) < 1e-5)
        #expect(abs(out[1] - (1 - 0.45) / 0.225) < 1e-5)
        #expect(abs(out[2] - (114.0 / 255 - 0.45) / 0.225) < 1e-5)
        let custom = run(
            clip, frames: [0], box: CropBox(x: 0, y: 0, width: 1, height: 1), out: 1, flip: false,
            mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        #expect(abs(custom[1] - (1 - 0.456) / 0.224) < 1e-5)
    }

    @Test func pipelineProducesChannelFirstClips() throws {
        let path = Fixture.samples[0].path
        var config = Fixture.config
        config.repeatAug = 2
        let pipeline = try ClipPipeline(config: config)
        let a = try pipeline.load(path: path, seed: 1, epoch: 0, slot: 5)
        #expect(a.count == 2 * 3 * 4 * 16 * 16)
        #expect(a == (try pipeline.load(path: path, seed: 1, epoch: 0, slot: 5)))
        #expect(a[..<config.clipCount] != a[config.clipCount...])  // repeats are augmented independently
        #expect(a.allSatisfy { $0.isFinite && $0 >= -0.45 / 0.225 - 1e-4 && $0 <= 0.55 / 0.225 + 1e-4 })
        config.train = false
        let eval = try ClipPipeline(config: config)
        #expect(try eval.load(path: path, seed: 1) == (try eval.load(path: path, seed: 2)))
        config.imgSize = 0
        #expect(throws: DatasetError.self) { try ClipPipeline(config: config) }
    }
}
