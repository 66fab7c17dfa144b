// Helpers shared by the Media tests: temp dirs and index-encoding synthetic frames.
import Foundation
@testable import Media

/// A fresh temporary directory, removed when the returned object is released.
final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-media-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Frame `t` (0 ..< 64) is a flat colour that encodes it: R = 8 (t mod 32) + 4, G = 64 or 192
/// for the lower/upper 32 frames, B = 128. Steps of 8 survive YUV 4:2:0 round trips.
func indexFrame(_ t: Int, width: Int, height: Int) -> [UInt8] {
    let rgb: [UInt8] = [UInt8(8 * (t % 32) + 4), t < 32 ? 64 : 192, 128]
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0 ..< width * height { px[3 * i] = rgb[0]; px[3 * i + 1] = rgb[1]; px[3 * i + 2] = rgb[2] }
    return px
}

/// Recovers the index encoded by `indexFrame` from the mean colour of a decoded frame.
func decodedIndex(_ frame: ArraySlice<UInt8>) -> Int {
    var r = 0, g = 0
    var i = frame.startIndex
    while i < frame.endIndex { r += Int(frame[i]); g += Int(frame[i + 1]); i += 3 }
    let n = Double(frame.count / 3)
    return Int(((Double(r) / n - 4) / 8).rounded()) + (Double(g) / n > 128 ? 32 : 0)
}

/// Writes `frames` index-encoded frames and returns the path.
@discardableResult
func writeIndexVideo(_ path: String, frames: Int = 32, width: Int = 96, height: Int = 64,
                     codec: VideoCodec = .automatic, gop: Int = 8) throws -> String {
    let w = try VideoWriter(path: path, width: width, height: height, fps: 10, codec: codec, keyframeInterval: gop)
    for t in 0 ..< frames { try w.append(rgb: indexFrame(t, width: width, height: height)) }
    try w.finish()
    return path
}
