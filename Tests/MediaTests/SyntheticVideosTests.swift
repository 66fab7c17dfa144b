import Foundation
import TestSupport
import Testing
@testable import Media

@Suite struct SyntheticVideosTests {
    /// Mean x of bright (foreground) pixels in frame t.
    static func centroidX(_ clip: VideoClip, _ t: Int) -> Double {
        var sum = 0.0, n = 0.0
        for y in 0 ..< clip.height {
            for x in 0 ..< clip.width {
                let o = t * clip.frameSize + (y * clip.width + x) * 3
                if max(clip.pixels[o], clip.pixels[o + 1], clip.pixels[o + 2]) > 160 { sum += Double(x); n += 1 }
            }
        }
        return n > 0 ? sum / n : .nan
    }

    @Test func renderIsDeterministicAndMovesInTheLabelledDirection() {
        let a = SyntheticVideos.render(shape: 2, motion: 1, seed: 7, frames: 12, size: 64)
        #expect(a == SyntheticVideos.render(shape: 2, motion: 1, seed: 7, frames: 12, size: 64))
        #expect(a != SyntheticVideos.render(shape: 2, motion: 1, seed: 8, frames: 12, size: 64))
        for shape in 0 ..< 4 {
            for seed in UInt64(0) ..< 3 {
                let left = SyntheticVideos.render(shape: shape, motion: 0, seed: seed, frames: 12, size: 64)
                let right = SyntheticVideos.render(shape: shape, motion: 1, seed: seed, frames: 12, size: 64)
                #expect(Self.centroidX(left, 11) < Self.centroidX(left, 0) - 5, "shape \(shape) seed \(seed)")
                #expect(Self.centroidX(right, 11) > Self.centroidX(right, 0) + 5, "shape \(shape) seed \(seed)")
            }
        }
    }

    @Test func generatesDecodableTreeIdempotently() throws {
        let dir = try TempDir("media")
        let root = dir.sub("synthetic")
        let result = try SyntheticVideos.generate(
            root: root, trainPerClass: 2, valPerClass: 1, seed: 3, frames: 16, size: 64)
        #expect(result.classes == SyntheticVideos.classNames && result.classes.count == 8)
        #expect(result.files == 24)
        let fm = FileManager.default
        for (split, count) in [("train", 2), ("val", 1)] {
            #expect(try fm.contentsOfDirectory(atPath: root + "/" + split).sorted() == result.classes.sorted())
            for name in result.classes {
                let files = try fm.contentsOfDirectory(atPath: root + "/\(split)/\(name)").sorted()
                #expect(files == (0 ..< count).map { "\(name)_\(String(format: "%03d", $0)).mp4" })
            }
        }
        let classes = try String(contentsOfFile: root + "/classes.txt", encoding: .utf8)
        #expect(classes.split(separator: "\n").map(String.init) == result.classes)
        let val = try String(contentsOfFile: root + "/val.csv", encoding: .utf8).split(separator: "\n")
        #expect(val.count == 8 && val[3] == "val/square_right/square_right_000.mp4 3")

        let sample = root + "/train/cross_right/cross_right_001.mp4"
        let reader = try VideoReader(path: sample)
        #expect(reader.frameCount == 16 && reader.width == 64 && reader.height == 64 && abs(reader.fps - 10) < 1e-6)
        let clip = try reader.decodeFrames(at: [0, 15])
        #expect(Self.centroidX(clip, 1) > Self.centroidX(clip, 0) + 5)

        // Second call with the same parameters does nothing.
        let before = try fm.attributesOfItem(atPath: sample)[.modificationDate] as? Date
        Thread.sleep(forTimeInterval: 0.01)
        #expect(
            try SyntheticVideos.generate(root: root, trainPerClass: 2, valPerClass: 1, seed: 3, frames: 16, size: 64)
                .files == 24)
        #expect(try fm.attributesOfItem(atPath: sample)[.modificationDate] as? Date == before)
        // Same seed elsewhere gives identical bytes.
        let other = dir.sub("again")
        try SyntheticVideos.generate(root: other, trainPerClass: 2, valPerClass: 1, seed: 3, frames: 16, size: 64)
        #expect(fm.contentsEqual(atPath: sample, andPath: other + "/train/cross_right/cross_right_001.mp4"))
    }
}

/// Timing of the default data set; run with STMAE_MEDIA_BENCH=1.
@Test(.enabled(if: ProcessInfo.processInfo.environment["STMAE_MEDIA_BENCH"] != nil))
func benchmarkDefaultSyntheticDataSet() throws {
    let dir = try TempDir("media")
    var start = Date()
    let result = try SyntheticVideos.generate(root: dir.sub("syn"))
    print("generate \(result.files) clips: \(Date().timeIntervalSince(start)) s")
    let files = try FileManager.default.subpathsOfDirectory(atPath: dir.sub("syn/train")).filter {
        $0.hasSuffix(".mp4")
    }
    start = Date()
    for f in files {
        _ = try VideoReader(path: dir.sub("syn/train/" + f)).decodeFrames(
            at: [1, 5, 9, 13, 17, 21, 25, 29], shortSide: 96)
    }
    print("decode 8 frames from \(files.count) clips: \(Date().timeIntervalSince(start)) s")
    let sizes = try files.map {
        try FileManager.default.attributesOfItem(atPath: dir.sub("syn/train/" + $0))[.size] as! Int
    }
    print("mean file size \(sizes.reduce(0, +) / sizes.count) bytes")
}
