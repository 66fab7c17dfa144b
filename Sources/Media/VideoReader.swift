// Selective video decoding: demux-only frame index, keyframe seeking, RGB24 conversion.
import CFFmpeg
import Foundation

/// Decoded frames, laid out `[frames, height, width, 3]` as interleaved RGB bytes.
public struct VideoClip: Sendable, Equatable {
    public let frames: Int
    public let height: Int
    public let width: Int
    public var pixels: [UInt8]

    public init(frames: Int, height: Int, width: Int, pixels: [UInt8]) {
        precondition(pixels.count == frames * height * width * 3, "VideoClip: pixel count mismatch")
        self.frames = frames
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// Bytes in one frame (`height * width * 3`).
    public var frameSize: Int { height * width * 3 }

    /// The RGB bytes of frame `t`.
    public func frame(_ t: Int) -> ArraySlice<UInt8> {
        pixels[t * frameSize ..< (t + 1) * frameSize]
    }
}

/// Stream properties obtained without decoding.
public struct VideoInfo: Sendable, Equatable {
    public let fps: Double
    public let frameCount: Int
    public let width: Int
    public let height: Int
    /// Seconds.
    public let duration: Double
}

/// Reads frames from one video file. Not thread-safe: use one reader per thread.
///
/// On open, the video packets are scanned (demux only, no decoding) to count frames and to
/// build a keyframe index, so `frameCount` is exact even for containers without one (webm).
/// Frame `i` is the `i`-th frame in presentation (PTS) order.
public final class VideoReader {
    public let path: String
    public let fps: Double
    public let frameCount: Int
    /// The size frames are shown at: the coded size, sides swapped when `rotation` is 90 or 270.
    public let width: Int
    public let height: Int
    /// Clockwise degrees the container's display matrix rotates the coded frames by (phone videos); applied.
    public let rotation: Int
    /// Packets and frames the decoder reported as damaged so far (concealed or dropped; the file stays readable).
    public private(set) var decodeErrors = 0
    /// Seconds.
    public let duration: Double

    private var input: DemuxedFile
    private var format: UnsafeMutablePointer<AVFormatContext>? { input.ctx }
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private let streamIndex: Int32
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    /// The most recent decoded frame, kept as a reference for clamping at end of stream.
    private var lastFrame: UnsafeMutablePointer<AVFrame>?
    private var hasLastFrame = false
    private let converter = RGBConverter()

    /// Presentation timestamps of all frames, ascending: frame `i` has `framePTS[i]`.
    private let framePTS: [Int64]
    /// Keyframes as (frame index, seek timestamp), ascending by frame index.
    private let keyframes: [(index: Int, seekTS: Int64)]
    /// Frame indices of the keyframes (seek points).
    public var keyframeIndices: [Int] { keyframes.map(\.index) }
    /// Index of the frame most recently returned by the decoder (the keyframe's index - 1 right
    /// after a seek, `frameCount` after end of stream).
    private var position = -1
    /// No frame has been decoded since the last seek.
    private var justSought = false
    private var draining = false
    private var needed = Set<Int>()
    /// Frames returned by the decoder and seeks performed so far (for tests and profiling).
    private(set) var framesDecoded = 0, seeks = 0

