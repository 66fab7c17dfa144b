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

/// Frame `t` is a flat colour that encodes `t` (R = 8t, G = 128, B = 255 - 8t).
func indexFrame(_ t: Int, width: Int, height: Int) -> [UInt8] {
    let rgb: [UInt8] = [UInt8(8 * t), 128, UInt8(255 - 8 * t)]
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0 ..< width * height { px[3 * i] = rgb[0]; px[3 * i + 1] = rgb[1]; px[3 * i + 2] = rgb[2] }
    return px
}

/// Recovers the index encoded by `indexFrame` from the mean red value of a decoded frame.
func decodedIndex(_ frame: ArraySlice<UInt8>) -> Int {
    var sum = 0
    var i = frame.startIndex
    while i < frame.endIndex { sum += Int(frame[i]); i += 3 }
    return Int((Double(sum) / Double(frame.count / 3) / 8).rounded())
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
