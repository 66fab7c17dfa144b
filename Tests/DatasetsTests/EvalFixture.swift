// The evaluation-view fixture of reference/make_eval_views_fixture.py: its frames, rebuilt here, and expected views.
import Foundation
import Media
import TensorFiles
import TestSupport
import Testing

/// One case of `Fixtures/eval_views.safetensors`.
struct EvalCase: CustomTestStringConvertible, Sendable {
    let name: String
    let width: Int, height: Int, frames: Int, shortSide: Int, crop: Int
    var testDescription: String { name }
    /// The decoded frames `[T, H, W, 3]`.
    var clip: VideoClip { evalTestFrames(frames: frames, height: height, width: width) }
    /// transformers' `VideoMAEImageProcessor` (PIL) pixels after resize + centre crop, `[T, crop, crop, 3]`.
    var hfPixels: [UInt8] { try! EvalFixture.tensors[name + ".hf"]!.scalars() }
    /// mae_st's normalised test view `[3, T, crop, crop]` for each stored spatial index.
    var maeSt: [Int: [Float]] {
        var out: [Int: [Float]] = [:]
        for i in 0 ... 2 { if let t = EvalFixture.tensors["\(name).mae_st.\(i)"] { out[i] = try! t.scalars() } }
        return out
    }
    /// The fixture's checksum of the input bytes.
    var inputSum: Int64 { try! EvalFixture.tensors[name + ".sum"]!.scalars(as: Int64.self)[0] }
}

enum EvalFixture {
    static let file = try! SafeTensors.read(path: fixturePath("eval_views.safetensors", in: .module))
    static var tensors: [String: RawTensor] { file.tensors }
    static let mean: [Float] = file.metadata["mean"]!.split(separator: ",").map { Float(String($0))! }
    static let std: [Float] = file.metadata["std"]!.split(separator: ",").map { Float(String($0))! }
    static let cases: [EvalCase] = file.order.filter { $0.hasSuffix(".params") }.map { key in
        let p = try! file.tensors[key]!.scalars(as: Int64.self).map(Int.init)
        return EvalCase(
            name: String(key.dropLast(".params".count)), width: p[0], height: p[1], frames: p[2], shortSide: p[3],
            crop: p[4])
    }

    /// transformers' `rescale` (float64 · 1/255 → float32) then `normalize`, channel-first `[3, T, crop, crop]`.
    static func hfNormalized(_ pixels: [UInt8], frames: Int, crop: Int) -> [Float] {
        var out = [Float](repeating: 0, count: pixels.count)
        let plane = crop * crop
        for t in 0 ..< frames {
            for i in 0 ..< plane {
                for c in 0 ..< 3 {
                    let x = Float(Double(pixels[(t * plane + i) * 3 + c]) * (1.0 / 255))
                    out[(c * frames + t) * plane + i] = (x - mean[c]) / std[c]
                }
            }
        }
        return out
    }
}

/// reference/make_eval_views_fixture.py `_hash32`: wrapping uint32 mixing of pixel coordinates.
func evalHash32(_ x: Int, _ y: Int, _ t: Int, _ c: Int) -> UInt32 {
    var h =
        (UInt32(truncatingIfNeeded: x &* 73856093) ^ UInt32(truncatingIfNeeded: y &* 19349663)
            ^ UInt32(truncatingIfNeeded: t &* 83492791) ^ UInt32(truncatingIfNeeded: c &* 2654435761))
    h ^= h >> 13
    h = h &* 0x5BD1_E995
    return h ^ (h >> 15)
}

/// reference/make_eval_views_fixture.py `test_frames`: wrapping gradients plus noise in [-16, 15], `[T, H, W, 3]`.
func evalTestFrames(frames: Int, height: Int, width: Int) -> VideoClip {
    var px = [UInt8](repeating: 0, count: frames * height * width * 3)
    for f in 0 ..< frames {
        for y in 0 ..< height {
            for x in 0 ..< width {
                for c in 0 ..< 3 {
                    let g = (x * 255 / max(width - 1, 1) + y * 255 / max(height - 1, 1) + 40 * f + 85 * c) % 256
                    let v = g + Int(evalHash32(x, y, f, c) >> 27) - 16
                    px[((f * height + y) * width + x) * 3 + c] = UInt8(min(max(v, 0), 255))
                }
            }
        }
    }
    return VideoClip(frames: frames, height: height, width: width, pixels: px)
}

/// Max absolute difference and relative L2 (`‖a − b‖ / ‖b‖`) of `a` against `b`.
func evalDiff(_ a: [Float], _ b: [Float]) -> (maxAbs: Float, relL2: Float) {
    precondition(a.count == b.count, "evalDiff: \(a.count) vs \(b.count) values")
    var m: Float = 0, d2: Double = 0, n2: Double = 0
    for (x, y) in zip(a, b) {
        m = max(m, abs(x - y))
        d2 += Double(x - y) * Double(x - y)
        n2 += Double(y) * Double(y)
    }
    return (m, Float((d2 / max(n2, 1e-30)).squareRoot()))
}
