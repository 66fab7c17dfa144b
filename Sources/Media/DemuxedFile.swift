// Opening an input file and selecting its video stream.
import CFFmpeg
import Foundation

/// An opened input with its best video stream selected; closed on deinit.
final class DemuxedFile {
    let ctx: UnsafeMutablePointer<AVFormatContext>
    let streamIndex: Int32

    init(path: String) throws {
        _ = ffmpegQuietLogging
        var st = stat()
        guard stat(path, &st) == 0 else { throw MediaError(path, .notFound, "no such file") }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw MediaError(path, .invalidArgument, "is a directory, expected a video file")
        // opening a FIFO or a device would block (or read forever): not a video file
        case S_IFIFO: throw MediaError(path, .invalidArgument, "is a FIFO (named pipe), expected a regular video file")
        case S_IFCHR, S_IFBLK: throw MediaError(path, .invalidArgument, "is a device, expected a regular video file")
        default: throw MediaError(path, .invalidArgument, "is not a regular file, expected a video file")
        }
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
