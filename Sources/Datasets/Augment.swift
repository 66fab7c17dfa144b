// Spatial augmentation: crop boxes and a fused crop → bilinear resize → flip → normalise kernel.
import Foundation
import Media

/// A crop rectangle in pixels of the source frame.
public struct CropBox: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// Crop parameter sampling and the resize/normalise kernel.
public enum Augment {
    /// torchvision / mae_st `RandomResizedCrop` parameters on a `width × height` frame.
    ///
    /// Up to `tries` times: area fraction `U(scales)`, aspect `exp(U(log aspects))`,
    /// `w = round(√(area·aspect))`, `h = round(√(area/aspect))`; accepted if it fits, with a
    /// uniform position. Otherwise a centre crop clamped to the aspect range.
    public static func randomResizedCrop(
        width: Int, height: Int, scales: ClosedRange<Double> = 0.5 ... 1,
        aspects: ClosedRange<Double> = 0.75 ... 4.0 / 3.0, tries: Int = 10,
        rng: inout SampleRNG
    ) -> CropBox {
        let area = Double(width * height)
        let logAspects = (log(aspects.lowerBound), log(aspects.upperBound))
        for _ in 0 ..< tries {
            let target = rng.uniform(scales.lowerBound, scales.upperBound) * area
            let aspect = exp(rng.uniform(logAspects.0, logAspects.1))
            let w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))  // Python round()
            let h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let y = rng.int(in: 0 ... height - h)
                let x = rng.int(in: 0 ... width - w)
                return CropBox(x: x, y: y, width: w, height: h)
            }
        }
        let ratio = Double(width) / Double(height)
        var w = width, h = height
        if ratio < aspects.lowerBound {
            h = Int((Double(w) / aspects.lowerBound).rounded(.toNearestOrEven))
        } else if ratio > aspects.upperBound {
            w = Int((Double(h) * aspects.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// A `size × size` crop (clamped to the frame) for multi-crop testing (slowfast `uniform_crop`):
    /// `spatialIndex` 0/1/2 = start/centre/end along the longer side (left/centre/right for
    /// landscape, top/centre/bottom for portrait); the shorter side is centred.
    public static func uniformCrop(width: Int, height: Int, size: Int, spatialIndex: Int = 1) -> CropBox {
        let cw = min(size, width), ch = min(size, height)
        var x = (width - cw + 1) / 2, y = (height - ch + 1) / 2
        if height > width {
            if spatialIndex == 0 { y = 0 } else if spatialIndex == 2 { y = height - ch }
        } else {
            if spatialIndex == 0 { x = 0 } else if spatialIndex == 2 { x = width - cw }
        }
        return CropBox(x: x, y: y, width: cw, height: ch)
    }

    /// Source taps of bilinear resampling `input → output` (PyTorch `interpolate`,
    /// `align_corners=False`, no antialias): for each output position the two source indices
    /// and their weights. The source position `scale · (o + 0.5) − 0.5` is one fused multiply-add in Float32,
    /// as PyTorch's AVX2/AVX-512 CPU kernels (and CUDA's) compute it; its baseline (`ATEN_CPU_CAPABILITY=default`)
    /// kernel rounds twice, which moves its outputs by up to ≈ 0.003 of a pixel level.
    static func taps(input: Int, output: Int) -> (i0: [Int], i1: [Int], w0: [Float], w1: [Float]) {
        let scale = Float(input) / Float(output)
        var i0 = [Int](repeating: 0, count: output), i1 = i0
        var w0 = [Float](repeating: 1, count: output), w1 = [Float](repeating: 0, count: output)
        for o in 0 ..< output {
            let src = max((-0.5 as Float).addingProduct(scale, Float(o) + 0.5), 0)
            let lo = min(Int(src), input - 1)
            i0[o] = lo
            i1[o] = min(lo + 1, input - 1)
            w1[o] = src - Float(lo)
            w0[o] = 1 - w1[o]
        }
        return (i0, i1, w0, w1)
    }

    /// Crops `box` out of each of `frames` of `clip`, resizes it bilinearly to `outWidth × outHeight`,
    /// mirrors it if `flip`, and writes `(pixel/255 − mean[c]) / std[c]` channel-first.
    ///
    /// - Parameter out: destination of `3 · frames.count · outHeight · outWidth` floats laid out
    ///   `[3, T, outHeight, outWidth]`.
    public static func resizeNormalize(
        _ clip: VideoClip, frames: [Int], box: CropBox, outWidth: Int, outHeight: Int,
        flip: Bool, mean: [Float], std: [Float], into out: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(
            box.x >= 0 && box.y >= 0 && box.width > 0 && box.height > 0
                && box.x + box.width <= clip.width && box.y + box.height <= clip.height,
            "resizeNormalize: box outside frame")
        var cols = taps(input: box.width, output: outWidth)
        var rows = taps(input: box.height, output: outHeight)
        if flip {
            cols.i0.reverse(); cols.i1.reverse(); cols.w0.reverse(); cols.w1.reverse()
        }
        cols.i0 = cols.i0.map { $0 + box.x }; cols.i1 = cols.i1.map { $0 + box.x }
        rows.i0 = rows.i0.map { $0 + box.y }; rows.i1 = rows.i1.map { $0 + box.y }
        bilinearNormalize(clip, frames: frames, cols: cols, rows: rows, mean: mean, std: std, into: out)
    }

    /// The gather kernel behind `resizeNormalize`: output pixel `(oy, ox)` of each of `frames` blends the four
    /// source pixels `rows.i0/i1[oy] × cols.i0/i1[ox]` (absolute indices into the frame) with weights
    /// `rows.w · cols.w`, then writes `(value/255 − mean[c]) / std[c]` to `out` as `[3, T, rows.count, cols.count]`.
    static func bilinearNormalize(
        _ clip: VideoClip, frames: [Int], cols: (i0: [Int], i1: [Int], w0: [Float], w1: [Float]),
        rows: (i0: [Int], i1: [Int], w0: [Float], w1: [Float]), mean: [Float], std: [Float],
        into out: UnsafeMutableBufferPointer<Float>
    ) {
        let outWidth = cols.i0.count, outHeight = rows.i0.count
        let plane = outWidth * outHeight, t = frames.count
        precondition(out.count >= 3 * t * plane, "resizeNormalize: output buffer too small")
        precondition(mean.count == 3 && std.count == 3, "resizeNormalize: need 3 means and 3 stds")
        precondition(
            (cols.i0 + cols.i1).allSatisfy { (0 ..< clip.width).contains($0) }
                && (rows.i0 + rows.i1).allSatisfy { (0 ..< clip.height).contains($0) },
            "resizeNormalize: tap outside frame")
        // Byte offsets of the column taps within a row.
        let c0 = cols.i0.map { $0 * 3 }, c1 = cols.i1.map { $0 * 3 }
        let gain = (0 ..< 3).map { 1 / (255 * std[$0]) }, bias = (0 ..< 3).map { -mean[$0] / std[$0] }
        let (g0, g1, g2) = (gain[0], gain[1], gain[2]), (b0, b1, b2) = (bias[0], bias[1], bias[2])
        let rowBytes = clip.width * 3, frameBytes = clip.frameSize

        clip.pixels.withUnsafeBufferPointer { src in
            c0.withUnsafeBufferPointer { c0 in
                c1.withUnsafeBufferPointer { c1 in
                    cols.w0.withUnsafeBufferPointer { wx0 in
                        cols.w1.withUnsafeBufferPointer { wx1 in
                            let base = src.baseAddress!, dst = out.baseAddress!
                            for (k, f) in frames.enumerated() {
                                let frame = base + f * frameBytes
                                let r = dst + k * plane, g = r + t * plane, b = g + t * plane
                                for oy in 0 ..< outHeight {
                                    let top = frame + rows.i0[oy] * rowBytes
                                    let bottom = frame + rows.i1[oy] * rowBytes
                                    let wy0 = rows.w0[oy], wy1 = rows.w1[oy]
                                    let o = oy * outWidth
                                    for ox in 0 ..< outWidth {
                                        let a0 = c0[ox], a1 = c1[ox]
                                        let u0 = wx0[ox] * wy0, u1 = wx1[ox] * wy0, v0 = wx0[ox] * wy1,
                                            v1 = wx1[ox] * wy1
                                        @inline(__always) func sample(_ c: Int) -> Float {
                                            u0 * Float(top[a0 + c]) + u1 * Float(top[a1 + c])
                                                + v0 * Float(bottom[a0 + c]) + v1 * Float(bottom[a1 + c])
                                        }
                                        r[o + ox] = sample(0) * g0 + b0
                                        g[o + ox] = sample(1) * g1 + b1
                                        b[o + ox] = sample(2) * g2 + b2
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
