// From a video file to normalised Float32 clips: temporal sampling, decode, spatial augmentation.
import Foundation
import Media

/// How clips are sampled and augmented (mae_st / VideoMAE defaults).
public struct ClipConfig: Sendable, Equatable {
    /// Frames per clip (`T`).
    public var numFrames: Int
    /// Stride between sampled frames at `targetFps`.
    public var samplingRate: Int
    /// Frame rate the sampling rate refers to (clips cover the same duration at any source fps).
    public var targetFps: Double
    /// Output side (`H = W`).
    public var imgSize: Int
    /// Frames are decoded with this short side before cropping (0 = native resolution).
    public var shortSide: Int
    /// Short side for the evaluation resize before the `imgSize` crop (mae_st: the crop size); at least `imgSize`.
    public var evalShortSide: Int
    /// Whose evaluation resize/crop to reproduce on the natively decoded frames (`EvalResize`; default mae_st's).
    public var evalResize: EvalResize
    /// Independently augmented clips per decoded video (mae_st `repeat_aug`).
    public var repeatAug: Int
    public var mean: [Float]
    public var std: [Float]
    /// Random resized crop area fraction (mae_st `jitter_scales_relative`).
    public var scales: ClosedRange<Double>
    /// Random resized crop aspect range, sampled log-uniformly (`jitter_aspect_relative`).
    public var aspects: ClosedRange<Double>
    /// Horizontal flip probability in training.
    public var flipProbability: Double
    /// Training (random clip, RRC, flip) or evaluation (fixed view, short side + crop).
    public var train: Bool
    /// Evaluation view: temporal clip `temporalIndex` of `numTemporalViews`, spatial crop 0/1/2.
    public var temporalIndex: Int
    public var numTemporalViews: Int
    public var spatialIndex: Int
    /// Training only: RandAugment applied to the decoded frames before cropping (nil = off).
    public var randAugment: RandAugment?
    /// Training only: random-erasing probability on the normalised clip (`--reprob`, 0 = off).
    public var reprob: Double

    public init(
        numFrames: Int = 16, samplingRate: Int = 4, targetFps: Double = 30, imgSize: Int = 224,
        shortSide: Int? = nil, evalShortSide: Int? = nil, repeatAug: Int = 1,
        mean: [Float] = [0.45, 0.45, 0.45], std: [Float] = [0.225, 0.225, 0.225],
        scales: ClosedRange<Double> = 0.5 ... 1.0, aspects: ClosedRange<Double> = 0.75 ... 1.3333,
        flipProbability: Double = 0.5, train: Bool = true,
        temporalIndex: Int = 0, numTemporalViews: Int = 1, spatialIndex: Int = 1,
        randAugment: RandAugment? = nil, reprob: Double = 0, evalResize: EvalResize = .maeSt
    ) {
        self.numFrames = numFrames
        self.samplingRate = samplingRate
        self.targetFps = targetFps
        self.imgSize = imgSize
        self.shortSide = shortSide ?? Self.defaultShortSide(imgSize: imgSize)
        self.evalShortSide = evalShortSide ?? imgSize
        self.evalResize = evalResize
        self.repeatAug = repeatAug
        self.mean = mean
        self.std = std
        self.scales = scales
        self.aspects = aspects
        self.flipProbability = flipProbability
        self.train = train
        self.temporalIndex = temporalIndex
        self.numTemporalViews = numTemporalViews
        self.spatialIndex = spatialIndex
        self.randAugment = randAugment
        self.reprob = reprob
    }

    /// The training decode short side when none is given: img_size·256/224
    /// (mae_st's `train_jitter_scales[0]`, 256 at 224).
    public static func defaultShortSide(imgSize: Int) -> Int { Int((Double(imgSize) * 256 / 224).rounded()) }

    /// Floats in one clip: `3 · numFrames · imgSize²`.
    public var clipCount: Int { 3 * numFrames * imgSize * imgSize }
    /// Shape of one clip: `[3, T, H, W]`.
    public var clipShape: [Int] { [3, numFrames, imgSize, imgSize] }

