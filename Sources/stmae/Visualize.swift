import ArgumentParser
import Datasets
import Foundation
import Models
import Torch
import Training

/// `stmae visualize`: original / masked / reconstruction of one clip by a pre-trained MAE, or (`--attention`) the last
/// block's attention of a TimeSformer / ViViT over the clip's frames.
struct VisualizeCommand: SettingsCommand {
    static let configuration = command(
        "visualize",
        "Write original / masked / reconstruction views of a clip, or "
            + "attention maps (--attention); PNG or GIF.")
    @Argument(parsing: .captureForPassthrough, help: "--video VIDEO --checkpoint CKPT … (see the list below)")
    var arguments: [String] = []
    func run(_ s: VisualizeSettings) throws {
        if s.attention {
            return try visualizeAttention(
                model: s.model, video: s.video, output: s.output,
                checkpoint: s.checkpoint.isEmpty ? nil : s.checkpoint,
                imageInit: s.imageInit.isEmpty ? nil : s.imageInit, alpha: s.alpha,
                fps: s.fps, device: s.device)
        }
        guard !s.checkpoint.isEmpty else {
            throw ValidationError("--checkpoint is required (an stmae pre-training checkpoint)")
        }
        let checkpoint = s.checkpoint, stats = DenormStats(rawValue: s.denorm)!
        let maskRatio = s.maskRatio > 0 ? s.maskRatio : nil  // 0: the checkpoint's
        let (model, c) = try Checkpoint.loadModel(checkpoint)  // on the CPU, then moved (map_location)
        try model.move(to: s.device)
        let clip = c.clipConfig(train: false, temporalIndex: s.temporalIndex, numTemporalViews: s.numTemporalViews)
        let data = try ClipPipeline(config: clip).load(path: s.video)
        let x = try Tensor.wrapping(data, shape: [1] + clip.clipShape).to(s.device)
        let noise = try model.makeNoise(batch: 1, generator: Generator(seed: UInt64(s.seed))).to(s.device)
        let r = try reconstruct(
            model, clip: x, noise: noise, mean: c.mean, std: c.std, denorm: stats, maskRatio: maskRatio)
        try r.save(to: s.output, fps: s.fps)
        print(
            String(
                format: "%@: %d frames, %.0f%% of pixels masked, loss %.4f", s.output, r.original.frames,
                r.maskedFraction * 100, r.loss))
    }
}
