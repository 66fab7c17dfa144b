// Temporal sampling with mae_st semantics.

/// Which frames of a video make up a clip.
///
/// A clip covers `span = samplingRate · numFrames / targetFps · fps` source frames (the same
/// wall-clock duration whatever the video's frame rate). Its first frame is random in training
/// and evenly spaced for multi-view testing; `numFrames` indices are spread over the span by
/// `linspace(start, start + span − 1, numFrames)`, truncated and clamped to the video.
public enum ClipSampling {
    /// Source frames covered by one clip. An unknown `fps` (≤ 0) is taken as `targetFps`.
    public static func span(numFrames: Int, samplingRate: Int, targetFps: Double, fps: Double) -> Double {
        let sourceFps = fps > 0 && fps.isFinite ? fps : targetFps
        return Double(samplingRate * numFrames) / targetFps * sourceFps
    }

    /// Random clip start, uniform in `[0, max(frameCount − span, 0)]` (mae_st `clip_idx = -1`).
    public static func randomStart(frameCount: Int, span: Double, rng: inout SampleRNG) -> Double {
        rng.uniform(0, max(Double(frameCount) - span, 0))
    }

    /// Start of view `temporalIndex` of `numTemporalViews` evenly spaced clips.
    ///
    /// mae_st's default: `delta · index / views` with `delta = max(frameCount − span, 0)`.
    /// With `useOffset` the views span the whole video (`index · ⌊delta / (views − 1)⌋`,
    /// a single view is centred).
    public static func viewStart(
        frameCount: Int, span: Double, temporalIndex: Int, numTemporalViews: Int,
        useOffset: Bool = false
    ) -> Double {
        let delta = max(Double(frameCount) - span, 0)
        let views = max(numTemporalViews, 1)
        let index = min(max(temporalIndex, 0), views - 1)
        guard useOffset else { return delta * Double(index) / Double(views) }
        if views == 1 { return (delta / 2).rounded(.down) }
        return Double(index) * (delta / Double(views - 1)).rounded(.down)
    }

    /// Frame indices `linspace(start, start + span − 1, count)`, truncated toward zero and
    /// clamped to `0 ..< frameCount`. The linspace is evaluated in Float32 the way
    /// `torch.linspace` does (forward from the start for the first half, backward from the end
    /// for the second), so indices match mae_st's `temporal_sampling` exactly.
    public static func indices(start: Double, span: Double, count: Int, frameCount: Int) -> [Int] {
        guard count > 0 else { return [] }
        let a = Float(start), b = Float(start + span - 1)
        let last = Float(max(frameCount - 1, 0))
        if count == 1 { return [Int(min(max(a, 0), last))] }
        let step = (b - a) / Float(count - 1)
        let half = count / 2
        return (0 ..< count).map { i in
            let v = i < half ? a + step * Float(i) : b - step * Float(count - i - 1)
            return Int(min(max(v, 0), last))
        }
    }

    /// A random training clip: `numFrames` indices into a video of `frameCount` frames at `fps`.
    public static func randomIndices(
        frameCount: Int, fps: Double, numFrames: Int, samplingRate: Int,
        targetFps: Double = 30, rng: inout SampleRNG
    ) -> [Int] {
        let s = span(numFrames: numFrames, samplingRate: samplingRate, targetFps: targetFps, fps: fps)
        let start = randomStart(frameCount: frameCount, span: s, rng: &rng)
        return indices(start: start, span: s, count: numFrames, frameCount: frameCount)
    }

    /// The deterministic clip of view `temporalIndex` of `numTemporalViews` (evaluation).
    public static func viewIndices(
        frameCount: Int, fps: Double, numFrames: Int, samplingRate: Int,
        targetFps: Double = 30, temporalIndex: Int = 0, numTemporalViews: Int = 1,
        useOffset: Bool = false
    ) -> [Int] {
        let s = span(numFrames: numFrames, samplingRate: samplingRate, targetFps: targetFps, fps: fps)
        let start = viewStart(
            frameCount: frameCount, span: s, temporalIndex: temporalIndex,
            numTemporalViews: numTemporalViews, useOffset: useOffset)
        return indices(start: start, span: s, count: numFrames, frameCount: frameCount)
    }
}
