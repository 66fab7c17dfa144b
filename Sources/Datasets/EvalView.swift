// Evaluation views: short-side resize → crop → normalise, pixel for pixel as mae_st or Hugging Face do it.
import Foundation
import Media

/// Whose evaluation preprocessing to reproduce (same decoded frames in, same floats out).
public enum EvalResize: String, Sendable, CaseIterable {
    /// mae_st's test transform (`spatial_sampling` with `spatial_idx` 0/1/2): no resize when the short side already
    /// equals the target, else long side `floor(long / short · size)` and PyTorch `interpolate(mode="bilinear",
    /// align_corners=False)` (no antialias) in float; `uniform_crop` offsets `ceil((side − crop) / 2)`, spatial
    /// index 0/2 at the start/end of the longer side. No uint8 rounding. The default: stmae fine-tunes with mae_st's
    /// recipe.
    case maeSt = "mae_st"
    /// `transformers`' `VideoMAEImageProcessor` (PIL backend): long side `int(size · long / short)`, PIL
    /// `BILINEAR` resize (triangle filter widened by the scale when shrinking, 8-bit fixed point, uint8 after the
    /// horizontal and after the vertical pass), centre crop offsets `(side − crop) / 2` rounded down, `/255`,
    /// normalise. What `stmae embed` uses for Hugging Face checkpoints. The spatial index is ignored (always the
    /// centre).
    case huggingFace = "hf"
}

/// One evaluation view of decoded frames.
public enum EvalView {
    /// Frame size after mae_st's `random_short_side_scale_jitter(min = max = shortSide)`.
    public static func maeStSize(width: Int, height: Int, shortSide s: Int) -> (width: Int, height: Int) {
        if (width <= height && width == s) || (height <= width && height == s) { return (width, height) }
        if width < height { return (s, Int((Double(height) / Double(width) * Double(s)).rounded(.down))) }
        return (Int((Double(width) / Double(height) * Double(s)).rounded(.down)), s)
    }

    /// Frame size after `transformers`' `get_resize_output_image_size(shortest_edge, default_to_square=False)`.
    public static func hfSize(width: Int, height: Int, shortSide s: Int) -> (width: Int, height: Int) {
        let long = Int((Double(s * max(width, height)) / Double(min(width, height))).rounded(.down))
        return width <= height ? (s, long) : (long, s)
    }

    /// Top-left corner of the `size × size` crop of a `width × height` (resized) frame.
    public static func cropOrigin(_ mode: EvalResize, width: Int, height: Int, size: Int, spatialIndex: Int) -> (
        x: Int, y: Int
    ) {
        switch mode {
        case .maeSt:
            let b = Augment.uniformCrop(width: width, height: height, size: size, spatialIndex: spatialIndex)
            return (b.x, b.y)
        case .huggingFace:
            return ((width - size) / 2, (height - size) / 2)
        }
    }

    /// Resizes each of `frames` of `clip` so its short side is `shortSide`, takes the `crop × crop` view
    /// (`spatialIndex` 0/1/2, mae_st only) and writes `(pixel/255 − mean[c]) / std[c]` as `[3, T, crop, crop]`.
    ///
    /// Requires `shortSide ≥ crop` (both upstreams' evaluation settings; mae_st fails otherwise).
    public static func render(
        _ clip: VideoClip, frames: [Int], mode: EvalResize, shortSide: Int, crop: Int,
        spatialIndex: Int = 1, mean: [Float], std: [Float], into out: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(shortSide >= crop && crop > 0, "EvalView.render: need shortSide >= crop > 0")
        switch mode {
        case .maeSt:
            let (w, h) = maeStSize(width: clip.width, height: clip.height, shortSide: shortSide)
            let (x0, y0) = cropOrigin(.maeSt, width: w, height: h, size: crop, spatialIndex: spatialIndex)
            let cols = Augment.taps(input: clip.width, output: w), rows = Augment.taps(input: clip.height, output: h)
            func slice(_ t: (i0: [Int], i1: [Int], w0: [Float], w1: [Float]), _ a: Int) -> (
                i0: [Int], i1: [Int], w0: [Float], w1: [Float]
            ) {
                (
                    Array(t.i0[a ..< a + crop]), Array(t.i1[a ..< a + crop]), Array(t.w0[a ..< a + crop]),
                    Array(t.w1[a ..< a + crop])
                )
            }
            Augment.bilinearNormalize(
                clip, frames: frames, cols: slice(cols, x0), rows: slice(rows, y0), mean: mean, std: std, into: out)
        case .huggingFace:
            let (w, h) = hfSize(width: clip.width, height: clip.height, shortSide: shortSide)
            let (x0, y0) = cropOrigin(.huggingFace, width: w, height: h, size: crop, spatialIndex: spatialIndex)
            // Each distinct frame is resized once (a still image repeats one frame T times).
            let distinct = Array(Set(frames)).sorted(), n = crop * crop * 3
            let at = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, $0) })
            var pixels = [UInt8](repeating: 0, count: distinct.count * n)
            for (k, f) in distinct.enumerated() {
                PILResize.bilinear(
                    clip, frame: f, width: w, height: h, x0: x0, y0: y0, crop: crop,
                    into: &pixels[k * n ..< (k + 1) * n])
            }
            let view = VideoClip(frames: distinct.count, height: crop, width: crop, pixels: pixels)
            let identity = Augment.taps(input: crop, output: crop)
            Augment.bilinearNormalize(
                view, frames: frames.map { at[$0]! }, cols: identity, rows: identity,
                mean: mean, std: std, into: out)
        }
    }
}
