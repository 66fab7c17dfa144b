// RandAugment (Cubuk et al. 2020) with timm's op list and magnitude semantics, one plan per clip.
import Foundation
import Media

/// timm `rand-m{M}-n{N}-mstd{S}-inc{0|1}` RandAugment on 8-bit frames.
///
/// Per clip: `n` ops drawn uniformly with replacement from timm's 15-op list; each is applied with probability 0.5 at
/// magnitude `gauss(m, mstd)` clipped to [0, 10] (`_LEVEL_DENOM` 10); signed ops get a random sign. The plan is drawn
/// once and applied to every frame (mae_st / SlowFast apply the same transform to the frame list); data-dependent
/// statistics (auto-contrast range, equalisation histogram, contrast mean) are per frame, as PIL computes them.
/// Geometric ops use bilinear resampling and fill (128, 128, 128) (timm's default fill; the random
/// bilinear/bicubic choice of timm is not reproduced).
public struct RandAugment: Sendable, Equatable {
    public enum Op: String, CaseIterable, Sendable {
        case autoContrast = "AutoContrast", equalize = "Equalize", invert = "Invert", rotate = "Rotate"
        case posterize = "Posterize", solarize = "Solarize", solarizeAdd = "SolarizeAdd", color = "Color"
        case contrast = "Contrast", brightness = "Brightness", sharpness = "Sharpness", shearX = "ShearX"
        case shearY = "ShearY", translateX = "TranslateXRel", translateY = "TranslateYRel"
    }

    /// One op of a plan with its resolved argument (degrees, factor, bits, threshold, fraction …).
    public struct Step: Sendable, Equatable {
        public var op: Op
        public var magnitude: Double
        public var arg: Double
    }

    public var magnitude: Double
    public var numOps: Int
    public var magnitudeStd: Double
    /// timm "increasing" variants (`inc1`): stronger with magnitude for posterize/solarize/enhance ops.
    public var increasing: Bool
    public var prob = 0.5
    public var fill: UInt8 = 128

    public init(magnitude: Double = 9, numOps: Int = 2, magnitudeStd: Double = 0.5, increasing: Bool = true) {
        self.magnitude = magnitude
        self.numOps = numOps
        self.magnitudeStd = magnitudeStd
        self.increasing = increasing
    }

    /// Parses a timm config string such as `rand-m7-mstd0.5-inc1` (`n` defaults to 2).
    /// - Throws: `DatasetError` naming `--rand_aug` and the bad part.
    public init(_ spec: String) throws {
        func bad(_ why: String) -> DatasetError {
            DatasetError("--rand_aug '\(spec)': \(why) (expected e.g. rand-m7-n2-mstd0.5-inc1)")
        }
        let parts = spec.split(separator: "-").map(String.init)
        guard parts.first == "rand" else { throw bad("must start with 'rand'") }
        self.init(magnitude: 9, numOps: 2, magnitudeStd: 0, increasing: false)
        for p in parts.dropFirst() {
            func value(_ key: String) throws -> Double {
                guard let v = Double(p.dropFirst(key.count)), v.isFinite, v >= 0 else {
                    throw bad("bad value in '\(p)'")
                }
                return v
            }
            if p.hasPrefix("mstd") {
                magnitudeStd = try value("mstd")
            } else if p.hasPrefix("mmax") {
                throw bad("'mmax' is not supported")
            } else if p.hasPrefix("m") {
                magnitude = try value("m")
            } else if p.hasPrefix("n") {
                let n = try value("n")
                guard n == n.rounded(), n >= 1 else { throw bad("n must be a positive integer") }
                numOps = Int(n)
            } else if p.hasPrefix("inc") {
                increasing = try value("inc") != 0
            } else {
                throw bad("unknown part '\(p)'")
            }
        }
        guard magnitude <= 10 else { throw bad("magnitude above 10") }
    }

    /// Draws the clip's plan: the ops that will be applied, in order (ops skipped by the 0.5 coin are left out).
    public func plan(rng: inout SampleRNG) -> [Step] {
        var steps: [Step] = []
        let ops = Op.allCases
        for _ in 0 ..< numOps {
            let op = ops[rng.int(in: 0 ... ops.count - 1)]
            if prob < 1 && rng.uniform() > prob { continue }
            var m = magnitude
            if magnitudeStd > 0 { m = min(max(magnitude + magnitudeStd * Mixup.normal(rng: &rng), 0), 10) }
            steps.append(Step(op: op, magnitude: m, arg: argument(op, level: m, rng: &rng)))
        }
        return steps
    }

