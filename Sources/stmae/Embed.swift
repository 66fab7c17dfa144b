import ArgumentParser
import Datasets
import Foundation
import Models
import Torch
import Training

/// `stmae embed --checkpoint CKPT --data DIR|CSV --output OUT`: one pooled encoder embedding per video, in list order.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write pooled encoder embeddings of videos to .safetensors, .npy or .npz, paths in order.",
        discussion: """
            CKPT: .pth / .safetensors / stmae checkpoint .json / Hugging Face directory (pre-trained MAE or fine-tuned classifier). A classifier \
            embeds with its own pooling (the input of its head); an MAE encoder applies its final norm and averages the \
            patch tokens (--pool mean) or takes the cls token (--pool cls). Clips: the evaluation view (centre clip, \
            short-side resize, centre crop: as transformers' VideoMAEImageProcessor for a Hugging Face directory, as \
            mae_st's test transform otherwise), frames and size from the checkpoint. Heads, eps, input size and mean/std \
            come from what the checkpoint records (see stmae convert --help); heads not recorded from the standard size \
            with the weights' embed_dim and depth, else --num_heads is required.
            OUT.safetensors holds `embeddings` [M, D], `labels` [M] and the paths (JSON) in the metadata key `paths`; \
            OUT.npy holds the [M, D] array, OUT.npz `embeddings` and `labels` (as optimized-stmae's embed.py), both with \
            OUT.paths.txt listing the paths. Videos that cannot be decoded are skipped and listed.
            """)

    @Option(name: .customLong("checkpoint"), help: "Checkpoint (.pth, .safetensors, stmae .json or Hugging Face directory).") var checkpoint: String
    @Option(name: .customLong("data"), help: "Videos: a folder (scanned recursively, class = sub-folder) or a CSV/list file of 'path, label'.") var data: String
    @Option(name: .customLong("output"), help: "Output file (.safetensors, .npy or .npz).") var output: String
    @Option(name: .customLong("pool"), help: "Pooling for MAE encoders: mean or cls.") var pool: String = "mean"
    @Option(name: .customLong("num_heads"), help: "Attention heads (default: recorded in the checkpoint, else the standard size's; required for other sizes).") var numHeads: Int?
    @Option(name: .customLong("img_size"), help: "Input size for checkpoints without learned positions.") var imgSize: Int?
    @Option(name: .customLong("num_frames"), help: "Frames for checkpoints without learned positions.") var numFrames: Int?
    @Option(name: .customLong("norm_eps"), help: "Block LayerNorm eps (default: recorded in the checkpoint, else mae_st's 1e-6).") var normEps: Double?
    @Option(name: .customLong("sampling_rate"), help: "Frame stride at --target_fps (mae_st sampling_rate).") var samplingRate: Int = 4
    @Option(name: .customLong("target_fps"), help: "Frame rate the sampling rate refers to.") var targetFps: Double = 30
    @Option(name: .customLong("mean"), parsing: .upToNextOption, help: "Per-channel mean (3 values; default: recorded in the checkpoint, else Kinetics 0.45).") var mean: [Float] = []
    @Option(name: .customLong("std"), parsing: .upToNextOption, help: "Per-channel std (3 values; default: recorded in the checkpoint, else 0.225).") var std: [Float] = []
    @Option(name: .customLong("batch_size"), help: "Clips per batch.") var batchSize: Int = 8
    @Option(name: .customLong("num_workers"), help: "Decoding threads.") var numWorkers: Int = 2
    @Flag(name: .customLong("force"), help: "Replace an existing output.") var force = false

    func run() throws {
        guard [".safetensors", ".npy", ".npz"].contains(where: output.hasSuffix) else {
            throw ValidationError("--output '\(output)': expected a .safetensors, .npy or .npz path")
        }
        if FileManager.default.fileExists(atPath: output), !force { throw ValidationError("--output '\(output)' exists; pass --force") }
        guard let p = EmbeddingModel.Pool(rawValue: pool) else { throw ValidationError("--pool '\(pool)': expected mean or cls") }
        for (flag, v) in [("--mean", mean), ("--std", std)] where !v.isEmpty && v.count != 3 {
            throw ValidationError("\(flag): expected 3 values, got \(v.count)")
        }
        guard batchSize > 0, numWorkers >= 0 else { throw ValidationError("--batch_size must be > 0 and --num_workers >= 0") }
        let m = try EmbeddingModel(checkpoint: checkpoint, pool: p, numHeads: numHeads, imgSize: imgSize, numFrames: numFrames,
                                   normEps: normEps)
        let c = m.model.config
        let pre = m.preprocessing
        let clip = ClipConfig(numFrames: c.numFrames, samplingRate: samplingRate, targetFps: targetFps, imgSize: c.imgSize,
                              mean: mean.isEmpty ? pre.map { $0.mean.map(Float.init) } ?? [0.45, 0.45, 0.45] : mean,
                              std: std.isEmpty ? pre.map { $0.std.map(Float.init) } ?? [0.225, 0.225, 0.225] : std, train: false,
                              evalResize: pre == nil ? .maeSt : .huggingFace)  // HF checkpoints: VideoMAEImageProcessor's view
        let samples = try VideoList.samples(from: data)
        let loader = try VideoLoader(samples: samples, config: clip, batchSize: batchSize, shuffle: false, numWorkers: numWorkers,
                                     dropLast: false, log: { line in FileHandle.standardError.write(Data("stmae embed: \(line)\n".utf8)) })
        let r = try Embeddings.extract(m, loader: loader)
        guard !r.paths.isEmpty else { throw ValidationError("--data '\(data)': no video could be decoded") }
        try Embeddings.write(r.embeddings, paths: r.paths, labels: r.labels, to: output)
        print("stmae embed: \(r.paths.count) videos × \(m.dim) → \(output)" + (r.skipped.isEmpty ? "" : " (skipped \(r.skipped.count) unreadable)"))
    }
}
