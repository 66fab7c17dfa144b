import Foundation
import TestSupport
import Testing
@testable import Media
import SeededRandom

@Suite struct VideoTests {
    @Test func selectiveDecodeMatchesSequential() throws {
        let dir = try TempDir("media")
        let path = try writeIndexVideo(dir.sub("clip.mp4"))
        let reader = try VideoReader(path: path)
        #expect(reader.frameCount == 32)
        #expect(abs(reader.fps - 10) < 1e-6)
        #expect(reader.width == 96 && reader.height == 64)
        let all = try reader.decodeAll()
        for t in 0 ..< 32 { #expect(decodedIndex(all.frame(t)) == t, "sequential frame \(t)") }

        let wanted = [0, 5, 17, 17, 30]
        let clip = try VideoReader(path: path).decodeFrames(at: wanted)
        #expect(clip.frames == 5 && clip.width == 96 && clip.height == 64)
        for (k, t) in wanted.enumerated() {
            #expect(decodedIndex(clip.frame(k)) == t)
            #expect(clip.frame(k) == all.frame(t), "frame \(t) differs from sequential decode")
        }
        // Frame-threaded decoding (skip_frame changes per packet) gives the same frames.
        let threaded = try VideoReader(path: path, threads: 0).decodeFrames(at: wanted)
        #expect(threaded == clip)
        // Same reader, unsorted, clamped, backwards seeks.
        let again = try reader.decodeFrames(at: [31, 2, 40, -3, 9])
        for (k, t) in [31, 2, 31, 0, 9].enumerated() { #expect(again.frame(k) == all.frame(t)) }
    }

    @Test func shortSideResize() throws {
        let dir = try TempDir("media")
        let path = try writeIndexVideo(dir.sub("clip.mp4"), frames: 8)
        let reader = try VideoReader(path: path)
        let clip = try reader.decodeFrames(at: [0, 7], shortSide: 32)
        #expect(clip.width == 48 && clip.height == 32)
        #expect(decodedIndex(clip.frame(1)) == 7)
        let up = try reader.decodeFrames(at: [3], shortSide: 128)
        #expect(up.width == 192 && up.height == 128)
        #expect(decodedIndex(up.frame(0)) == 3)
    }

    @Test func lastColumnsAreNotBlack() throws {
        let dir = try TempDir("media")
        let path = try writeIndexVideo(dir.sub("narrow.mp4"), frames: 4, width: 90, height: 60)
        let clip = try VideoReader(path: path).decodeAll()
        #expect(clip.width == 90)
        for t in 0 ..< 4 {
            let source = indexFrame(t, width: 90, height: 60)
            var error = 0, count = 0
            for y in 0 ..< 60 {
                for x in 82 ..< 90 {
                    let o = (y * 90 + x) * 3
                    for c in 0 ..< 3 {
                        let d = abs(Int(clip.pixels[t * clip.frameSize + o + c]) - Int(source[o + c]))
                        if y < 28 { #expect(d <= 8, "t=\(t) x=\(x) y=\(y)") }
                        error += d
                        count += 1
                    }
                }
            }
            #expect(Double(error) / Double(count) < 12, "mean error in the last 8 columns, frame \(t)")
        }
    }

    static let formats: [(String, VideoCodec)] = [
        ("mp4", .h264), ("mp4", .mpeg4), ("mkv", .h264), ("avi", .mpeg4), ("avi", .mjpeg), ("webm", .vp8),
        ("webm", .vp9)
    ].filter { $0.1.isAvailable }

    @Test(arguments: formats)
    func containersAndCodecs(ext: String, codec: VideoCodec) throws {
        let dir = try TempDir("media")
        let path = try writeIndexVideo(dir.sub("clip.\(ext)"), frames: 20, codec: codec, gop: 6)
        let info = try VideoReader.probe(path: path)
        #expect(info.frameCount == 20 && info.width == 96 && info.height == 64)
        #expect(abs(info.fps - 10) < 0.01)
        let reader = try VideoReader(path: path)
        #expect(reader.frameCount == 20)
        // Seeking lands on the right GOP: at most one GOP (plus reorder slack) is decoded.
        let single = try reader.decodeFrames(at: [16])
        #expect(decodedIndex(single.frame(0)) == 16)
        #expect(reader.framesDecoded <= 6, "decoded \(reader.framesDecoded), keyframes \(reader.keyframeIndices)")
        let wanted = [0, 5, 17, 17, 19, 30]
        let clip = try reader.decodeFrames(at: wanted)
        let all = try VideoReader(path: path).decodeAll()
        for (k, t) in wanted.enumerated() {
            #expect(decodedIndex(clip.frame(k)) == min(t, 19), "\(ext)/\(codec) frame \(t)")
            #expect(clip.frame(k) == all.frame(min(t, 19)))
        }
    }

    @Test func corruptAndMissingFilesThrow() throws {
        let dir = try TempDir("media")
        let good = try writeIndexVideo(dir.sub("good.mp4"), frames: 16)
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = dir.sub("truncated.mp4")
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        let empty = dir.sub("empty.mp4")
        try Data().write(to: URL(fileURLWithPath: empty))
        let text = dir.sub("notes.mp4")
        try "this is not a video\n".write(toFile: text, atomically: true, encoding: .utf8)
        let missing = dir.sub("missing.mp4")
        for path in [truncated, empty, text, missing] {
            let error = #expect(throws: MediaError.self) { _ = try VideoReader(path: path).decodeFrames(at: [0, 15]) }
            #expect(error?.description.hasPrefix(path + ": ") == true, "\(String(describing: error))")
            #expect(throws: MediaError.self) { _ = try VideoReader.probe(path: path) }
        }
        #expect(throws: MediaError.self) { _ = try VideoReader(path: dir.path) }
    }

    /// A FIFO (or device) named like a video is refused at once instead of blocking the reader forever.
    @Test(.timeLimit(.minutes(1))) func nonRegularFilesAreRefused() throws {
        let dir = try TempDir("media")
        let fifo = dir.sub("pipe.mp4")
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, "/dev/zero"] {
            let error = #expect(throws: MediaError.self) { _ = try VideoReader(path: path) }
            #expect(
                error?.description.contains(path == fifo ? "FIFO" : "device") == true, "\(String(describing: error))")
        }
    }

    @Test func writerRejectsBadInput() throws {
        let dir = try TempDir("media")
        #expect(throws: MediaError.self) {
            _ = try VideoWriter(path: dir.sub("odd.mp4"), width: 91, height: 60, fps: 10)
        }
        #expect(throws: MediaError.self) {
            _ = try VideoWriter(path: dir.sub("x.unknownext"), width: 90, height: 60, fps: 10)
        }
        #expect(throws: MediaError.self) { _ = try VideoWriter(path: dir.sub("x.gif"), width: 90, height: 60, fps: 10) }
        #expect(throws: MediaError.self) {
            _ = try VideoWriter(path: dir.sub("no/such/dir/x.mp4"), width: 90, height: 60, fps: 10)
        }
        let w = try VideoWriter(path: dir.sub("a.mp4"), width: 16, height: 16, fps: 10)
        #expect(throws: MediaError.self) { try w.append(rgb: [0, 1, 2]) }
        // Abandoned writers leave no files behind.
        _ = try VideoWriter(path: dir.sub("abandoned.mp4"), width: 16, height: 16, fps: 10)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(leftovers.filter { !$0.hasPrefix(".a.mp4") }.isEmpty, "\(leftovers)")
    }
}

