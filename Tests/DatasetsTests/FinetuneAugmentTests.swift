// RandAugment, random erasing, mixup statistics, image class folders and few-shot subsets.
import Foundation
import Media
import TestSupport
import Testing
@testable import Datasets

/// A textured RGB frame (distinct values per channel and position).
func texture(width w: Int, height h: Int, seed: Int = 0) -> [UInt8] {
    var rng = SampleRNG(seed, 99)
    return (0 ..< w * h * 3).map { i in
        UInt8((i % 3 * 70 + (i / 3 % w) * 5 + (i / 3 / w) * 3 + rng.int(in: 0 ... 20)) % 256)
    }
}

@Suite struct FinetuneAugmentTests {
    @Test func randAugmentParsesTimmStrings() throws {
        let a = try RandAugment("rand-m7-mstd0.5-inc1")
        #expect(a.magnitude == 7 && a.numOps == 2 && a.magnitudeStd == 0.5 && a.increasing)
        let b = try RandAugment("rand-m9-n4-mstd0.5")
        #expect(b.numOps == 4 && !b.increasing)
        for bad in ["rand-m7-x3", "augmix-m5", "rand-m11", "rand-n0", "rand-mfoo"] {
            #expect { try RandAugment(bad) } throws: { "\($0)".contains("--rand_aug") && "\($0)".contains(bad) }
        }
    }

    /// Ops uniform over timm's 15, applied with probability 0.5, magnitude ~ N(7, 0.5).
    @Test func randAugmentPlanStatistics() throws {
        let a = try RandAugment("rand-m7-mstd0.5-inc1")
        var counts: [RandAugment.Op: Int] = [:], mags: [Double] = []
        let clips = 6000
        for i in 0 ..< clips {
            var rng = SampleRNG(i, 1)
            for s in a.plan(rng: &rng) { counts[s.op, default: 0] += 1; mags.append(s.magnitude) }
        }
        let applied = mags.count
        #expect(
            abs(Double(applied) / Double(2 * clips) - 0.5) < 0.02,
            "applied fraction \(Double(applied) / Double(2 * clips))")
        #expect(counts.count == 15)
        let expected = Double(applied) / 15
        for (op, n) in counts { #expect(abs(Double(n) - expected) < 0.15 * expected, "\(op): \(n) vs \(expected)") }
        let mean = mags.reduce(0, +) / Double(applied)
        let sd = (mags.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(applied)).squareRoot()
        #expect(abs(mean - 7) < 0.03 && abs(sd - 0.5) < 0.03, "magnitude \(mean) ± \(sd)")
    }

    /// The level → argument maps at magnitude 10 and 5 (timm's increasing variants).
    @Test func randAugmentArguments() throws {
        let a = RandAugment(magnitude: 10, numOps: 1, magnitudeStd: 0, increasing: true)
        var rng = SampleRNG(3)
        #expect(abs(a.argument(.rotate, level: 10, rng: &rng)) == 30)
        #expect(a.argument(.posterize, level: 10, rng: &rng) == 0 && a.argument(.posterize, level: 5, rng: &rng) == 2)
        #expect(a.argument(.solarize, level: 10, rng: &rng) == 0 && a.argument(.solarize, level: 5, rng: &rng) == 128)
        #expect(a.argument(.solarizeAdd, level: 5, rng: &rng) == 55)
        #expect([0.55, 1.45].contains(a.argument(.brightness, level: 5, rng: &rng)))
        #expect(abs(abs(a.argument(.shearX, level: 10, rng: &rng)) - 0.3) < 1e-12)
        #expect(abs(abs(a.argument(.translateY, level: 10, rng: &rng)) - 0.45) < 1e-12)
    }