    /// - Throws: `DatasetError` describing the first invalid field.
    public func validate() throws {
        func check(_ ok: Bool, _ what: String) throws { if !ok { throw DatasetError("ClipConfig: \(what)") } }
        try check(numFrames > 0 && samplingRate > 0, "numFrames and samplingRate must be positive")
        try check(targetFps > 0 && targetFps.isFinite, "targetFps must be positive")
        try check((1 ... 8192).contains(imgSize), "imgSize must be 1...8192, got \(imgSize)")
        try check((0 ... 16384).contains(shortSide) && (1 ... 16384).contains(evalShortSide), "invalid short side")
        try check(
            train || evalShortSide >= imgSize, "evalShortSide \(evalShortSide) is smaller than imgSize \(imgSize)")
        try check(repeatAug > 0, "repeatAug must be positive")
        try check(mean.count == 3 && std.count == 3 && std.allSatisfy { $0 > 0 }, "need 3 means and 3 positive stds")
        try check(scales.lowerBound > 0 && scales.upperBound <= 1, "scales must lie in (0, 1]")
        try check(aspects.lowerBound > 0, "aspects must be positive")
        try check(
            numTemporalViews > 0 && (0 ..< numTemporalViews).contains(temporalIndex), "temporalIndex out of range")
        try check((0 ... 2).contains(spatialIndex), "spatialIndex must be 0, 1 or 2")
        try check((0 ... 1).contains(reprob), "--reprob must be in [0, 1], got \(reprob)")
        if let a = randAugment { try check(a.numOps > 0 && (0 ... 10).contains(a.magnitude), "--rand_aug: bad n or m") }
    }
}

/// Loads one video and produces `repeatAug` clips `[R, 3, T, H, W]`.
public struct ClipPipeline: Sendable {
    public let config: ClipConfig

    public init(config: ClipConfig) throws {
        try config.validate()
        self.config = config
    }

    /// The generator for clip `repeat` of the sample in `slot` of `epoch`.
    public static func rng(seed: UInt64, epoch: Int, slot: Int, repeat r: Int) -> SampleRNG {
        SampleRNG(keys: [seed, UInt64(bitPattern: Int64(epoch)), UInt64(bitPattern: Int64(slot)), UInt64(r)])
    }

    /// Decodes `path` once (the union of the frames all repeats need) and writes `repeatAug`
    /// augmented clips into `out` (`repeatAug · config.clipCount` floats, `[R, 3, T, H, W]`).
    /// Clip `r` draws its randomness from `rngs[r]`; evaluation uses none. Returns the damaged packets and frames the
    /// decoder met on the way (concealed; see `VideoReader.decodeErrors`).
    @discardableResult
    public func load(path: String, rngs: [SampleRNG], into out: UnsafeMutableBufferPointer<Float>) throws -> Int {
        let c = config
        precondition(
            rngs.count >= c.repeatAug && out.count >= c.repeatAug * c.clipCount, "ClipPipeline.load: buffers too small")
        if VideoList.isImage(path) { try loadImage(path: path, rngs: rngs, into: out); return 0 }
        let reader = try VideoReader(path: path, threads: 1)
        guard reader.frameCount > 0 else { throw MediaError(path, .corrupt, "no frames") }
        // Evaluation resizes the natively decoded frames itself (EvalView), as mae_st and transformers do.
        let side = c.train && c.shortSide > 0 ? c.shortSide : nil
        let (width, height) = reader.outputSize(shortSide: side)

        // Per repeat: frame indices, crop box, flip, and the generator left for RandAugment / erasing.
        var plans: [Plan] = []
        for r in 0 ..< c.repeatAug {
            if c.train {
                var rng = rngs[r]
                let indices = ClipSampling.randomIndices(
                    frameCount: reader.frameCount, fps: reader.fps, numFrames: c.numFrames,
                    samplingRate: c.samplingRate, targetFps: c.targetFps, rng: &rng)
                let box = Augment.randomResizedCrop(
                    width: width, height: height, scales: c.scales, aspects: c.aspects, rng: &rng)
                plans.append(Plan(indices: indices, box: box, flip: rng.bernoulli(c.flipProbability), rng: rng))
            } else {
                let indices = ClipSampling.viewIndices(
                    frameCount: reader.frameCount, fps: reader.fps, numFrames: c.numFrames,
                    samplingRate: c.samplingRate, targetFps: c.targetFps,
                    temporalIndex: c.temporalIndex, numTemporalViews: c.numTemporalViews)
                let whole = CropBox(x: 0, y: 0, width: width, height: height)  // unused: EvalView crops
                plans.append(Plan(indices: indices, box: whole, flip: false, rng: rngs[r]))
            }
        }
        let union = Array(Set(plans.flatMap(\.indices))).sorted()
        let position = Dictionary(uniqueKeysWithValues: union.enumerated().map { ($1, $0) })
        let clip = try reader.decodeFrames(at: union, shortSide: side)
        guard clip.width == width, clip.height == height else {
            throw MediaError(path, .corrupt, "decoded \(clip.width)x\(clip.height), expected \(width)x\(height)")
        }
        for (r, plan) in plans.enumerated() {
            render(
                clip, frames: plan.indices.map { position[$0]! }, plan: plan,
                into: UnsafeMutableBufferPointer(rebasing: out[r * c.clipCount ..< (r + 1) * c.clipCount]))
        }
        return reader.decodeErrors
    }