    /// Opens `path` and indexes its best video stream.
    /// - Parameter threads: decoder threads (1 suits data loaders that parallelise across files; 0 = auto).
    public init(path: String, threads: Int = 1) throws {
        self.path = path
        input = try DemuxedFile(path: path)
        streamIndex = input.streamIndex
        let stream = input.ctx.pointee.streams[Int(streamIndex)]!
        let par = stream.pointee.codecpar!
        let (codedWidth, codedHeight) = (Int(par.pointee.width), Int(par.pointee.height))
        rotation = Int(stmae_stream_rotation(stream))
        (width, height) = rotation % 180 == 0 ? (codedWidth, codedHeight) : (codedHeight, codedWidth)

        let scan = try Self.scanPackets(input.ctx, streamIndex, path: path)
        framePTS = scan.pts
        keyframes = scan.keyframes
        frameCount = scan.pts.count
        fps = Self.frameRate(stream, pts: scan.pts)
        let containerDuration = Double(input.ctx.pointee.duration) / Double(avTimeBase)
        duration = input.ctx.pointee.duration > 0 ? containerDuration : (fps > 0 ? Double(frameCount) / fps : 0)

        guard let decoder = avcodec_find_decoder(par.pointee.codec_id) else {
            let name = String(cString: avcodec_get_name(par.pointee.codec_id))
            throw MediaError(path, .unsupported, "no decoder for codec \(name)")
        }
        codec = avcodec_alloc_context3(decoder)
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        lastFrame = av_frame_alloc()
        guard let codec, packet != nil, frame != nil, lastFrame != nil else {
            throw MediaError(path, .io, "out of memory")
        }
        var rc = avcodec_parameters_to_context(codec, par)
        if rc >= 0 {
            codec.pointee.thread_count = Int32(max(0, threads))
            codec.pointee.pkt_timebase = stream.pointee.time_base
            rc = avcodec_open2(codec, decoder, nil)
        }
        if rc < 0 { throw MediaError(path, .unsupported, "cannot open decoder: \(avErrorString(rc))") }
        guard (1 ... 16384).contains(codedWidth), (1 ... 16384).contains(codedHeight) else {
            throw MediaError(path, .corrupt, "invalid frame size \(codedWidth)x\(codedHeight)")
        }
    }

    deinit {
        av_frame_free(&frame)
        av_frame_free(&lastFrame)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
    }

    /// Stream properties of `path` from a demux-only scan (nothing is decoded).
    public static func probe(path: String) throws -> VideoInfo {
        let file = try DemuxedFile(path: path)
        let stream = file.ctx.pointee.streams[Int(file.streamIndex)]!
        let scan = try scanPackets(file.ctx, file.streamIndex, path: path)
        let fps = frameRate(stream, pts: scan.pts)
        let d = file.ctx.pointee.duration
        let (w, h) = (Int(stream.pointee.codecpar.pointee.width), Int(stream.pointee.codecpar.pointee.height))
        let turned = stmae_stream_rotation(stream) % 180 != 0
        return VideoInfo(
            fps: fps, frameCount: scan.pts.count, width: turned ? h : w, height: turned ? w : h,
            duration: d > 0 ? Double(d) / Double(avTimeBase) : Double(scan.pts.count) / max(fps, 1e-9))
    }

    /// Output size for a short-side resize that keeps the aspect ratio (`nil` keeps the size).
    public func outputSize(shortSide: Int?) -> (width: Int, height: Int) {
        guard let s = shortSide, s > 0 else { return (width, height) }
        if width <= height {
            return (s, max(1, Int((Double(height) * Double(s) / Double(width)).rounded())))
        }
        return (max(1, Int((Double(width) * Double(s) / Double(height)).rounded())), s)
    }

    /// Decodes the frames at `indices` (any order, repeats allowed) into a clip in the same order.
    ///
    /// Only what is needed is decoded: for each target the reader seeks to the keyframe at or
    /// before it (unless already decoding inside that GOP) and decodes forward; frames that are
    /// not requested are never converted, and non-reference ones are skipped by the decoder.
    /// Indices are clamped to `0 ..< frameCount`. With `shortSide`, frames are resized
    /// (area/bilinear) so the shorter side equals it, keeping the aspect ratio.
    public func decodeFrames(at indices: [Int], shortSide: Int? = nil) throws -> VideoClip {
        if let s = shortSide, !(1 ... 16384).contains(s) {
            throw MediaError(path, .invalidArgument, "shortSide must be 1...16384, got \(s)")
        }
        let (outW, outH) = outputSize(shortSide: shortSide)
        let frameBytes = outW * outH * 3
        var pixels = [UInt8](repeating: 0, count: indices.count * frameBytes)
        guard !indices.isEmpty else { return VideoClip(frames: 0, height: outH, width: outW, pixels: []) }
        let clamped = indices.map { min(max($0, 0), frameCount - 1) }
        var slots: [Int: [Int]] = [:]
        for (slot, i) in clamped.enumerated() { slots[i, default: []].append(slot) }
        let targets = slots.keys.sorted()
        needed = Set(targets)
        defer { needed = [] }

        try pixels.withUnsafeMutableBufferPointer { out in
            func store(_ f: UnsafeMutablePointer<AVFrame>, for target: Int) throws {
                let first = slots[target]![0] * frameBytes
                try converter.convert(
                    f, into: out.baseAddress! + first, width: outW, height: outH, rotation: rotation,
                    path: path)
                for slot in slots[target]!.dropFirst() {
                    (out.baseAddress! + slot * frameBytes).update(from: out.baseAddress! + first, count: frameBytes)
                }
            }
            var ti = 0
            while ti < targets.count {
                let target = targets[ti]
                let key = keyframeSlot(atOrBefore: target)
                if !(position >= keyframes[key].index && position < target) { try seek(toKeyframe: key) }
                var attempts = 0
                while true {
                    let firstAfterSeek = justSought
                    guard let i = try decodeNextFrame() else {
                        // End of stream: remaining targets get the last decodable frame.
                        guard hasLastFrame else {
                            throw MediaError(
                                path, .corrupt, "decode failed at frame \(target): no frame could be decoded")
                        }
                        for t in targets[ti...] { try store(lastFrame!, for: t) }
                        ti = targets.count
                        break
                    }
                    if i < target { continue }
                    if i > target && firstAfterSeek && attempts < 2 && key > 0 {
                        // The seek overshot (inexact container index): back off one keyframe,
                        // then restart from the beginning of the file.
                        attempts += 1
                        try seek(toKeyframe: attempts == 1 ? key - 1 : 0, reopen: attempts == 2)
                        continue
                    }
                    // Frame i satisfies the target (exactly, or as the nearest decodable frame).
                    while ti < targets.count && targets[ti] <= i {
                        try store(frame!, for: targets[ti])
                        ti += 1
                    }
                    break
                }
            }
        }
        return VideoClip(frames: indices.count, height: outH, width: outW, pixels: pixels)
    }

