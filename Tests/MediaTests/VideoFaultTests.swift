import CFFmpeg
import Foundation
import Testing
import TestSupport
@testable import Media

/// Phone-style rotation and damage inside a file (issue 24 item 4).
@Suite struct VideoFaultTests {
    /// A 32×16 mp4 whose left half is red and right half blue, its track header's matrix set as a phone writes it for
    /// a clockwise `rotation` (portrait iPhone video: a b c d = 0 1 −1 0, which ffprobe shows as "rotation of -90").
    func halves(_ path: String, rotation: Int) throws {
        let (w, h) = (32, 16)
        let writer = try VideoWriter(path: path, width: w, height: h, fps: 10, keyframeInterval: 4)
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0 ..< h { for x in 0 ..< w { px[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 220 } }
        for _ in 0 ..< 4 { try writer.append(rgb: px) }
        try writer.finish()
        let abcd: [Int32] = [0: [1, 0, 0, 1], 90: [0, 1, -1, 0], 180: [-1, 0, 0, -1], 270: [0, -1, 1, 0]][rotation]!
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let tkhd = try #require((0 ..< bytes.count - 4).first { bytes[$0 ..< $0 + 4].elementsEqual("tkhd".utf8) })
        let matrix = tkhd - 4 + 48  // version 0 box: 40 bytes of header fields before the 3×3 matrix
        for (k, v) in [(0, abcd[0]), (1, abcd[1]), (3, abcd[2]), (4, abcd[3])] {
            let fixed = UInt32(bitPattern: v << 16)  // 16.16 fixed point
            for b in 0 ..< 4 { bytes[matrix + 4 * k + b] = UInt8(truncatingIfNeeded: fixed >> (24 - 8 * b)) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The colour (0 red, 2 blue) dominating the pixel at (x, y) of frame 0.
    func colour(_ clip: VideoClip, _ x: Int, _ y: Int) -> Int {
        let p = Array(
            clip.frame(0)[
                clip.frame(0).startIndex + (y * clip.width + x) * 3 ..< clip.frame(0).startIndex + (y * clip.width + x)
                    * 3 + 3])
        return p[0] > p[2] ? 0 : 2
    }

    /// The display matrix is applied as ffmpeg's autorotate does: 90° clockwise puts the left half on top.
    @Test func displayMatrixRotationIsApplied() throws {
        let dir = try TempDir()
        for (rotation, topLeft, bottomRight, size) in [
            (0, 0, 2, (32, 16)), (90, 0, 2, (16, 32)), (180, 2, 0, (32, 16)),
            (270, 2, 0, (16, 32))
        ] {
            let path = dir.sub("r\(rotation).mp4")
            try halves(path, rotation: rotation)
            let reader = try VideoReader(path: path)
            #expect(
                reader.rotation == rotation && reader.width == size.0 && reader.height == size.1,
                "\(rotation) read \(reader.rotation)")
            let info = try VideoReader.probe(path: path)
            #expect(info.width == size.0 && info.height == size.1)
            let clip = try reader.decodeFrames(at: [0])
            #expect(clip.width == size.0 && clip.height == size.1)
            #expect(
                colour(clip, 1, 1) == topLeft && colour(clip, clip.width - 2, clip.height - 2) == bottomRight,
                "\(rotation)")
            let small = try reader.decodeFrames(at: [1], shortSide: 8)  // resize, then rotate
            #expect(small.width == size.0 / 2 && small.height == size.1 / 2)
        }
    }

    /// Packets overwritten with garbage inside a file are counted, and the file still decodes.
    @Test func damagedPacketsAreCountedNotFatal() throws {
        let dir = try TempDir()
        let path = try writeIndexVideo(dir.sub("good.mp4"), frames: 24, gop: 8)
        // Where the video packets of frames 10 and 11 lie in the file (demux only).
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        #expect(avformat_open_input(&ctx, path, nil, nil) == 0)
        defer { avformat_close_input(&ctx) }
        _ = avformat_find_stream_info(ctx, nil)
        let pkt = av_packet_alloc()
        var spans: [(Int, Int)] = []
        while av_read_frame(ctx, pkt) >= 0 {
            spans.append((Int(pkt!.pointee.pos), Int(pkt!.pointee.size)))
            av_packet_unref(pkt)
        }
        var p: UnsafeMutablePointer<AVPacket>? = pkt
        av_packet_free(&p)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for (pos, size) in spans[10 ... 11] {
            for i in pos ..< pos + size { bytes[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
        }
        let bad = dir.sub("damaged.mp4")
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        let reader = try VideoReader(path: bad)
        let clip = try reader.decodeAll()
        #expect(clip.frames == 24)
        #expect(reader.decodeErrors > 0, "no decode error counted")
        let clean = try VideoReader(path: path)
        _ = try clean.decodeAll()
        #expect(clean.decodeErrors == 0)
    }
}
