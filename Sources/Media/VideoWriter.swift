// Encoding RGB frames to video files (mp4/mkv/avi/webm) with FFmpeg.
import CFFmpeg
import Foundation

/// Video codecs the writer can use; `.automatic` picks one from the file extension.
public enum VideoCodec: String, Sendable, CaseIterable {
    case automatic, h264, mpeg4, vp8, vp9, mjpeg

    /// FFmpeg encoder name.
    var encoderName: String? {
        switch self {
        case .automatic: nil
        case .h264: "libx264"
        case .mpeg4: "mpeg4"
        case .vp8: "libvpx"
        case .vp9: "libvpx-vp9"
        case .mjpeg: "mjpeg"
        }
    }

    /// Whether the installed libavcodec has an encoder for this codec.
    public var isAvailable: Bool {
        guard let name = encoderName else { return true }
        return avcodec_find_encoder_by_name(name) != nil
    }

    /// The codec `.automatic` resolves to for a path: webm → VP8/VP9, avi → MPEG-4 Part 2,
    /// anything else (mp4, mkv, mov) → H.264 if libx264 is present, else MPEG-4 Part 2.
    public static func automatic(for path: String) -> VideoCodec {
        switch (path as NSString).pathExtension.lowercased() {
        case "webm": VideoCodec.vp8.isAvailable ? .vp8 : .vp9
        case "avi": .mpeg4
        default: VideoCodec.h264.isAvailable ? .h264 : .mpeg4
        }
    }
}

