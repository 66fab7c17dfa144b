import Foundation
import Media

/// Renders a loss curve (raw steps in light blue, moving average in dark blue, min/max labels) to a PNG.
public enum LossCurve {
    public static func write(_ losses: [Double], to path: String, width: Int = 640, height: Int = 360) throws {
        var img = Image(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
        let (left, right, top, bottom) = (60, width - 15, 15, height - 30)
        func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let i = (y * width + x) * 3
            img.pixels[i] = c.0; img.pixels[i + 1] = c.1; img.pixels[i + 2] = c.2
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
            let n = max(abs(x1 - x0), abs(y1 - y0), 1)
            for k in 0 ... n { set(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, c) }
        }
        line(left, top, left, bottom, (0, 0, 0)); line(left, bottom, right, bottom, (0, 0, 0))
        let finite = losses.filter(\.isFinite)
        if let lo = finite.min(), let hi = finite.max(), losses.count > 1 {
            let span = max(hi - lo, 1e-12)
            func px(_ i: Int, _ v: Double) -> (Int, Int) {
                (left + (right - left) * i / (losses.count - 1), bottom - Int(Double(bottom - top) * (v - lo) / span))
            }
            let w = max(losses.count / 50, 1)
            var smooth: [Double] = []
            var acc = 0.0
            for (i, v) in losses.enumerated() {
                acc += v
                if i >= w { acc -= losses[i - w] }
                smooth.append(acc / Double(min(i + 1, w)))
            }
            for (series, color) in [(losses, (160, 190, 230) as (UInt8, UInt8, UInt8)), (smooth, (20, 60, 160))] {
                for i in 1 ..< series.count {
                    let (a, b) = (px(i - 1, series[i - 1]), px(i, series[i]))
                    line(a.0, a.1, b.0, b.1, color)
                }
            }
            Glyphs.draw(String(format: "%.4g", hi), x: 2, y: top, into: &img)
            Glyphs.draw(String(format: "%.4g", lo), x: 2, y: bottom - 7, into: &img)
            Glyphs.draw("0", x: left, y: bottom + 8, into: &img)
            Glyphs.draw("\(losses.count) STEPS", x: right - 6 * 10, y: bottom + 8, into: &img)
        }
        try img.savePNG(path: path)
    }
}

/// A 5×7 bitmap font for digits, a few signs and capitals (enough for axis labels).
enum Glyphs {
    static let rows: [Character: [UInt8]] = [
        "0": [14, 17, 19, 21, 25, 17, 14], "1": [4, 12, 4, 4, 4, 4, 14], "2": [14, 17, 1, 2, 4, 8, 31],
        "3": [31, 2, 4, 2, 1, 17, 14], "4": [2, 6, 10, 18, 31, 2, 2], "5": [31, 16, 30, 1, 1, 17, 14],
        "6": [6, 8, 16, 30, 17, 17, 14], "7": [31, 1, 2, 4, 8, 8, 8], "8": [14, 17, 17, 14, 17, 17, 14],
        "9": [14, 17, 17, 15, 1, 2, 12], ".": [0, 0, 0, 0, 0, 12, 12], "-": [0, 0, 0, 31, 0, 0, 0],
        "+": [0, 4, 4, 31, 4, 4, 0], "e": [0, 0, 14, 17, 31, 16, 14], "S": [15, 16, 16, 14, 1, 1, 30],
        "T": [31, 4, 4, 4, 4, 4, 4], "E": [31, 16, 16, 30, 16, 16, 31], "P": [30, 17, 17, 30, 16, 16, 16],
        " ": [0, 0, 0, 0, 0, 0, 0]
    ]
    static func draw(_ s: String, x: Int, y: Int, into img: inout Image) {
        for (k, ch) in s.enumerated() {
            guard let r = rows[ch] else { continue }
            for (dy, bits) in r.enumerated() {
                for dx in 0 ..< 5 where bits & (16 >> UInt8(dx)) != 0 {
                    let (px, py) = (x + k * 6 + dx, y + dy)
                    guard px >= 0, px < img.width, py >= 0, py < img.height else { continue }
                    let i = (py * img.width + px) * 3
                    img.pixels[i] = 0; img.pixels[i + 1] = 0; img.pixels[i + 2] = 0
                }
            }
        }
    }
}
