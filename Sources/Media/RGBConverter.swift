// Decoded AVFrame → tight RGB24 buffer (with optional resize), via swscale.
import CFFmpeg

/// Converts decoded frames of any pixel format to packed RGB24.
///
/// swscale writes into a padded, aligned RGB frame and the rows are then copied into the
/// caller's tight `width * 3` buffer: scaling straight into an unaligned tight buffer leaves
/// the last `width % 8` columns black with some SIMD paths.
final class RGBConverter {
    private var sws: OpaquePointer?
    private var rgb: UnsafeMutablePointer<AVFrame>?

    deinit {
        sws_freeContext(sws)
        av_frame_free(&rgb)
    }

    /// `width` × `height`: the output, after a clockwise `rotation` (0, 90, 180, 270) of the scaled frame.
    func convert(
        _ src: UnsafeMutablePointer<AVFrame>, into out: UnsafeMutablePointer<UInt8>,
        width outW: Int, height outH: Int, rotation: Int = 0, path: String
    ) throws {
        let quarter = rotation == 90 || rotation == 270
        let (width, height) = quarter ? (outH, outW) : (outW, outH)
        let f = src.pointee
        guard f.width > 0, f.height > 0, f.format >= 0 else {
            throw MediaError(path, .corrupt, "decoded frame has no size or pixel format")
        }
        let rawFormat = AVPixelFormat(rawValue: f.format)
        // Deprecated full-range "J" formats: convert as the plain format with full range.
        let (format, jRange) = Self.normalise(rawFormat)
        let fullRange = jRange || f.color_range == AVCOL_RANGE_JPEG
        let flags = (Int(f.width) > width || Int(f.height) > height) ? SWS_AREA : SWS_BILINEAR
        sws = sws_getCachedContext(
            sws, f.width, f.height, format, Int32(width), Int32(height),
            AV_PIX_FMT_RGB24, flags | SWS_ACCURATE_RND, nil, nil, nil)
        guard let sws else {
            let name = av_get_pix_fmt_name(rawFormat).map { String(cString: $0) } ?? "\(f.format)"
            throw MediaError(path, .unsupported, "cannot convert pixel format \(name) to RGB")
        }
        let space = f.colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT
        _ = sws_setColorspaceDetails(
            sws, sws_getCoefficients(space), fullRange ? 1 : 0,
            sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
        try ensureTarget(width: width, height: height, path: path)

        var srcData: [UnsafePointer<UInt8>?] = [f.data.0, f.data.1, f.data.2, f.data.3].map {
            $0.map { UnsafePointer($0) }
        }
        var srcLines: [Int32] = [f.linesize.0, f.linesize.1, f.linesize.2, f.linesize.3]
        let dst = rgb!.pointee
        var dstData: [UnsafeMutablePointer<UInt8>?] = [dst.data.0, nil, nil, nil]
        var dstLines: [Int32] = [dst.linesize.0, 0, 0, 0]
        let rows = sws_scale(sws, &srcData, &srcLines, 0, f.height, &dstData, &dstLines)
        guard rows == Int32(height) else {
            throw MediaError(path, .corrupt, "pixel conversion failed (\(rows) of \(height) rows)")
        }
        let rowBytes = width * 3, line = Int(dst.linesize.0), base = dst.data.0!
        if rotation == 0 {
            for y in 0 ..< height { (out + y * rowBytes).update(from: base + y * line, count: rowBytes) }
            return
        }
        // out[y][x] = scaled[sy][sx]: 90° clockwise takes column y from the bottom up, 270° row x from the right.
        for y in 0 ..< outH {
            for x in 0 ..< outW {
                let (sy, sx) =
                    rotation == 90
                    ? (height - 1 - x, y) : rotation == 180 ? (height - 1 - y, width - 1 - x) : (x, width - 1 - y)
                let s = base + sy * line + sx * 3, d = out + (y * outW + x) * 3
                d[0] = s[0]; d[1] = s[1]; d[2] = s[2]
            }
        }
    }

    /// (Re)allocates the padded RGB target when the output size changes.
    private func ensureTarget(width: Int, height: Int, path: String) throws {
        if let r = rgb, r.pointee.width == Int32(width), r.pointee.height == Int32(height) { return }
        av_frame_free(&rgb)
        rgb = av_frame_alloc()
        guard let r = rgb else { throw MediaError(path, .io, "out of memory") }
        r.pointee.format = AV_PIX_FMT_RGB24.rawValue
        r.pointee.width = Int32(width)
        r.pointee.height = Int32(height)
        let rc = av_frame_get_buffer(r, 64)
        if rc < 0 { throw MediaError(path, .io, "cannot allocate RGB frame: \(avErrorString(rc))") }
    }

    /// Maps `yuvj*` formats to their `yuv*` equivalent plus a full-range flag.
    static func normalise(_ f: AVPixelFormat) -> (AVPixelFormat, fullRange: Bool) {
        switch f {
        case AV_PIX_FMT_YUVJ420P: (AV_PIX_FMT_YUV420P, true)
        case AV_PIX_FMT_YUVJ422P: (AV_PIX_FMT_YUV422P, true)
        case AV_PIX_FMT_YUVJ444P: (AV_PIX_FMT_YUV444P, true)
        case AV_PIX_FMT_YUVJ440P: (AV_PIX_FMT_YUV440P, true)
        case AV_PIX_FMT_YUVJ411P: (AV_PIX_FMT_YUV411P, true)
        default: (f, false)
        }
    }
}
