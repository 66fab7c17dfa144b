import Foundation
import Media
import Models
import Torch

/// Original / masked / reconstruction views of one clip, as in the MAE and VideoMAE demos.
public struct Reconstruction {
    /// Each `[T2, H, W, 3]` RGB bytes (T2 = pred_t_dim target frames), un-normalised with the clip's mean/std.
    public var original: VideoClip, masked: VideoClip, reconstruction: VideoClip
    /// The model's loss on this clip (MSE over masked tokens, in its target space).
    public var loss: Double
    /// Fraction of target pixels removed by the mask.
    public var maskedFraction: Double
}

/// How `norm_pix_loss` predictions are brought back to pixels: with the statistics of the visible patches
/// (mean and variance averaged over the tokens the encoder saw — uses nothing the model did not see),
/// or each patch's own (as VideoMAE's visualisation script; looks sharper, but peeks at masked pixels).
public enum DenormStats: String, CaseIterable, Sendable { case visible, own }

public func reconstruct(
    _ model: MaskedAutoencoderViT, clip x: Tensor, noise: Tensor, mean: [Double], std: [Double],
    denorm: DenormStats = .visible, maskRatio: Double? = nil
) throws -> Reconstruction {
    // x: [1, 3, T, H, W] normalised
    try withNoGrad {
        let wasTraining = model.training
        model.eval()
        defer { model.train(wasTraining) }
        let (loss, pred, mask) = try model(x, noise: noise, maskRatio: maskRatio)
        let frames = try x.indexSelect(dim: 2, index: model.targetFrameIndices().to(x.device))  // [1, 3, T2, H, W]
        var p = try pred.to(.float32)  // [1, L, u·p·p·3]
        if model.config.normPixLoss {
            let patches = try model.patchify(frames)
            var mu = try patches.mean(dims: [-1], keepDim: true)  // [1, L, 1]
            var sd = try (patches.variance(dims: [-1], keepDim: true) + 1e-6).sqrt()
            if denorm == .visible {
                let vis = try (1.0 - mask).unsqueeze(-1)  // [1, L, 1], 1 = seen
                let n = try vis.sum()
                mu = try (mu * vis).sum() / n
                sd = try (sd * vis).sum() / n
            }
            p = try p * sd + mu
        }
        let rec = try model.unpatchify(p, frames: frames.size(2))
        let removed = try model.unpatchify(mask.unsqueeze(-1).expand(pred.shape), frames: frames.size(2))
        let kept = try 1.0 - removed
        let pasted = try frames * kept + rec * removed
        let greyed = try frames * kept + removed * ((0.25 - mean[0]) / std[0])  // removed patches: grey 0.25
        return Reconstruction(
            original: try toClip(frames, mean, std), masked: try toClip(greyed, mean, std),
            reconstruction: try toClip(pasted, mean, std), loss: try loss.item(),
            maskedFraction: try removed.mean().item())
    }
}

/// [1, 3, T, H, W] normalised → RGB bytes `[T, H, W, 3]`: v·std + mean, clamped to [0, 1].
func toClip(_ t: Tensor, _ mean: [Double], _ std: [Double]) throws -> VideoClip {
    let (frames, h, w) = (t.size(2), t.size(3), t.size(4))
    let v = try t.squeeze(0).permute(1, 2, 3, 0).contiguous().toArray(Float.self)  // [T, H, W, 3]
    var px = [UInt8](repeating: 0, count: v.count)
    for i in 0 ..< v.count {
        let c = i % 3
        px[i] = UInt8((min(max(Double(v[i]) * std[c] + mean[c], 0), 1) * 255).rounded())
    }
    return VideoClip(frames: frames, height: h, width: w, pixels: px)
}

extension Reconstruction {
    /// One picture: a row per view (original, masked, reconstruction), a column per frame, 2-pixel gutters.
    public func grid(columns: Int? = nil) -> Image {
        let views = [original, masked, reconstruction]
        let n = min(columns ?? original.frames, original.frames), (h, w, g) = (original.height, original.width, 2)
        let (gw, gh) = (n * w + (n - 1) * g, 3 * h + 2 * g)
        var px = [UInt8](repeating: 255, count: gw * gh * 3)
        for (r, view) in views.enumerated() {
            for c in 0 ..< n {
                let t = c * view.frames / n
                for y in 0 ..< h {
                    let src = t * view.frameSize + y * w * 3, dst = ((r * (h + g) + y) * gw + c * (w + g)) * 3
                    px.replaceSubrange(dst ..< dst + w * 3, with: view.pixels[src ..< src + w * 3])
                }
            }
        }
        return Image(width: gw, height: gh, pixels: px)
    }

    /// An animation: each frame shows the three views side by side.
    public func sideBySide() -> VideoClip {
        let views = [original, masked, reconstruction],
            (t, h, w, g) = (original.frames, original.height, original.width, 2)
        let gw = 3 * w + 2 * g
        var px = [UInt8](repeating: 255, count: t * h * gw * 3)
        for f in 0 ..< t {
            for (k, view) in views.enumerated() {
                for y in 0 ..< h {
                    let src = f * view.frameSize + y * w * 3, dst = ((f * h + y) * gw + k * (w + g)) * 3
                    px.replaceSubrange(dst ..< dst + w * 3, with: view.pixels[src ..< src + w * 3])
                }
            }
        }
        return VideoClip(frames: t, height: h, width: gw, pixels: px)
    }

    /// Writes `.png` (labelled rows, `reconstructionFigure`, with an SVG beside it) or `.gif` (animation); the
    /// format comes from the extension.
    public func save(to path: String, fps: Double = 4) throws {
        switch (path as NSString).pathExtension.lowercased() {
        case "png":
            let title = String(format: "loss %.4f, %.0f%% of pixels masked", loss, maskedFraction * 100)
            try reconstructionFigure(self, title: title, columns: original.frames).write(png: path)
        case "gif": try sideBySide().saveGIF(path: path, fps: fps)
        default: throw ConfigError("--output \(path): expected a .png or .gif file")
        }
    }
}