    /// timm's `level_to_arg` functions (level in [0, 10]).
    func argument(_ op: Op, level: Double, rng: inout SampleRNG) -> Double {
        let l = level / 10
        func signed(_ v: Double) -> Double { rng.uniform() < 0.5 ? -v : v }
        switch op {
        case .autoContrast, .equalize, .invert: return 0
        case .rotate: return signed(30 * l)
        case .posterize: return Double(increasing ? 4 - Int(l * 4) : Int(l * 4))
        case .solarize: return Double(increasing ? 256 - Int(l * 256) : Int(l * 256))
        case .solarizeAdd: return Double(Int(l * 110))
        case .color, .contrast, .brightness, .sharpness: return increasing ? 1 + signed(0.9 * l) : 1.8 * l + 0.1
        case .shearX, .shearY: return signed(0.3 * l)
        case .translateX, .translateY: return signed(0.45 * l)
        }
    }

    /// Applies `steps` to every frame of `clip` in place.
    public func apply(_ steps: [Step], to clip: inout VideoClip) {
        guard !steps.isEmpty else { return }
        let (w, h, size) = (clip.width, clip.height, clip.frameSize)
        var pixels = clip.pixels
        for f in 0 ..< clip.frames {
            var frame = Array(pixels[f * size ..< (f + 1) * size])
            for s in steps { Self.apply(s, to: &frame, width: w, height: h, fill: fill) }
            pixels.replaceSubrange(f * size ..< (f + 1) * size, with: frame)
        }
        clip = VideoClip(frames: clip.frames, height: h, width: w, pixels: pixels)
    }

    // MARK: - Ops on one RGB frame (PIL semantics)

    static func apply(_ s: Step, to p: inout [UInt8], width w: Int, height h: Int, fill: UInt8) {
        switch s.op {
        case .autoContrast: autoContrast(&p)
        case .equalize: equalize(&p)
        case .invert: lut(&p) { 255 - $0 }
        case .posterize:
            let bits = Int(s.arg)
            if bits < 8 {
                let mask = UInt8(truncatingIfNeeded: ~((1 << (8 - max(bits, 0))) - 1)); lut(&p) { $0 & mask }
            }
        case .solarize: let t = Int(s.arg); lut(&p) { Int($0) < t ? $0 : 255 - $0 }
        case .solarizeAdd: let a = Int(s.arg); lut(&p) { $0 < 128 ? UInt8(min(Int($0) + a, 255)) : $0 }
        case .brightness: blend(&p, degenerate: [UInt8](repeating: 0, count: p.count), factor: s.arg)
        case .color:
            var g = p
            for i in stride(from: 0, to: p.count, by: 3) { let l = luma(p, i); g[i] = l; g[i + 1] = l; g[i + 2] = l }
            blend(&p, degenerate: g, factor: s.arg)
        case .contrast:
            var sum = 0
            for i in stride(from: 0, to: p.count, by: 3) { sum += Int(luma(p, i)) }
            let mean = UInt8(min(Int(Double(sum) / Double(max(p.count / 3, 1)) + 0.5), 255))
            blend(&p, degenerate: [UInt8](repeating: mean, count: p.count), factor: s.arg)
        case .sharpness: blend(&p, degenerate: smooth(p, w, h), factor: s.arg)
        case .rotate:
            // PIL `rotate(deg)`: counter-clockwise about the centre; output (x, y) samples the inverse rotation.
            let a: Double = -s.arg * Double.pi / 180
            let cx = Double(w) / 2, cy = Double(h) / 2
            let c: Double = cos(a), sn: Double = sin(a)
            let tx: Double = cx - c * cx - sn * cy
            let ty: Double = cy + sn * cx - c * cy
            affine(&p, w, h, fill, (c, sn, tx, -sn, c, ty))
        case .shearX: affine(&p, w, h, fill, (1, s.arg, 0, 0, 1, 0))
        case .shearY: affine(&p, w, h, fill, (1, 0, 0, s.arg, 1, 0))
        case .translateX: affine(&p, w, h, fill, (1, 0, s.arg * Double(w), 0, 1, 0))
        case .translateY: affine(&p, w, h, fill, (1, 0, 0, 0, 1, s.arg * Double(h)))
        }
    }

    @inline(__always) static func luma(_ p: [UInt8], _ i: Int) -> UInt8 {
        let r: Int = Int(p[i]) * 19595, g: Int = Int(p[i + 1]) * 38470, b: Int = Int(p[i + 2]) * 7471
        return UInt8((r + g + b + 0x8000) >> 16)
    }