    @Test func randAugmentOpSemantics() throws {
        let (w, h) = (12, 10)
        let px = texture(width: w, height: h)
        func run(_ op: RandAugment.Op, _ arg: Double) -> [UInt8] {
            var p = px
            RandAugment.apply(.init(op: op, magnitude: 0, arg: arg), to: &p, width: w, height: h, fill: 128)
            return p
        }
        #expect(run(.invert, 0) == px.map { 255 - $0 })
        #expect(run(.posterize, 2) == px.map { $0 & 0xC0 })
        #expect(run(.solarize, 100) == px.map { $0 < 100 ? $0 : 255 - $0 })
        #expect(run(.brightness, 0.5) == px.map { UInt8(Double($0) * 0.5) })
        for op in [RandAugment.Op.color, .contrast, .brightness, .sharpness] {
            #expect(run(op, 1) == px, "\(op) at factor 1")
        }
        #expect(run(.rotate, 0) == px && run(.shearX, 0) == px && run(.translateX, 0) == px)
        // Translate right by a quarter: output column x shows input column x + 3; the last 3 columns are fill.
        let t = run(.translateX, 0.25)
        for y in 0 ..< h {
            for x in 0 ..< w {
                let o = (y * w + x) * 3
                #expect(Array(t[o ..< o + 3]) == (x + 3 < w ? Array(px[o + 9 ..< o + 12]) : [128, 128, 128]))
            }
        }
        // Auto-contrast stretches every channel to 0…255; equalize flattens the histogram.
        let ac = run(.autoContrast, 0)
        for c in 0 ..< 3 {
            let ch = stride(from: c, to: ac.count, by: 3).map { ac[$0] }
            #expect(ch.min() == 0 && ch.max() == 255)
        }
        // (PIL leaves it unchanged when (pixels − top bin) / 255 == 0, as for this 120-pixel frame.)
        #expect(run(.equalize, 0) == px)
        var big = texture(width: 40, height: 30)
        RandAugment.equalize(&big)
        for c in 0 ..< 3 {
            let ch = stride(from: c, to: big.count, by: 3).map { Int(big[$0]) }
            #expect(ch.min() == 0 && ch.max()! >= 240, "equalized channel \(c): \(ch.min()!)…\(ch.max()!)")
        }
        // Rotate 180° = flip both axes (up to resampling of exact pixel centres).
        let r = run(.rotate, 180)
        #expect(Array(r[0 ..< 3]) == Array(px[(h * w - 1) * 3 ..< h * w * 3]))
    }

    /// Every frame of a clip gets the same ops: identical frames stay identical.
    @Test func randAugmentSameOnEveryFrame() throws {
        let a = try RandAugment("rand-m9-n3-mstd0.5-inc1")
        let frame = texture(width: 16, height: 12)
        var changed = 0
        for i in 0 ..< 50 {
            var clip = VideoClip(
                frames: 4, height: 12, width: 16, pixels: Array([[UInt8]](repeating: frame, count: 4).joined()))
            var rng = SampleRNG(i)
            let steps = a.plan(rng: &rng)
            a.apply(steps, to: &clip)
            let f0 = Array(clip.frame(0))
            #expect((1 ..< 4).allSatisfy { Array(clip.frame($0)) == f0 })
            if f0 != frame { changed += 1 }
        }
        #expect(changed > 30)
    }

