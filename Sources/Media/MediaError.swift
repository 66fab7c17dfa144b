// Errors and small FFmpeg helpers shared by the Media layer.
import CFFmpeg

/// An error from the Media layer. Its description always starts with the file path,
/// e.g. `clip.mp4: no video stream` or `x.webm: decode failed at frame 12: Invalid data`.
public struct MediaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Broad category, for callers that want to react differently (e.g. skip corrupt clips).
    public enum Kind: String, Sendable {
        case notFound, unsupported, corrupt, io, invalidArgument
    }
    public let path: String
    public let kind: Kind
    public let reason: String

    public init(_ path: String, _ kind: Kind, _ reason: String) {
        self.path = path
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

// MARK: - FFmpeg macros that Swift does not import

/// `AVERROR(EAGAIN)`.
let averrorEAGAIN: Int32 = -11
/// `AVERROR_EOF` = `-MKTAG('E','O','F',' ')`.
let averrorEOF: Int32 = -0x2046_4F45
/// AVERROR_INVALIDDATA (FFERRTAG("INDA")): damaged input.
let averrorInvalidData: Int32 = -0x4144_4E49
/// `AV_NOPTS_VALUE`.
let avNoPTS = Int64.min
/// `AV_TIME_BASE`.
let avTimeBase: Int64 = 1_000_000

/// Human-readable text for an FFmpeg error code (`av_err2str`).
func avErrorString(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "error \(code)" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// FFmpeg logging is lowered to fatal errors once, the first time the Media layer opens a file:
/// problems are reported through `MediaError`, not stderr chatter.
let ffmpegQuietLogging: Void = { av_log_set_level(AV_LOG_FATAL) }()

/// `AVRational` as a `Double` (0 when the denominator is 0).
func doubleValue(_ r: AVRational) -> Double {
    r.den == 0 ? 0 : Double(r.num) / Double(r.den)
}
