// Random erasing (Zhong et al. 2020), timm `RandomErasing(mode='pixel')` on normalised clips.
import Foundation

/// timm / SlowFast random erasing on a normalised clip `[3, T, H, W]`.
///
/// With probability `probability`: up to 10 tries of target area `U(minArea, maxArea)·H·W`, aspect
/// `exp(U(log minAspect, log 1/minAspect))`, `h = round(√(area·aspect))`, `w = round(√(area/aspect))`; the first
/// box with `w < W` and `h < H` is placed uniformly and filled with N(0, 1) noise per pixel and channel ('pixel' mode).
/// The box is the same on every frame (SlowFast's `cube` erasing), the noise is drawn afresh everywhere.
public struct RandomErasing: Sendable, Equatable {
    public var probability: Double
    public var minArea = 0.02
    public var maxArea = 1.0 / 3
    public var minAspect = 0.3
    /// Boxes per clip (`--recount`, min = max count).
    public var count = 1

    public init(probability: Double) { self.probability = probability }

    /// The erased box (x, y, width, height) per count, or none.
    public func boxes(height: Int, width: Int, rng: inout SampleRNG) -> [CropBox] {
        guard probability > 0, rng.uniform() < probability else { return [] }
        let area = Double(height * width), logAspect = (log(minAspect), log(1 / minAspect))
        var out: [CropBox] = []
        for _ in 0 ..< count {
            for _ in 0 ..< 10 {
                let target = rng.uniform(minArea, maxArea) * area / Double(count)
                let aspect = exp(rng.uniform(logAspect.0, logAspect.1))
                let h = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
                let w = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
                if w < width && h < height && w > 0 && h > 0 {
                    let top = rng.int(in: 0 ... height - h), left = rng.int(in: 0 ... width - w)
                    out.append(CropBox(x: left, y: top, width: w, height: h))
                    break
                }
            }
        }
        return out
    }

    /// Erases in place. `clip`: `[channels, frames, height, width]`.
    public func apply(
        _ clip: UnsafeMutableBufferPointer<Float>, channels: Int = 3, frames: Int, height: Int, width: Int,
        rng: inout SampleRNG
    ) {
        let plane = height * width
        precondition(clip.count >= channels * frames * plane, "RandomErasing: buffer too small")
        for b in boxes(height: height, width: width, rng: &rng) {
            for p in 0 ..< channels * frames {
                for y in b.y ..< b.y + b.height {
                    let row = p * plane + y * width
                    for x in b.x ..< b.x + b.width { clip[row + x] = Float(Mixup.normal(rng: &rng)) }
                }
            }
        }
    }
}