    /// Erasing probability, box area/aspect limits, same box on all frames, N(0, 1) fill, rest untouched.
    @Test func randomErasingStatistics() throws {
        let (t, h, w) = (3, 20, 24)
        let e = RandomErasing(probability: 0.25)
        var erasedClips = 0, values: [Float] = []
        let n = 2000
        for i in 0 ..< n {
            var clip = [Float](repeating: 7, count: 3 * t * h * w)
            var rng = SampleRNG(i, 5)
            clip.withUnsafeMutableBufferPointer { e.apply($0, frames: t, height: h, width: w, rng: &rng) }
            let mask = clip.map { $0 != 7 }
            guard mask.contains(true) else { continue }
            erasedClips += 1
            let plane = h * w
            let first = Array(mask[0 ..< plane])
            #expect((1 ..< 3 * t).allSatisfy { Array(mask[$0 * plane ..< ($0 + 1) * plane]) == first })
            let area = Double(first.filter { $0 }.count) / Double(plane)
            #expect(area >= 0.015 && area <= 0.36, "area \(area)")
            if values.count < 50_000 { values += clip.enumerated().filter { mask[$0.offset] }.map(\.element) }
        }
        #expect(abs(Double(erasedClips) / Double(n) - 0.25) < 0.03, "\(erasedClips) of \(n)")
        let mean = values.reduce(0, +) / Float(values.count)
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(mean) < 0.03 && abs(sd - 1) < 0.03, "fill \(mean) ± \(sd)")
    }

    /// Beta(α, α) λ: mean 1/2, variance 1/(4(2α+1)); mix_prob and switch_prob respected.
    @Test func mixupDecisionStatistics() throws {
        for alpha in [0.8, 1.0, 0.3] {
            var rng = SampleRNG(Int(alpha * 10))
            let xs = (0 ..< 20000).map { _ in Mixup.beta(alpha, rng: &rng) }
            let m = xs.reduce(0, +) / Double(xs.count)
            let v = xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count)
            #expect(
                abs(m - 0.5) < 0.01 && abs(v - 1 / (4 * (2 * alpha + 1))) < 0.006, "α \(alpha): mean \(m) var \(v)")
        }
        let c = MixupConfig(mixupAlpha: 0.8, cutmixAlpha: 1.0, prob: 0.6, switchProb: 0.5, numClasses: 8)
        var rng = SampleRNG(1)
        let ds = (0 ..< 10000).map { _ in Mixup.decide(c, height: 8, width: 10, rng: &rng) }
        let mixed = ds.filter { $0.lam != 1 }
        #expect(abs(Double(mixed.count) / 10000 - 0.6) < 0.02)
        #expect(abs(Double(mixed.filter(\.useCutmix).count) / Double(mixed.count) - 0.5) < 0.03)
        #expect(mixed.filter(\.useCutmix).allSatisfy { (0 ..< 8).contains($0.cy) && (0 ..< 10).contains($0.cx) })
        var odd = [Float](repeating: 0, count: 3 * 4)
        #expect { try Mixup.apply(c, data: &odd, shape: [3, 4], labels: [0, 1, 2], rng: &rng) } throws: {
            "\($0)".contains("even")
        }
    }

    @Test func imageFolderStaticClipsAndFewShot() throws {
        let tmp = try TempDir("data")
        var written: [String] = []
        for (ci, cls) in ["cat", "dog"].enumerated() {
            try FileManager.default.createDirectory(atPath: tmp.sub("img/\(cls)"), withIntermediateDirectories: true)
            for k in 0 ..< 5 {
                let img = Image(width: 40, height: 30, pixels: texture(width: 40, height: 30, seed: ci * 10 + k))
                let path = tmp.sub("img/\(cls)/\(k)." + (k % 2 == 0 ? "png" : "jpg"))
                if k % 2 == 0 { try img.savePNG(path: path) } else { try img.saveJPEG(path: path) }
                written.append(path)
            }
        }
        let samples = try VideoList.scan(dirs: [tmp.sub("img")], images: true)
        #expect(samples.count == 10 && Set(samples.map(\.label)) == [0, 1])
        #expect(try VideoList.scan(dirs: [tmp.sub("img")]).isEmpty)  // no videos there

        // Eval: resize short side to img+32 then centre crop; every frame is the same image.
        var cfg = ClipConfig(numFrames: 3, samplingRate: 1, imgSize: 16, evalShortSide: 48, train: false)
        let clip = try ClipPipeline(config: cfg).load(path: samples[0].path)
        let plane = 16 * 16
        for c in 0 ..< 3 {
            #expect(
                Array(clip[(c * 3 + 1) * plane ..< (c * 3 + 2) * plane])
                    == Array(clip[c * 3 * plane ..< (c * 3 + 1) * plane]))
        }
        // Train: random resized crops differ per seed, frames still identical.
        cfg.train = true; cfg.scales = 0.08 ... 1
        let p = try ClipPipeline(config: cfg)
        let a = try p.load(path: samples[1].path, seed: 1), b = try p.load(path: samples[1].path, seed: 2)
        #expect(a != b && Array(a[0 ..< plane]) == Array(a[plane ..< 2 * plane]))

        let few = try VideoList.retainPerClass(samples, 0.4, seed: 3)
        #expect(few.filter { $0.label == 0 }.count == 2 && few.filter { $0.label == 1 }.count == 2)
        #expect(try VideoList.retainPerClass(samples, 0.4, seed: 3) == few)
        #expect(try VideoList.retainPerClass(samples, 0.4, seed: 4) != few)
        #expect(try VideoList.retainPerClass(samples, 0.01).count == 2)  // at least one per class
        #expect { try VideoList.retainPerClass(samples, 0) } throws: { "\($0)".contains("--frac_retained") }
    }

    /// RandAugment and erasing inside the video pipeline: deterministic per seed, off in evaluation.
    @Test func pipelineAppliesTrainAugmentations() throws {
        var cfg = Fixture.config
        cfg.randAugment = try RandAugment("rand-m9-n2-mstd0.5-inc1"); cfg.reprob = 1
        let path = Fixture.samples[0].path
        let p = try ClipPipeline(config: cfg)
        let base = try ClipPipeline(config: Fixture.config).load(path: path, seed: 4)
        let x = try p.load(path: path, seed: 4)
        #expect(x == (try p.load(path: path, seed: 4)) && x != base)
        cfg.train = false; var plain = cfg; plain.randAugment = nil; plain.reprob = 0
        #expect(try ClipPipeline(config: cfg).load(path: path) == (try ClipPipeline(config: plain).load(path: path)))
        cfg.reprob = 2
        #expect { try ClipPipeline(config: cfg) } throws: { "\($0)".contains("--reprob") }
    }
}
