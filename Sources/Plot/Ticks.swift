import Foundation

/// Axis ticks: "nice numbers" (1, 2, 5 × 10^k; Heckbert, Graphics Gems 1990) for linear axes, powers of ten
/// (with 2 and 5 between when the range spans few decades) for log axes.
public enum Ticks {
    /// The nice number nearest `x` (`round`) or the smallest one ≥ `x`.
    public static func nice(_ x: Double, round: Bool) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let e = floor(log10(x)), f = x / pow(10, e)
        let n: Double
        if round { n = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10 } else { n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10 }
        return n * pow(10, e)
    }

    /// Ticks covering [lo, hi] at a nice spacing, about `count` of them; returns (values, spacing).
    /// The first and last tick enclose the range (the axis runs from the first to the last).
    public static func linear(_ lo: Double, _ hi: Double, count: Int = 6) -> (values: [Double], step: Double) {
        var (lo, hi) = (min(lo, hi), max(lo, hi))
        if hi - lo < 1e-12 * max(abs(lo), 1) { (lo, hi) = (lo - max(abs(lo) * 0.1, 0.5), hi + max(abs(hi) * 0.1, 0.5)) }
        let step = nice(nice(hi - lo, round: false) / Double(max(count - 1, 1)), round: true)
        let first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9)
        let values = stride(from: first, through: last, by: 1).map { k -> Double in
            let v = k * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
        return (values, step)
    }

    /// Log-axis ticks for [lo, hi] (both > 0): the decades enclosing it, plus 2× and 5× when it spans ≤ 2 decades.
    public static func log(_ lo: Double, _ hi: Double) -> [Double] {
        let lo = max(min(lo, hi), .leastNormalMagnitude), hi = max(lo, hi)
        var a = floor(log10(lo)), b = ceil(log10(hi))
        if a == b { a -= 1; b += 1 }
        var out: [Double] = []
        for k in Int(a) ... Int(b) {
            let d = pow(10, Double(k))
            out.append(d)
            if b - a <= 2, k < Int(b) { out += [2 * d, 5 * d] }
        }
        // keep the ticks inside [the last one ≤ lo, the first one ≥ hi]
        let start = out.lastIndex { $0 <= lo * (1 + 1e-9) } ?? 0, end = out.firstIndex { $0 >= hi * (1 - 1e-9) }
        return Array(out[start ... (end ?? out.count - 1)])
    }

    /// A tick label with as many decimals as `step` needs ("0.25", "1.5", "200"); scientific for tiny or huge.
    public static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let mag = max(abs(v), step)
        if mag >= 1e6 || mag < 1e-3 { return String(format: "%.3g", v) }
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}
