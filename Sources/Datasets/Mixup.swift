// Mixup / CutMix soft targets for clip batches (timm / SlowFast `Mixup`, mode "batch").
import Foundation

/// Mixup / CutMix settings (mae_st `--mixup`, `--cutmix`, `--mixup_prob`, `--mixup_switch_prob`, `--smoothing`).
public struct MixupConfig: Sendable, Equatable {
    /// Beta(α, α) for mixup; 0 = off.
    public var mixupAlpha: Double
    /// Beta(α, α) for cutmix; 0 = off.
    public var cutmixAlpha: Double
    /// Probability that a batch is mixed at all.
    public var prob: Double
    /// With both enabled: probability of cutmix instead of mixup.
    public var switchProb: Double
    /// Label smoothing folded into the targets.
    public var labelSmoothing: Double
    public var numClasses: Int
    /// Recompute λ from the clipped box area (timm `correct_lam`).
    public var correctLam: Bool

    public init(
        mixupAlpha: Double = 0.8, cutmixAlpha: Double = 1.0, prob: Double = 1.0, switchProb: Double = 0.5,
        labelSmoothing: Double = 0.1, numClasses: Int, correctLam: Bool = true
    ) {
        self.mixupAlpha = mixupAlpha
        self.cutmixAlpha = cutmixAlpha
        self.prob = prob
        self.switchProb = switchProb
        self.labelSmoothing = labelSmoothing
        self.numClasses = numClasses
        self.correctLam = correctLam
    }

    /// Whether any mixing can happen.
    public var enabled: Bool { (mixupAlpha > 0 || cutmixAlpha > 0) && prob > 0 }
}

/// The random decision for one batch: λ as drawn, cutmix or mixup, and the box centre for cutmix.
public struct MixDecision: Sendable, Equatable {
    public var lam: Double
    public var useCutmix: Bool
    public var cy: Int, cx: Int
    public init(lam: Double, useCutmix: Bool, cy: Int = 0, cx: Int = 0) {
        self.lam = lam
        self.useCutmix = useCutmix
        self.cy = cy
        self.cx = cx
    }
}

public enum Mixup {
    /// timm `_params_per_batch` + the cutmix centre of `rand_bbox`: with probability `prob` the batch is mixed,
    /// λ ~ Beta(α, α) of the chosen method (cutmix with probability `switchProb` when both are on).
    public static func decide(_ c: MixupConfig, height: Int, width: Int, rng: inout SampleRNG) -> MixDecision {
        guard c.enabled, rng.uniform() < c.prob else { return MixDecision(lam: 1, useCutmix: false) }
        let useCutmix: Bool
        if c.mixupAlpha > 0 && c.cutmixAlpha > 0 {
            useCutmix = rng.uniform() < c.switchProb
        } else {
            useCutmix = c.cutmixAlpha > 0
        }
        let lam = beta(useCutmix ? c.cutmixAlpha : c.mixupAlpha, rng: &rng)
        guard useCutmix else { return MixDecision(lam: lam, useCutmix: false) }
        return MixDecision(
            lam: lam, useCutmix: true, cy: rng.int(in: 0 ... height - 1), cx: rng.int(in: 0 ... width - 1))
    }

    /// timm `rand_bbox`: side `int(s·√(1−λ))`, centred at (cy, cx), half-size `side / 2`, clipped
    /// → (yl, yh, xl, xh).
    public static func box(height h: Int, width w: Int, lam: Double, cy: Int, cx: Int) -> (
        yl: Int, yh: Int, xl: Int, xh: Int
    ) {
        let ratio = (1 - lam).squareRoot()
        let cutH = Int(Double(h) * ratio), cutW = Int(Double(w) * ratio)
        func clip(_ v: Int, _ hi: Int) -> Int { min(max(v, 0), hi) }
        return (clip(cy - cutH / 2, h), clip(cy + cutH / 2, h), clip(cx - cutW / 2, w), clip(cx + cutW / 2, w))
    }

