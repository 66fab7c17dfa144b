import Foundation
import Media
import Torch

/// Draws an attention map over a clip and saves it (`stmae visualize --attention`).
/// map: [T', S] (one sample of `FamilyRegistry.attentionMap`), S = g·g patches, T' dividing the clip's frames: map
/// step t covers frames t·(T/T') ..< (t+1)·(T/T'). One colour scale (the map's min…max) for the whole clip.
/// `.png` → one strip with the first frame of every step; `.gif` → every frame with its step's map.
public func saveAttentionOverlay(clip: VideoClip, map: Tensor, path: String, alpha: Double = 0.5, fps: Double = 4)
    throws
{
    guard map.rank == 2 else {
        throw MediaError(path, .invalidArgument, "attention map must be [T', S], got \(map.shape)")
    }
    let (tSteps, s) = (map.size(0), map.size(1))
    let g = Int(Double(s).squareRoot().rounded())
    guard g * g == s else {
        throw MediaError(path, .invalidArgument, "attention map has \(s) patches per step, not a square grid")
    }
    guard tSteps > 0, clip.frames % tSteps == 0 else {
        throw MediaError(
            path, .invalidArgument, "clip has \(clip.frames) frames, not a multiple of the map's \(tSteps) time steps")
    }
    let values = try map.to(.float32).contiguous().toArray(Float.self)
    let range = (values.min() ?? 0, values.max() ?? 1)
    let per = clip.frames / tSteps
    func frame(_ t: Int) -> Image {
        Image(
            width: clip.width, height: clip.height,
            pixels: Array(clip.pixels[(t * clip.frameSize) ..< ((t + 1) * clip.frameSize)]))
    }
    func overlay(_ t: Int) throws -> Image {
        let step = t / per
        return try frame(t).overlaying(
            map: Array(values[(step * s) ..< ((step + 1) * s)]), gridH: g, gridW: g, alpha: alpha, range: range)
    }
    switch URL(fileURLWithPath: path).pathExtension.lowercased() {
    case "png": try Image.hstack((0 ..< tSteps).map { try overlay($0 * per) }).savePNG(path: path)
    case "gif":
        let gif = try GIFWriter(path: path, width: clip.width, height: clip.height, fps: fps)
        for t in 0 ..< clip.frames { try gif.append(rgb: overlay(t).pixels) }
        try gif.finish()
    default: throw MediaError(path, .invalidArgument, "attention overlay: expected a .png or .gif output path")
    }
}
