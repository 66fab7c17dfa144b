// Helpers shared by the Media tests: index-encoding synthetic frames.
import Foundation
@testable import Media

/// Frame `t` (0 ..< 64) encodes its index in the flat colour of its top half: R = 8 (t mod 32) + 4,
/// G = 64 or 192 for the lower/upper 32 frames, B = 128 (steps of 8 survive YUV 4:2:0).
/// The bottom half is a texture scrolling with t, so encoders do real motion compensation.
func indexFrame(_ t: Int, width: Int, height: Int) -> [UInt8] {
    let rgb: [UInt8] = [UInt8(8 * (t % 32) + 4), t < 32 ? 64 : 192, 128]
    var px = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0 ..< height {
        for x in 0 ..< width {
            let o = (y * width + x) * 3
            if y < (height + 1) / 2 {
                px[o] = rgb[0]; px[o + 1] = rgb[1]; px[o + 2] = rgb[2]
            } else {
                // Grey (chroma-free) checker with 8 px cells, scrolling 3 px per frame.
                let v = UInt8(((x + 3 * t) / 8 + y / 8) % 2 == 0 ? 50 : 200)
                px[o] = v; px[o + 1] = v; px[o + 2] = v
            }
        }
    }
    return px
}

/// Recovers the index encoded by `indexFrame` from the mean colour of the top quarter of a frame.
func decodedIndex(_ frame: ArraySlice<UInt8>) -> Int {
    let top = frame.prefix(frame.count / 12 * 3)
    var r = 0, g = 0
    var i = top.startIndex
    while i < top.endIndex { r += Int(top[i]); g += Int(top[i + 1]); i += 3 }
    let n = Double(top.count / 3)
    return Int(((Double(r) / n - 4) / 8).rounded()) + (Double(g) / n > 128 ? 32 : 0)
}

/// Writes `frames` index-encoded frames and returns the path.
@discardableResult
func writeIndexVideo(
    _ path: String, frames: Int = 32, width: Int = 96, height: Int = 64,
    codec: VideoCodec = .automatic, gop: Int = 8
) throws -> String {
    let w = try VideoWriter(path: path, width: width, height: height, fps: 10, codec: codec, keyframeInterval: gop)
    for t in 0 ..< frames { try w.append(rgb: indexFrame(t, width: width, height: height)) }
    try w.finish()
    return path
}
