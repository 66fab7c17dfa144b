// Pillow's BILINEAR resize of 8-bit RGB, bit for bit (what transformers' PIL-backend image processors run).
import Foundation
import Media

/// Pillow `Image.resize(size, BILINEAR)` on uint8 pixels, after Pillow's `Resample.c` (`ImagingResampleInner`):
/// a separable triangle filter whose support grows with the scale when shrinking (antialiasing), coefficients
/// normalised per output pixel and turned into 22-bit fixed point, the horizontal pass first into a uint8
/// temporary, then the vertical pass; each result rounded half up and clipped to 0...255. A pass whose size does
/// not change is skipped.
enum PILResize {
    /// Fixed-point fraction bits of Pillow's 8-bit resampling (`PRECISION_BITS = 32 − 8 − 2`).
    static let precisionBits = 22

    /// Per output index: first input index, number of inputs used, fixed-point weights (`ksize` per output).
    struct Coeffs {
        var start: [Int], count: [Int], weights: [Int32], ksize: Int
    }

    /// Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter over a whole `input` line.
    static func coeffs(input: Int, output: Int) -> Coeffs {
        let scale = Double(input) / Double(output)
        let filterscale = max(scale, 1), support = filterscale  // bilinear support 1.0
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var c = Coeffs(start: [], count: [], weights: [Int32](repeating: 0, count: output * ksize), ksize: ksize)
        c.start.reserveCapacity(output); c.count.reserveCapacity(output)
        let ss = 1 / filterscale
        var w = [Double](repeating: 0, count: ksize)
        for xx in 0 ..< output {
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)  // C (int): truncation toward zero
            let n = min(Int(center + support + 0.5), input) - xmin
            var ww = 0.0
            for x in 0 ..< n {
                let d = abs((Double(x + xmin) - center + 0.5) * ss)
                w[x] = d < 1 ? 1 - d : 0
                ww += w[x]
            }
            for x in 0 ..< n {
                let v = ww != 0 ? w[x] / ww : w[x]
                c.weights[xx * ksize + x] = Int32(0.5 + v * Double(1 << precisionBits))  // v ≥ 0
            }
            c.start.append(xmin)
            c.count.append(n)
        }
        return c
    }

    /// Pillow's `clip8` of an accumulator that already holds the rounding half.
    @inline(__always) static func clip8(_ v: Int) -> UInt8 {
        v <= 0 ? 0 : v >= (1 << (precisionBits + 8)) ? 255 : UInt8(v >> precisionBits)
    }

    /// The `crop × crop` window at `(x0, y0)` of frame `frame` of `clip` resized to `width × height`, as RGB bytes
    /// `[crop, crop, 3]` into `out`. Equal to resizing the whole frame and then cropping (each output pixel only
    /// depends on its own coefficients); only the rows and columns the window needs are computed.
    static func bilinear(
        _ clip: VideoClip, frame: Int, width: Int, height: Int, x0: Int, y0: Int, crop: Int,
        into out: inout ArraySlice<UInt8>
    ) {
        precondition(
            x0 >= 0 && y0 >= 0 && x0 + crop <= width && y0 + crop <= height && out.count == crop * crop * 3,
            "PILResize.bilinear: window outside the resized frame")
        let horizontal = width != clip.width ? coeffs(input: clip.width, output: width) : nil
        let vertical = height != clip.height ? coeffs(input: clip.height, output: height) : nil
        // Source rows the window's output rows read.
        let firstRow = vertical.map { $0.start[y0] } ?? y0
        let lastRow = vertical.map { v in (y0 ..< y0 + crop).map { v.start[$0] + v.count[$0] }.max()! } ?? y0 + crop
        let rowBytes = crop * 3
        // Pass 1 (horizontal): the window's columns of every needed source row, as uint8.
        var temp = [UInt8](repeating: 0, count: (lastRow - firstRow) * rowBytes)
        let half = 1 << (precisionBits - 1)
        clip.pixels.withUnsafeBufferPointer { src in
            let base = src.baseAddress! + frame * clip.frameSize
            for y in firstRow ..< lastRow {
                let line = base + y * clip.width * 3, dst = (y - firstRow) * rowBytes
                for ox in 0 ..< crop {
                    guard let h = horizontal else {
                        for c in 0 ..< 3 { temp[dst + ox * 3 + c] = line[(x0 + ox) * 3 + c] }
                        continue
                    }
                    let xx = x0 + ox, start = h.start[xx], k = xx * h.ksize
                    var s0 = half, s1 = half, s2 = half
                    for x in 0 ..< h.count[xx] {
                        let p = line + (start + x) * 3, wt = Int(h.weights[k + x])
                        s0 += Int(p[0]) * wt; s1 += Int(p[1]) * wt; s2 += Int(p[2]) * wt
                    }
                    temp[dst + ox * 3] = clip8(s0); temp[dst + ox * 3 + 1] = clip8(s1);
                    temp[dst + ox * 3 + 2] = clip8(s2)
                }
            }
        }
        // Pass 2 (vertical): blend the temporary's rows.
        let o = out.startIndex
        for oy in 0 ..< crop {
            let yy = y0 + oy
            guard let v = vertical else {
                for i in 0 ..< rowBytes { out[o + oy * rowBytes + i] = temp[(yy - firstRow) * rowBytes + i] }
                continue
            }
            let start = v.start[yy] - firstRow, k = yy * v.ksize
            for i in 0 ..< rowBytes {
                var s = half
                for y in 0 ..< v.count[yy] { s += Int(temp[(start + y) * rowBytes + i]) * Int(v.weights[k + y]) }
                out[o + oy * rowBytes + i] = clip8(s)
            }
        }
    }
}
