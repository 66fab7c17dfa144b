import ArgumentParser
import Datasets
import Foundation
import Models
import Torch
import Training

/// `stmae visualize`: original / masked / reconstruction of one clip by a pre-trained MAE, or (`--attention`) the last
/// block's attention of a TimeSformer / ViViT over the clip's frames.
struct VisualizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "visualize",
        abstract: "Write original / masked / reconstruction views of a clip, or attention maps (--attention); PNG or GIF.")

    @Option(name: .customLong("checkpoint"), help: "An stmae pre-training checkpoint (.json or .safetensors); with --attention: an stmae finetune checkpoint (.json) of a TimeSformer/ViViT, or model weights (.safetensors).")
    var checkpoint: String?
    @Flag(name: .customLong("attention"), help: "Draw the last block's attention (cls→patches) of --model instead.") var attention = false
    @Option(name: .customLong("model"), help: ArgumentHelp("With --attention: " + ModelCatalog.entries.filter(\.hasAttentionMap).map(\.name).joined(separator: ", ") + "."))
    var model = "timesformer_base_patch16_224"
    @Option(name: .customLong("image_init"), help: "With --attention: initialise --model from an image ViT (safetensors, timm/HF keys).")
    var imageInit: String?
    @Option(name: .customLong("alpha"), help: "With --attention: overlay opacity in [0, 1].") var alpha = 0.5
    @Option(name: .customLong("video"), help: "The video to reconstruct.") var video: String
    @Option(name: .customLong("output"), help: "Output .png (grid) or .gif (animation).") var output = "reconstruction.gif"
    @Option(name: .customLong("mask_ratio"), help: "Mask ratio (default: the checkpoint's).") var maskRatio: Double?
    @Option(name: .customLong("seed"), help: "Seed of the mask noise.") var seed = 0
    @Option(name: .customLong("temporal_index"), help: "Which of --num_temporal_views clips to show.") var temporalIndex = 0
    @Option(name: .customLong("num_temporal_views"), help: "Evenly spaced clips over the video.") var numTemporalViews = 1
    @Option(name: .customLong("denorm"), help: "norm_pix_loss de-normalisation: visible (patch stats the encoder saw) or own.")
    var denorm = "visible"
    @Option(name: .customLong("fps"), help: "GIF frame rate.") var fps = 4.0

    func run() throws {
        if attention {
            return try visualizeAttention(model: model, video: video, output: output, checkpoint: checkpoint, imageInit: imageInit,
                                          alpha: alpha, fps: fps)
        }
        guard let checkpoint else { throw ValidationError("--checkpoint is required (an stmae pre-training checkpoint)") }
        guard let stats = DenormStats(rawValue: denorm) else { throw ValidationError("--denorm: expected visible or own, got '\(denorm)'") }
        if let r = maskRatio, !(r > 0 && r < 1) { throw ValidationError("--mask_ratio must be in (0, 1), got \(r)") }
        let (model, c) = try Checkpoint.loadModel(checkpoint)
        let clip = c.clipConfig(train: false, temporalIndex: temporalIndex, numTemporalViews: numTemporalViews)
        let data = try ClipPipeline(config: clip).load(path: video)
        let x = try Tensor.wrapping(data, shape: [1] + clip.clipShape)
        let noise = try model.makeNoise(batch: 1, generator: Generator(seed: UInt64(seed)))
        let r = try reconstruct(model, clip: x, noise: noise, mean: c.mean, std: c.std, denorm: stats, maskRatio: maskRatio)
        try r.save(to: output, fps: fps)
        print(String(format: "%@: %d frames, %.0f%% of pixels masked, loss %.4f", output, r.original.frames, r.maskedFraction * 100, r.loss))
    }
}