    /// Decodes every frame in order (convenience; use `decodeFrames(at:)` for sampling).
    public func decodeAll(shortSide: Int? = nil) throws -> VideoClip {
        try decodeFrames(at: Array(0 ..< frameCount), shortSide: shortSide)
    }

    // MARK: - Decoding internals

    private func keyframeSlot(atOrBefore target: Int) -> Int {
        var lo = 0, hi = keyframes.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if keyframes[mid].index <= target { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Frame index of a timestamp (exact match in the PTS table), nil if unknown.
    private func frameIndex(pts: Int64) -> Int? {
        guard pts != avNoPTS else { return nil }
        var lo = 0, hi = framePTS.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if framePTS[mid] < pts { lo = mid + 1 } else { hi = mid }
        }
        return lo < framePTS.count && framePTS[lo] == pts ? lo : nil
    }

    /// Seeks so that decoding resumes at (or before) keyframe `slot`.
    ///
    /// Seek timestamps are keyframe PTS: container indexes differ (mp4 indexes DTS shifted by
    /// the edit list, mkv/webm index PTS), but in each a keyframe's PTS is at or after its own
    /// index entry and before the next keyframe's. `decodeFrames` checks for overshoot anyway.
    private func seek(toKeyframe slot: Int, reopen: Bool = false) throws {
        let ts = keyframes[slot].seekTS
        position = keyframes[slot].index - 1
        if reopen
            || (av_seek_frame(format, streamIndex, ts, AVSEEK_FLAG_BACKWARD) < 0
                && avformat_seek_file(format, streamIndex, Int64.min, ts, ts, 0) < 0)
        {
            // Unseekable input: reopen and decode from the start (the decode loop skips ahead).
            let reopened = try DemuxedFile(path: path)
            guard reopened.streamIndex == streamIndex else {
                throw MediaError(path, .corrupt, "seek to frame \(keyframes[slot].index) failed")
            }
            input = reopened
            position = -1
        }
        avcodec_flush_buffers(codec)
        seeks += 1
        hasLastFrame = false
        justSought = true
        draining = false
    }

    /// Decodes the next frame into `frame` and returns its index, or nil at end of stream.
    private func decodeNextFrame() throws -> Int? {
        while true {
            let rc = avcodec_receive_frame(codec, frame)
            if rc == 0 {
                let f = frame!.pointee
                if f.decode_error_flags != 0 || f.flags & AV_FRAME_FLAG_CORRUPT != 0 { decodeErrors += 1 }
                let ts = f.best_effort_timestamp != avNoPTS ? f.best_effort_timestamp : f.pts
                let i = frameIndex(pts: ts) ?? min(position + 1, frameCount - 1)
                position = i
                justSought = false
                framesDecoded += 1
                av_frame_unref(lastFrame)
                hasLastFrame = av_frame_ref(lastFrame, frame) >= 0
                return i
            }
            if rc == averrorEOF { position = frameCount; return nil }
            if rc == averrorInvalidData { decodeErrors += 1; continue }  // a damaged frame: the next may decode
            if rc != averrorEAGAIN {
                throw MediaError(path, .corrupt, "decode failed at frame \(position + 1): \(avErrorString(rc))")
            }
            if draining { position = frameCount; return nil }
            try sendNextPacket()
        }
    }

    /// Feeds the next video packet to the decoder (or starts draining at end of file).
    private func sendNextPacket() throws {
        while true {
            if av_read_frame(format, packet) < 0 {
                draining = true
                _ = avcodec_send_packet(codec, nil)
                return
            }
            defer { av_packet_unref(packet) }
            let p = packet!.pointee
            guard p.stream_index == streamIndex else { continue }
            // skip_frame is read per packet: let the decoder drop unneeded non-reference frames.
            let ts = p.pts != avNoPTS ? p.pts : p.dts
            let index = frameIndex(pts: ts)
            codec!.pointee.skip_frame =
                index.map { needed.contains($0) } == false ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            let rc = avcodec_send_packet(codec, packet)
            if rc == averrorInvalidData {  // a damaged packet: counted, decoding goes on with the next one
                decodeErrors += 1
                continue
            }
            if rc < 0 && rc != averrorEAGAIN {
                let at = index.map(String.init) ?? "\(position + 1)"
                throw MediaError(path, .corrupt, "decode failed at frame \(at): \(avErrorString(rc))")
            }
            return
        }
    }

    // MARK: - Index scan

    private struct Scan {
        var pts: [Int64]
        var keyframes: [(index: Int, seekTS: Int64)]
    }

    /// Reads every packet of the video stream (no decoding), then rewinds.
    private static func scanPackets(
        _ ctx: UnsafeMutablePointer<AVFormatContext>, _ stream: Int32,
        path: String
    ) throws -> Scan {
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        guard let pkt = packet else { throw MediaError(path, .io, "out of memory") }
        var entries: [(pts: Int64, key: Bool)] = []
        while av_read_frame(ctx, pkt) >= 0 {
            defer { av_packet_unref(pkt) }
            let p = pkt.pointee
            guard p.stream_index == stream, p.flags & AV_PKT_FLAG_DISCARD == 0 else { continue }
            // Without timestamps fall back to packet order (only sensible for intra/no-B streams).
            var pts = p.pts != avNoPTS ? p.pts : p.dts
            if pts == avNoPTS { pts = (entries.last?.pts ?? -1) + 1 }
            entries.append((pts, p.flags & AV_PKT_FLAG_KEY != 0))
        }
        guard !entries.isEmpty else { throw MediaError(path, .corrupt, "no video packets") }
        let order = entries.indices.sorted { (entries[$0].pts, $0) < (entries[$1].pts, $1) }
        var keyframes: [(index: Int, seekTS: Int64)] = []
        for (frameIndex, e) in order.enumerated() where entries[e].key {
            keyframes.append((frameIndex, entries[e].pts))
        }
        // Frames before the first keyframe can only be reached by decoding from the start.
        if keyframes.first?.index != 0 {
            keyframes.insert((0, entries.map(\.pts).min()!), at: 0)
        }
        let first = entries.map(\.pts).min()!
        if av_seek_frame(ctx, stream, first, AVSEEK_FLAG_BACKWARD) < 0 {
            _ = avformat_seek_file(ctx, stream, Int64.min, first, first, 0)
        }
        return Scan(pts: order.map { entries[$0].pts }, keyframes: keyframes)
    }

    /// Stream frame rate: average, then real base rate, then from the timestamps.
    private static func frameRate(_ stream: UnsafeMutablePointer<AVStream>, pts: [Int64]) -> Double {
        for r in [stream.pointee.avg_frame_rate, stream.pointee.r_frame_rate] {
            let v = doubleValue(r)
            if v.isFinite && v > 0 && v < 1000 { return v }
        }
        guard pts.count > 1, let a = pts.first, let b = pts.last, b > a else { return 0 }
        return Double(pts.count - 1) / (Double(b - a) * doubleValue(stream.pointee.time_base))
    }
}