    static func lut(_ p: inout [UInt8], _ f: (UInt8) -> UInt8) {
        let table = (0 ... 255).map { f(UInt8($0)) }
        for i in p.indices { p[i] = table[Int(p[i])] }
    }

    /// PIL `Image.blend(degenerate, image, factor)`: `d + factor·(x − d)`, truncated and clipped to 0…255.
    static func blend(_ p: inout [UInt8], degenerate d: [UInt8], factor: Double) {
        for i in p.indices {
            let v = Double(d[i]) + factor * (Double(p[i]) - Double(d[i]))
            p[i] = UInt8(min(max(Int(v), 0), 255))
        }
    }

    /// PIL `ImageOps.autocontrast` (no cutoff), per channel.
    static func autoContrast(_ p: inout [UInt8]) {
        for c in 0 ..< 3 {
            var lo = 255, hi = 0
            for i in stride(from: c, to: p.count, by: 3) { lo = min(lo, Int(p[i])); hi = max(hi, Int(p[i])) }
            guard hi > lo else { continue }
            let scale = 255 / Double(hi - lo), offset = -Double(lo) * scale
            let table = (0 ... 255).map { UInt8(min(max(Int(Double($0) * scale + offset), 0), 255)) }
            for i in stride(from: c, to: p.count, by: 3) { p[i] = table[Int(p[i])] }
        }
    }

    /// PIL `ImageOps.equalize`, per channel.
    static func equalize(_ p: inout [UInt8]) {
        for c in 0 ..< 3 {
            var hist = [Int](repeating: 0, count: 256)
            for i in stride(from: c, to: p.count, by: 3) { hist[Int(p[i])] += 1 }
            let nonzero = hist.filter { $0 > 0 }
            guard nonzero.count > 1 else { continue }
            let step = (hist.reduce(0, +) - nonzero.last!) / 255
            guard step > 0 else { continue }
            var n = step / 2, table = [UInt8](repeating: 0, count: 256)
            for i in 0 ..< 256 { table[i] = UInt8(min(n / step, 255)); n += hist[i] }
            for i in stride(from: c, to: p.count, by: 3) { p[i] = table[Int(p[i])] }
        }
    }

    /// PIL `ImageFilter.SMOOTH` (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1, ÷13); border pixels unchanged.
    static func smooth(_ p: [UInt8], _ w: Int, _ h: Int) -> [UInt8] {
        var out = p
        guard w > 2, h > 2 else { return out }
        for y in 1 ..< h - 1 {
            for x in 1 ..< w - 1 {
                for c in 0 ..< 3 {
                    var s = 4 * Int(p[(y * w + x) * 3 + c])
                    for dy in -1 ... 1 { for dx in -1 ... 1 { s += Int(p[((y + dy) * w + x + dx) * 3 + c]) } }
                    out[(y * w + x) * 3 + c] = UInt8(min((s + 6) / 13, 255))
                }
            }
        }
        return out
    }

    /// PIL `Image.transform(AFFINE, (a, b, c, d, e, f))`: output pixel (x, y) samples the input at
    /// (a·x + b·y + c, d·x + e·y + f) (pixel centres), bilinear, `fill` outside.
    static func affine(
        _ p: inout [UInt8], _ w: Int, _ h: Int, _ fill: UInt8,
        _ m: (Double, Double, Double, Double, Double, Double)
    ) {
        let src = p
        for y in 0 ..< h {
            for x in 0 ..< w {
                let (ox, oy) = (Double(x) + 0.5, Double(y) + 0.5)
                let sx: Double = m.0 * ox + m.1 * oy + m.2 - 0.5
                let sy: Double = m.3 * ox + m.4 * oy + m.5 - 0.5
                let o = (y * w + x) * 3
                guard sx > -1, sy > -1, sx < Double(w), sy < Double(h) else {
                    p[o] = fill; p[o + 1] = fill; p[o + 2] = fill
                    continue
                }
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = sx - Double(x0), fy = sy - Double(y0)
                for c in 0 ..< 3 {
                    func at(_ xx: Int, _ yy: Int) -> Double {
                        xx < 0 || yy < 0 || xx >= w || yy >= h ? Double(fill) : Double(src[(yy * w + xx) * 3 + c])
                    }
                    let top: Double = (1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)
                    let bottom: Double = (1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1)
                    let v: Double = (1 - fy) * top + fy * bottom
                    p[o + c] = UInt8(min(max(Int(v + 0.5), 0), 255))
                }
            }
        }
    }
}