@Suite struct SelectiveDecodingTests {
    @Test func decodesOnlyTheNeededGOPs() throws {
        let dir = try TempDir("media")
        let path = try writeIndexVideo(dir.sub("gop.mp4"), frames: 64, gop: 8)
        let reader = try VideoReader(path: path)
        let (d0, s0) = (reader.framesDecoded, reader.seeks)
        let clip = try reader.decodeFrames(at: [60])
        #expect(decodedIndex(clip.frame(0)) == 60)
        // Only the last GOP (plus decoder reordering slack) is decoded.
        #expect(
            reader.framesDecoded - d0 <= 8,
            "decoded \(reader.framesDecoded - d0) frames, keyframes \(reader.keyframeIndices)")
        #expect(reader.seeks - s0 == 1)
        // Consecutive targets in one GOP do not seek again.
        let s1 = reader.seeks
        _ = try reader.decodeFrames(at: [33, 34, 36])
        #expect(reader.seeks - s1 == 1)
    }
}

@Suite struct CorruptionTests {
    /// Random byte damage in the body of real files must give frames or a MediaError: never a
    /// crash, hang or other error type.
    @Test(arguments: ["mp4", "webm", "avi"])
    func damagedFilesFailCleanly(ext: String) throws {
        let dir = try TempDir("media")
        let good = try writeIndexVideo(dir.sub("good.\(ext)"), frames: 24, width: 64, height: 48, gop: 6)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        var rng = SplitMix64(seed: UInt64(ext.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        let seed = ProcessInfo.processInfo.environment["STMAE_FUZZ_SEED"].flatMap(UInt64.init)
        if let seed { rng = SplitMix64(seed: seed) }
        let rounds = seed == nil ? 12 : 200
        var outcomes = [0, 0]
        for round in 0 ..< rounds {
            var bytes = original
            for _ in 0 ..< 1 + Int(rng.next() % 6) {
                let at = Int(rng.next() % UInt64(bytes.count))
                for k in at ..< min(bytes.count, at + 1 + Int(rng.next() % 64)) {
                    bytes[k] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if round % 4 == 3 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count / 2))) }
            let path = dir.sub("bad\(round).\(ext)")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let reader = try VideoReader(path: path)
                let clip = try reader.decodeFrames(at: [0, 9, 23, 5, 100], shortSide: 32)
                #expect(clip.frames == 5)
                outcomes[0] += 1
            } catch let error as MediaError {
                #expect(error.description.hasPrefix(path + ": "))
                outcomes[1] += 1
            }
        }
        #expect(outcomes[0] + outcomes[1] == rounds)
    }
}
