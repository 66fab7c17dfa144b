import ArgumentParser
import Datasets
import Foundation
import Media
import Models
import NN
import Torch
import Training

/// `stmae visualize --attention`: the last block's attention of a TimeSformer / ViViT over a video's frames.
/// Weights: `--checkpoint` — an `stmae finetune` checkpoint (.json; model and sizes from it) or safetensors in the
/// model's keys (`model.`/`module.` prefixes stripped) — or `--image_init` (an image ViT, timm or HF keys), or none
/// (random init: shows the mechanics only).
func visualizeAttention(
    model name: String, video: String, output: String, checkpoint: String?, imageInit: String?,
    alpha: Double, fps: Double, device: Device = .cpu
) throws {
    let classifiers = ModelCatalog.entries.filter(\.hasAttentionMap).map(\.name)
    var name = name
    let m: Module, frames: Int, size: Int
    if let checkpoint, let (s, dir) = try? Checkpoint.loadSidecar(checkpoint, as: FinetuneCheckpointState.self) {
        guard ModelCatalog.entry(s.config.model)?.hasAttentionMap == true else {
            throw ValidationError(
                "--checkpoint \(checkpoint): a \(s.config.model) checkpoint; attention maps need one of "
                    + "\(classifiers.joined(separator: ", "))"
            )
        }
        let c = try makeClassifier(s.config, numClasses: s.numClasses, generator: nil)
        do { try c.loadStateDict(TensorFile.load(dir + "/" + s.weights)) } catch {
            throw ValidationError("--checkpoint \(checkpoint): \(error)")
        }
        (m, name, frames, size) = (c, s.config.model, s.config.numFrames, s.config.imgSize)
    } else {
        guard let entry = ModelCatalog.entry(name), entry.hasAttentionMap else {
            throw ValidationError(
                "--model '\(name)': attention maps need one of \(classifiers.joined(separator: ", "))")
        }
        m = try entry.make()
        if let checkpoint {
            var state: [String: Tensor] = [:]
            for (k, v) in try TensorFile.load(checkpoint) {
                var key = k
                for p in ["module.", "model."] where key.hasPrefix(p) { key = String(key.dropFirst(p.count)) }
                state[key] = v
            }
            do { try m.loadStateDict(state) } catch { throw ValidationError("--checkpoint \(checkpoint): \(error)") }
        } else if let imageInit {
            try FamilyRegistry.initialiseFromImage(m, state: loadImageViT(path: imageInit))
        }
        (frames, size) = (entry.size.numFrames, entry.size.imgSize)
    }
    m.eval()
    try m.move(to: device)  // loaded on the CPU, then moved (map_location)
    // frames spread over the whole video, short side resized to the model's size, centre crop
    let reader = try VideoReader(path: video)
    let idx = (0 ..< frames).map {
        Int((Double($0) * Double(max(reader.frameCount - 1, 0)) / Double(max(frames - 1, 1))).rounded())
    }
    let clip = try reader.decodeFrames(at: idx, shortSide: size)
    let box = Augment.uniformCrop(width: clip.width, height: clip.height, size: size, spatialIndex: 1)
    func crop(mean: [Float], std: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: 3 * frames * size * size)
        out.withUnsafeMutableBufferPointer {
            Augment.resizeNormalize(
                clip, frames: Array(0 ..< frames), box: box, outWidth: size, outHeight: size,
                flip: false, mean: mean, std: std, into: $0)
        }
        return out
    }
    let x = try Tensor(crop(mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225]), shape: [1, 3, frames, size, size])
    let map = try FamilyRegistry.attentionMap(m, x.to(device)).select(dim: 0, index: 0).to(.cpu)
    // the crop itself in 8-bit RGB: [3, T, H, W] → per frame interleaved
    let raw = crop(mean: [0, 0, 0], std: [1 / 255.0, 1 / 255.0, 1 / 255.0])
    let plane = size * size
    var px = [UInt8](repeating: 0, count: frames * plane * 3)
    for t in 0 ..< frames {
        for i in 0 ..< plane {
            for c in 0 ..< 3 {
                px[(t * plane + i) * 3 + c] = UInt8(min(max(raw[(c * frames + t) * plane + i].rounded(), 0), 255))
            }
        }
    }
    try saveAttentionOverlay(
        clip: VideoClip(frames: frames, height: size, width: size, pixels: px), map: map, path: output,
        alpha: alpha, fps: fps)
    print("wrote \(output) (\(name), attention map \(map.shape))")
}
