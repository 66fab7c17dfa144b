import Foundation

/// TensorBoard's smoothing: a debiased exponential moving average with weight `w` (0 = raw values).
public func emaSmoothed(_ values: [Double], weight w: Double) -> [Double] {
    var last = 0.0, n = 0
    return values.map { v in
        guard v.isFinite else { return v }
        n += 1
        last = last * w + (1 - w) * v
        return last / (1 - pow(w, Double(n)))
    }
}

extension Figure {
    /// A training curve: `values` (one per optimizer step, the first at step `firstStep`) raw in light blue and
    /// EMA-smoothed (`smoothing`) in dark blue, with a title, axis titles, nice ticks and grid; `logScale`: log y.
    public static func curve(
        _ values: [Double], title: String, xTitle: String = "optimizer step", yTitle: String = "loss",
        firstStep: Int = 1, logScale: Bool = false, smoothing: Double = 0.9, width: Int = 720, height: Int = 420
    ) -> Figure {
        let shown = values.enumerated().compactMap { i, v -> (Double, Double)? in
            v.isFinite && (!logScale || v > 0) ? (Double(i + firstStep), v) : nil
        }
        let smooth = emaSmoothed(values, weight: smoothing)
        let (left, right, top, bottom) = (78.0, Double(width) - 24, 44.0, Double(height) - 58)
        let lo = shown.map(\.1).min() ?? 0, hi = shown.map(\.1).max() ?? 1
        // x: from the first tick at or below the first step to the last step (ticks inside), as a person reads steps
        let lastStep = Double(max(firstStep + values.count - 1, firstStep + 1))
        let xAll = Ticks.linear(Double(firstStep), lastStep)
        let xr = (values: xAll.values.filter { $0 <= lastStep + 1e-9 }, step: xAll.step)
        let yTicks: [Double], yStep: Double
        if logScale {
            yTicks = Ticks.log(lo > 0 ? lo : 1e-3, hi > 0 ? hi : 1); yStep = 0
        } else {
            (yTicks, yStep) = Ticks.linear(lo, hi)
        }
        let (x0, x1) = (xr.values.first!, lastStep), (y0, y1) = (yTicks.first!, yTicks.last!)
        func px(_ x: Double) -> Double { left + (right - left) * (x - x0) / (x1 - x0) }
        func py(_ y: Double) -> Double {
            let f = logScale ? (log10(y) - log10(y0)) / (log10(y1) - log10(y0)) : (y - y0) / (y1 - y0)
            return bottom - (bottom - top) * f
        }
        var fig = Figure(width: width, height: height) { p in
            p.color(0, 0, 0)
            p.text(title, Double(width) / 2, 20, size: 15, align: .center, bold: true)
            for v in xr.values {
                p.color(0.9, 0.9, 0.9); p.line(px(v), top, px(v), bottom)
                p.color(0, 0, 0); p.line(px(v), bottom, px(v), bottom + 5)
                p.text(Ticks.label(v, step: xr.step), px(v), bottom + 15, size: 11, align: .center)
            }
            for v in yTicks {
                p.color(0.9, 0.9, 0.9); p.line(left, py(v), right, py(v))
                p.color(0, 0, 0); p.line(left - 5, py(v), left, py(v))
                p.text(
                    logScale ? String(format: "%g", v) : Ticks.label(v, step: yStep), left - 8, py(v), size: 11,
                    align: .right)
            }
            p.color(0, 0, 0)
            p.strokeRect(left, top, right - left, bottom - top)
            p.text(xTitle, (left + right) / 2, Double(height) - 16, size: 13, align: .center)
            p.text(
                yTitle + (logScale ? " (log scale)" : ""), 18, (top + bottom) / 2, size: 13, align: .center,
                angle: -Double.pi / 2)
            p.clip(left, top, right - left, bottom - top)
            let ok = { (v: Double) in v.isFinite && (!logScale || v > 0) }
            p.color(0.62, 0.75, 0.92)
            p.polyline(values.enumerated().map { i, v in ok(v) ? (px(Double(i + firstStep)), py(v)) : (.nan, .nan) })
            p.color(0.08, 0.24, 0.63)
            p.polyline(
                smooth.enumerated().map { i, v in ok(v) ? (px(Double(i + firstStep)), py(v)) : (.nan, .nan) },
                width: 2)
            p.unclip()
            // legend
            let lx = right - 170, ly = top + 14
            p.color(1, 1, 1, 0.85); p.fill(lx - 8, ly - 10, 174, 40)
            p.color(0.62, 0.75, 0.92); p.line(lx, ly, lx + 24, ly, width: 1.5)
            p.color(0.08, 0.24, 0.63); p.line(lx, ly + 18, lx + 24, ly + 18, width: 2)
            p.color(0, 0, 0)
            p.text("raw", lx + 32, ly, size: 11)
            p.text(String(format: "EMA (smoothing %.2g)", smoothing), lx + 32, ly + 18, size: 11)
        }
        fig.title = title
        fig.description = [xTitle, yTitle]
        return fig
    }
}