    /// Mixes a batch in place and returns the effective λ.
    ///
    /// - Parameter data: `[N, C, T, H, W]` (or `[N, C, H, W]`) row-major with `shape`; N must be even (pairs are
    ///   sample i and N−1−i, `x.flip(0)`). Cutmix pastes the same box on every frame and channel.
    @discardableResult
    public static func mix(_ data: inout [Float], shape: [Int], decision d: MixDecision, correctLam: Bool = true)
        -> Double
    {
        guard d.lam != 1, let n = shape.first, n > 0 else { return 1 }
        let h = shape[shape.count - 2], w = shape[shape.count - 1]
        let per = data.count / n, planes = per / (h * w)
        if !d.useCutmix {
            let lam = Float(d.lam)
            let original = data
            original.withUnsafeBufferPointer { src in
                for i in 0 ..< n {
                    let a = i * per, b = (n - 1 - i) * per
                    for k in 0 ..< per { data[a + k] = lam * src[a + k] + (1 - lam) * src[b + k] }
                }
            }
            return d.lam
        }
        let (yl, yh, xl, xh) = box(height: h, width: w, lam: d.lam, cy: d.cy, cx: d.cx)
        let original = data
        for i in 0 ..< n {
            let a = i * per, b = (n - 1 - i) * per
            for p in 0 ..< planes {
                for y in yl ..< yh {
                    let row = p * h * w + y * w
                    for x in xl ..< xh { data[a + row + x] = original[b + row + x] }
                }
            }
        }
        return correctLam ? 1 - Double((yh - yl) * (xh - xl)) / Double(h * w) : d.lam
    }

    /// timm `mixup_target`: smoothed one-hot (off = s/C, on = 1 − s + off) mixed as λ·y + (1−λ)·y.flip(0).
    /// `[N, C]`.
    public static func targets(labels: [Int], numClasses c: Int, lam: Double, smoothing: Double) -> [Float] {
        let n = labels.count
        let off = smoothing / Double(c), on = 1 - smoothing + off
        var out = [Float](repeating: 0, count: n * c)
        for i in 0 ..< n {
            for k in 0 ..< c {
                let y1 = labels[i] == k ? on : off, y2 = labels[n - 1 - i] == k ? on : off
                out[i * c + k] = Float(lam * y1 + (1 - lam) * y2)
            }
        }
        return out
    }

    /// Decides, mixes `data` in place and returns the soft targets `[N, C]` and the effective λ.
    /// - Throws: `DatasetError` for an odd batch (timm requires pairs) or a label outside `0 ..< numClasses`.
    public static func apply(
        _ c: MixupConfig, data: inout [Float], shape: [Int], labels: [Int],
        rng: inout SampleRNG
    ) throws -> (targets: [Float], lam: Double) {
        guard labels.count == shape[0], labels.count % 2 == 0 else {
            throw DatasetError("mixup/cutmix needs an even batch size, got \(labels.count)")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= c.numClasses }) {
            throw DatasetError("label \(bad) is outside 0..<\(c.numClasses) (--num_classes)")
        }
        let d = decide(c, height: shape[shape.count - 2], width: shape[shape.count - 1], rng: &rng)
        let lam = mix(&data, shape: shape, decision: d, correctLam: c.correctLam)
        return (targets(labels: labels, numClasses: c.numClasses, lam: lam, smoothing: c.labelSmoothing), lam)
    }

    // MARK: - Beta sampling

    /// Beta(α, α) from two Gamma(α) draws.
    public static func beta(_ alpha: Double, rng: inout SampleRNG) -> Double {
        let x = gamma(alpha, rng: &rng), y = gamma(alpha, rng: &rng)
        return x + y > 0 ? x / (x + y) : 0.5
    }

    /// Gamma(shape, 1): Marsaglia–Tsang, with the `U^(1/a)` boost for shape < 1.
    static func gamma(_ a: Double, rng: inout SampleRNG) -> Double {
        if a < 1 { return gamma(a + 1, rng: &rng) * pow(max(rng.uniform(), 1e-300), 1 / a) }
        let d = a - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat {
                x = normal(rng: &rng)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = rng.uniform()
            if u < 1 - 0.0331 * x * x * x * x || log(max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + log(v)) {
                return d * v
            }
        }
    }

    /// Standard normal (Box–Muller).
    static func normal(rng: inout SampleRNG) -> Double {
        let u1 = max(rng.uniform(), 1e-300), u2 = rng.uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