/// Writes RGB frames (`[height, width, 3]`, tightly packed) to a video file.
///
/// The container is chosen from the extension of `path`. Output goes to a temporary file in
/// the same directory that is renamed to `path` by `finish()`; a writer released without
/// `finish()` leaves nothing behind. Width and height must be even (4:2:0 chroma).
public final class VideoWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public let fps: Double
    public let codec: VideoCodec
    public private(set) var framesWritten = 0

    private let tempPath: String
    private var output: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var rgbFrame: UnsafeMutablePointer<AVFrame>?
    private var yuvFrame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var sws: OpaquePointer?
    private var finished = false

    /// - Parameters:
    ///   - quality: codec-specific constant quality (x264/VP8/VP9 CRF, MPEG-4/MJPEG qscale);
    ///     `nil` picks a visually lossless-ish default.
    ///   - keyframeInterval: maximum frames between keyframes (short GOPs make seeking cheap).
    ///   - threads: encoder threads (0 = auto).
    public init(
        path: String, width: Int, height: Int, fps: Double, codec: VideoCodec = .automatic,
        quality: Int? = nil, keyframeInterval: Int = 16, threads: Int = 0
    ) throws {
        _ = ffmpegQuietLogging
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        self.codec = codec == .automatic ? VideoCodec.automatic(for: path) : codec
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        tempPath = (dir.isEmpty ? "" : dir + "/") + ".\(base).\(UInt32.random(in: 0 ... .max)).part"
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            throw MediaError(path, .invalidArgument, "frame size must be positive and even, got \(width)x\(height)")
        }
        guard fps.isFinite, fps > 0 else {
            throw MediaError(path, .invalidArgument, "fps must be positive, got \(fps)")
        }
        guard (path as NSString).pathExtension.lowercased() != "gif" else {
            throw MediaError(path, .unsupported, "use GIFWriter for animated GIFs")
        }
        try open(quality: quality, keyframeInterval: keyframeInterval, threads: threads)
    }

    deinit {
        close()
        if !finished { unlink(tempPath) }
    }

    /// Appends one frame of `height * width * 3` RGB bytes.
    public func append(rgb: [UInt8]) throws {
        try rgb.withUnsafeBufferPointer { try append(rgb: $0) }
    }

    /// Appends one frame of `height * width * 3` RGB bytes.
    public func append(rgb: UnsafeBufferPointer<UInt8>) throws {
        guard !finished, output != nil else { throw MediaError(path, .invalidArgument, "append after finish") }
        guard rgb.count == width * height * 3 else {
            throw MediaError(
                path, .invalidArgument,
                "expected \(width * height * 3) RGB bytes (\(width)x\(height)x3), got \(rgb.count)")
        }
        var rc = av_frame_make_writable(rgbFrame)
        if rc >= 0 { rc = av_frame_make_writable(yuvFrame) }
        if rc < 0 { throw MediaError(path, .io, "cannot allocate frame: \(avErrorString(rc))") }
        // Copy into the padded RGB frame first so swscale only sees aligned rows.
        let src = rgbFrame!.pointee
        for y in 0 ..< height {
            (src.data.0! + y * Int(src.linesize.0)).update(from: rgb.baseAddress! + y * width * 3, count: width * 3)
        }
        var srcData: [UnsafePointer<UInt8>?] = [UnsafePointer(src.data.0), nil, nil, nil]
        var srcLines: [Int32] = [src.linesize.0, 0, 0, 0]
        let dst = yuvFrame!.pointee
        var dstData: [UnsafeMutablePointer<UInt8>?] = [dst.data.0, dst.data.1, dst.data.2, dst.data.3]
        var dstLines: [Int32] = [dst.linesize.0, dst.linesize.1, dst.linesize.2, dst.linesize.3]
        sws_scale(sws, &srcData, &srcLines, 0, Int32(height), &dstData, &dstLines)
        yuvFrame!.pointee.pts = Int64(framesWritten)
        try encode(yuvFrame)
        framesWritten += 1
    }

    /// Flushes the encoder, writes the trailer and moves the file into place.
    public func finish() throws {
        guard !finished else { return }
        guard output != nil else { throw MediaError(path, .io, "writer is closed") }
        try encode(nil)
        let rc = av_write_trailer(output)
        close()
        if rc < 0 {
            unlink(tempPath)
            throw MediaError(path, .io, "cannot finish file: \(avErrorString(rc))")
        }
        guard rename(tempPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tempPath)
            throw MediaError(path, .io, "cannot move finished file into place: \(reason)")
        }
        finished = true
    }

    // MARK: - Internals

    private func open(quality: Int?, keyframeInterval: Int, threads: Int) throws {
        guard let name = codec.encoderName, let enc = avcodec_find_encoder_by_name(name) else {
            throw MediaError(path, .unsupported, "encoder for \(codec.rawValue) is not available in this FFmpeg build")
        }
        var rc = avformat_alloc_output_context2(&output, nil, nil, path)
        guard rc >= 0, let output else {
            throw MediaError(path, .unsupported, "no container format for this file extension")
        }
        // Muxers that reopen their output (e.g. mp4 faststart) must see the temporary name.
        av_free(output.pointee.url)
        output.pointee.url = av_strdup(tempPath)

        stream = avformat_new_stream(output, nil)
        encoder = avcodec_alloc_context3(enc)
        rgbFrame = av_frame_alloc()
        yuvFrame = av_frame_alloc()
        packet = av_packet_alloc()
        guard let stream, let encoder, let rgbFrame, let yuvFrame, packet != nil else {
            throw MediaError(path, .io, "out of memory")
        }
        let rate = av_d2q(fps, codec == .mpeg4 ? 65535 : 1_001_000)
        let isJPEG = codec == .mjpeg
        let encFormat = isJPEG ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P
        encoder.pointee.width = Int32(width)
        encoder.pointee.height = Int32(height)
        encoder.pointee.pix_fmt = encFormat
        encoder.pointee.framerate = rate
        encoder.pointee.time_base = AVRational(num: rate.den, den: rate.num)
        encoder.pointee.gop_size = Int32(max(1, keyframeInterval))
        encoder.pointee.thread_count = Int32(max(0, threads))
        encoder.pointee.color_range = isJPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        encoder.pointee.colorspace = AVCOL_SPC_SMPTE170M
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            encoder.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        switch codec {
        case .h264:
            av_dict_set(&options, "preset", "veryfast", 0)
            av_dict_set(&options, "crf", "\(quality ?? 18)", 0)
        case .vp8, .vp9:
            encoder.pointee.bit_rate = Int64(max(1_000_000, Double(width * height) * fps * 2))
            av_dict_set(&options, "crf", "\(quality ?? 10)", 0)
            av_dict_set(&options, "deadline", "good", 0)
            av_dict_set(&options, "cpu-used", "5", 0)
        case .mpeg4, .mjpeg, .automatic:
            encoder.pointee.flags |= AV_CODEC_FLAG_QSCALE
            encoder.pointee.global_quality = Int32(quality ?? 3) * 118  // FF_QP2LAMBDA
        }
        rc = avcodec_open2(encoder, enc, &options)
        if rc < 0 { throw MediaError(path, .unsupported, "cannot open \(name) encoder: \(avErrorString(rc))") }
        rc = avcodec_parameters_from_context(stream.pointee.codecpar, encoder)
        if rc < 0 { throw MediaError(path, .unsupported, "bad encoder parameters: \(avErrorString(rc))") }
        stream.pointee.time_base = encoder.pointee.time_base
        stream.pointee.avg_frame_rate = rate

        for (f, fmt) in [(rgbFrame, AV_PIX_FMT_RGB24), (yuvFrame, encFormat)] {
            f.pointee.format = fmt.rawValue
            f.pointee.width = Int32(width)
            f.pointee.height = Int32(height)
            rc = av_frame_get_buffer(f, 0)
            if rc < 0 { throw MediaError(path, .io, "cannot allocate frame: \(avErrorString(rc))") }
        }
        yuvFrame.pointee.color_range = encoder.pointee.color_range
        let (swsFormat, _) = RGBConverter.normalise(encFormat)
        sws = sws_getContext(
            Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
            swsFormat, SWS_BILINEAR | SWS_ACCURATE_RND, nil, nil, nil)
        guard sws != nil else { throw MediaError(path, .unsupported, "cannot create RGB to YUV converter") }
        _ = sws_setColorspaceDetails(
            sws, sws_getCoefficients(SWS_CS_DEFAULT), 1,
            sws_getCoefficients(SWS_CS_DEFAULT), isJPEG ? 1 : 0, 0, 1 << 16, 1 << 16)

        rc = avio_open(&output.pointee.pb, tempPath, AVIO_FLAG_WRITE)
        if rc < 0 { throw MediaError(path, .io, "cannot create file: \(avErrorString(rc))") }
        rc = avformat_write_header(output, nil)
        if rc < 0 { throw MediaError(path, .unsupported, "cannot write container header: \(avErrorString(rc))") }
    }

    /// Sends a frame (nil = flush) and writes every packet the encoder has ready.
    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        var rc = avcodec_send_frame(encoder, frame)
        if rc < 0 { throw MediaError(path, .io, "encoding frame \(framesWritten) failed: \(avErrorString(rc))") }
        while true {
            rc = avcodec_receive_packet(encoder, packet)
            if rc == averrorEAGAIN || rc == averrorEOF { return }
            if rc < 0 { throw MediaError(path, .io, "encoding failed: \(avErrorString(rc))") }
            av_packet_rescale_ts(packet, encoder!.pointee.time_base, stream!.pointee.time_base)
            packet!.pointee.stream_index = stream!.pointee.index
            rc = av_interleaved_write_frame(output, packet)
            if rc < 0 { throw MediaError(path, .io, "writing packet failed: \(avErrorString(rc))") }
        }
    }

    private func close() {
        if let output, output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
        avformat_free_context(output)
        output = nil
        avcodec_free_context(&encoder)
        av_frame_free(&rgbFrame)
        av_frame_free(&yuvFrame)
        av_packet_free(&packet)
        sws_freeContext(sws)
        sws = nil
    }
}