    struct Plan {
        var indices: [Int]
        var box: CropBox
        var flip: Bool
        var rng: SampleRNG
    }

    /// Crop/resize/flip/normalise one repeat, with RandAugment before and random erasing after (training only);
    /// evaluation: the `EvalView` of `evalResize` (short side `evalShortSide`, `imgSize` crop at `spatialIndex`).
    func render(_ clip: VideoClip, frames: [Int], plan: Plan, into dst: UnsafeMutableBufferPointer<Float>) {
        let c = config
        guard c.train else {
            return EvalView.render(
                clip, frames: frames, mode: c.evalResize, shortSide: c.evalShortSide, crop: c.imgSize,
                spatialIndex: c.spatialIndex, mean: c.mean, std: c.std, into: dst)
        }
        var rng = plan.rng, source = clip, frames = frames
        if let aug = c.randAugment {
            let steps = aug.plan(rng: &rng)
            if !steps.isEmpty {
                // Only the distinct frames this repeat uses, augmented with the one plan.
                let distinct = Array(Set(frames)).sorted()
                let at = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
                var pixels: [UInt8] = []
                pixels.reserveCapacity(distinct.count * clip.frameSize)
                for f in distinct { pixels += clip.frame(f) }
                source = VideoClip(frames: distinct.count, height: clip.height, width: clip.width, pixels: pixels)
                aug.apply(steps, to: &source)
                frames = frames.map { at[$0]! }
            }
        }
        Augment.resizeNormalize(
            source, frames: frames, box: plan.box, outWidth: c.imgSize, outHeight: c.imgSize,
            flip: plan.flip, mean: c.mean, std: c.std, into: dst)
        if c.reprob > 0 {
            RandomErasing(probability: c.reprob).apply(
                dst, frames: c.numFrames, height: c.imgSize, width: c.imgSize, rng: &rng)
        }
    }

    /// A still image as a static clip (the image repeated `numFrames` times). Training: random resized crop + flip
    /// (`scales`, `aspects`); evaluation: the `EvalView` (short side `evalShortSide`, then the `imgSize` crop).
    func loadImage(path: String, rngs: [SampleRNG], into out: UnsafeMutableBufferPointer<Float>) throws {
        let c = config
        let image = try Image.load(path: path)
        guard image.width > 0, image.height > 0 else { throw MediaError(path, .corrupt, "empty image") }
        let clip = VideoClip(frames: 1, height: image.height, width: image.width, pixels: image.pixels)
        let frames = [Int](repeating: 0, count: c.numFrames)
        for r in 0 ..< c.repeatAug {
            var rng = rngs[r]
            let plan: Plan
            if c.train {
                let box = Augment.randomResizedCrop(
                    width: image.width, height: image.height, scales: c.scales, aspects: c.aspects, rng: &rng)
                plan = Plan(indices: frames, box: box, flip: rng.bernoulli(c.flipProbability), rng: rng)
            } else {
                plan = Plan(
                    indices: frames, box: CropBox(x: 0, y: 0, width: image.width, height: image.height), flip: false,
                    rng: rng)
            }
            render(
                clip, frames: frames, plan: plan,
                into: UnsafeMutableBufferPointer(rebasing: out[r * c.clipCount ..< (r + 1) * c.clipCount]))
        }
    }

    /// Convenience: the clips of `path` as a new array `[R, 3, T, H, W]`.
    public func load(path: String, seed: UInt64 = 0, epoch: Int = 0, slot: Int = 0) throws -> [Float] {
        let rngs = (0 ..< config.repeatAug).map { Self.rng(seed: seed, epoch: epoch, slot: slot, repeat: $0) }
        var data = [Float](repeating: 0, count: config.repeatAug * config.clipCount)
        try data.withUnsafeMutableBufferPointer { try load(path: path, rngs: rngs, into: $0) }
        return data
    }
}
