import ArgumentParser
import Datasets
import Foundation
import Models
import Torch
import Training

/// `stmae embed --checkpoint CKPT --data DIR|CSV --output OUT`: one pooled encoder embedding per video, in list order.
struct Embed: SettingsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write pooled encoder embeddings of videos to .safetensors, .npy or .npz, paths in order.",
        discussion: """
            CKPT: .pth / .safetensors / stmae checkpoint .json / Hugging Face directory (pre-trained MAE or fine-tuned \
            classifier). A classifier embeds with its own pooling (the input of its head); an MAE encoder applies its \
            final norm and averages the patch tokens (--pool mean) or takes the cls token (--pool cls). Clips: the \
            evaluation view (centre clip, short-side resize, centre crop: as transformers' VideoMAEImageProcessor for \
            a Hugging Face directory, as mae_st's test transform otherwise), frames and size from the checkpoint. \
            Heads, eps, input size and mean/std come from what the checkpoint records (see stmae convert --help); \
            heads not recorded from the standard size with the weights' embed_dim and depth, else --num_heads is \
            required.
            OUT.safetensors holds `embeddings` [M, D], `labels` [M] and the paths (JSON) in the metadata key `paths`; \
            OUT.npy holds the [M, D] array, OUT.npz `embeddings` and `labels` (as optimized-stmae's embed.py), both \
            with OUT.paths.txt listing the paths. Videos that cannot be decoded are skipped and listed.
            """ + "\n" + flagList(), helpNames: [])

    @Argument(parsing: .captureForPassthrough, help: "--checkpoint CKPT --data DIR|CSV --output OUT … (see below)")
    var arguments: [String] = []
    func run(_ s: EmbedSettings) throws {
        let (mean, std) = (s.mean.map(Float.init), s.std.map(Float.init))
        if FileManager.default.fileExists(atPath: s.output), !s.force {
            throw ValidationError("--output '\(s.output)' exists; pass --force")
        }
        func given<T: Comparable & Numeric>(_ v: T) -> T? { v > 0 ? v : nil }  // 0: what the checkpoint records
        let m = try EmbeddingModel(
            checkpoint: s.checkpoint, pool: EmbeddingModel.Pool(rawValue: s.pool)!,
            numHeads: given(s.numHeads), imgSize: given(s.imgSize),
            numFrames: given(s.numFrames), normEps: given(s.normEps))
        try m.move(to: s.device)
        let c = m.model.config
        let pre = m.preprocessing
        let clip = ClipConfig(
            numFrames: c.numFrames, samplingRate: s.samplingRate, targetFps: s.targetFps,
            imgSize: c.imgSize,
            mean: mean.isEmpty ? pre.map { $0.mean.map(Float.init) } ?? [0.45, 0.45, 0.45] : mean,
            std: std.isEmpty ? pre.map { $0.std.map(Float.init) } ?? [0.225, 0.225, 0.225] : std, train: false,
            evalResize: pre == nil ? .maeSt : .huggingFace)  // HF checkpoints: VideoMAEImageProcessor's view
        // a class-folder data set is labelled by the checkpoint's class list (training's), when it records one
        let samples: [VideoSample]
        do { samples = try VideoList.samples(from: s.data, classes: m.classNames.isEmpty ? nil : m.classNames) } catch {
            let hint =
                m.classNames.isEmpty
                ? ""
                : " (the checkpoint's class list labels the folders; to embed other classes, list the videos in a "
                    + "'path, label' file)"
            throw ValidationError("--data \(s.data): \(error)\(hint)")
        }
        guard !samples.isEmpty else { throw ValidationError("--data \(s.data): no videos found") }
        let loader = try VideoLoader(
            samples: samples, config: clip, batchSize: s.batchSize, shuffle: false,
            numWorkers: s.numWorkers,
            dropLast: false, log: { line in FileHandle.standardError.write(Data("stmae embed: \(line)\n".utf8)) })
        let progress = ProgressLine("stmae embed", total: samples.count, unit: "videos")
        let t0 = Date()
        let r = try Embeddings.extract(m, loader: loader, device: s.device, autocast: s.autocastDType) {
            progress.update($0)
        }
        progress.finish(r.paths.count)
        let secs = Date().timeIntervalSince(t0)
        // how many files were skipped and why (the loader's account)
        FileHandle.standardError.write(Data("stmae embed: data: \(DataSummary([loader]).line)\n".utf8))
        guard !r.paths.isEmpty else { throw ValidationError("--data '\(s.data)': no video could be decoded") }
        try Embeddings.write(r.embeddings, paths: r.paths, labels: r.labels, to: s.output)
        print(
            "stmae embed: \(r.paths.count) videos × \(m.dim) → \(s.output)"
                + String(format: " (%.1f clips/s)", Double(r.paths.count) / max(secs, 1e-9))
                + (r.skipped.isEmpty ? "" : " (skipped \(r.skipped.count) unreadable)"))
    }
}
