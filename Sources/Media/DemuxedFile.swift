// Opening an input file and selecting its video stream.
import CFFmpeg
import Foundation

/// An opened input with its best video stream selected; closed on deinit.
final class DemuxedFile {
    let ctx: UnsafeMutablePointer<AVFormatContext>
    let streamIndex: Int32

    init(path: String) throws {
        _ = ffmpegQuietLogging
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw MediaError(path, .notFound, "no such file")
        }
        guard !isDir.boolValue else { throw MediaError(path, .invalidArgument, "is a directory, expected a video file") }
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        var rc = avformat_open_input(&ctx, path, nil, nil)
        guard rc >= 0, let opened = ctx else {
            throw MediaError(path, .corrupt, "not a readable video container: \(avErrorString(rc))")
        }
        // Containers with complete headers (mp4, mkv, webm, avi) need no stream analysis, which
        // would decode frames; raw or headerless streams get the full probe.
        var best = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        if best < 0 || !Self.isComplete(opened.pointee.streams[Int(best)]!.pointee.codecpar.pointee) {
            rc = avformat_find_stream_info(opened, nil)
            if rc < 0 {
                avformat_close_input(&ctx)
                throw MediaError(path, .corrupt, "cannot read stream info: \(avErrorString(rc))")
            }
            best = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        }
        guard best >= 0 else {
            avformat_close_input(&ctx)
            throw MediaError(path, .unsupported, "no video stream")
        }
        // Only the chosen stream is demuxed.
        for s in 0 ..< Int(opened.pointee.nb_streams) where s != Int(best) {
            opened.pointee.streams[s]!.pointee.discard = AVDISCARD_ALL
        }
        self.ctx = opened
        streamIndex = best
    }

    private static func isComplete(_ par: AVCodecParameters) -> Bool {
        par.codec_id != AV_CODEC_ID_NONE && par.width > 0 && par.height > 0
    }

    deinit {
        var c: UnsafeMutablePointer<AVFormatContext>? = ctx
        avformat_close_input(&c)
    }
}
