// Attention heat maps over frames (for `stmae visualize --attention`).
import Foundation

extension Image {
    /// This frame with `map` (a `gridH × gridW` grid of scores, row-major) drawn over it: the map is bilinearly
    /// upsampled to the frame (cell centres at patch centres), scaled to [0, 1] by `range` (default: the map's own
    /// min…max), coloured with a jet-like ramp (blue → cyan → yellow → red) and blended with weight `alpha`.
    public func overlaying(map: [Float], gridH: Int, gridW: Int, alpha: Double = 0.5, range: (Float, Float)? = nil)
        throws -> Image
    {
        guard gridH > 0, gridW > 0, map.count == gridH * gridW else {
            throw MediaError(
                "attention map", .invalidArgument,
                "expected \(gridH)×\(gridW) = \(gridH * gridW) values, got \(map.count)")
        }
        guard (0 ... 1).contains(alpha) else {
            throw MediaError("attention map", .invalidArgument, "overlay alpha \(alpha) must be in [0, 1]")
        }
        let (lo, hi) = range ?? (map.min() ?? 0, map.max() ?? 1)
        let span = hi > lo ? hi - lo : 1
        var out = pixels
        for y in 0 ..< height {
            let gy = min(max((Double(y) + 0.5) * Double(gridH) / Double(height) - 0.5, 0), Double(gridH - 1))
            let (y0, fy) = (Int(gy), gy - Double(Int(gy)))
            let y1 = min(y0 + 1, gridH - 1)
            for x in 0 ..< width {
                let gx = min(max((Double(x) + 0.5) * Double(gridW) / Double(width) - 0.5, 0), Double(gridW - 1))
                let (x0, fx) = (Int(gx), gx - Double(Int(gx)))
                let x1 = min(x0 + 1, gridW - 1)
                let v =
                    (1 - fy) * ((1 - fx) * Double(map[y0 * gridW + x0]) + fx * Double(map[y0 * gridW + x1]))
                    + fy * ((1 - fx) * Double(map[y1 * gridW + x0]) + fx * Double(map[y1 * gridW + x1]))
                let c = jet(min(max((v - Double(lo)) / Double(span), 0), 1))
                let o = (y * width + x) * 3
                for k in 0 ..< 3 { out[o + k] = UInt8((1 - alpha) * Double(pixels[o + k]) + alpha * c[k] + 0.5) }
            }
        }
        return Image(width: width, height: height, pixels: out)
    }

    /// Frames side by side (same height), left to right.
    public static func hstack(_ images: [Image]) throws -> Image {
        guard let h = images.first?.height, images.allSatisfy({ $0.height == h }) else {
            throw MediaError("hstack", .invalidArgument, "need at least one image, all of the same height")
        }
        let w = images.reduce(0) { $0 + $1.width }
        var px = [UInt8](repeating: 0, count: w * h * 3)
        var x0 = 0
        for im in images {
            for y in 0 ..< h {
                let dst = (y * w + x0) * 3, src = y * im.width * 3
                px.replaceSubrange(dst ..< (dst + im.width * 3), with: im.pixels[src ..< (src + im.width * 3)])
            }
            x0 += im.width
        }
        return Image(width: w, height: h, pixels: px)
    }
}

/// Jet-like colour ramp, v in [0, 1] → RGB in [0, 255].
func jet(_ v: Double) -> [Double] {
    func ch(_ c: Double) -> Double { 255 * min(max(1.5 - abs(4 * v - c), 0), 1) }
    return [ch(3), ch(2), ch(1)]
}
