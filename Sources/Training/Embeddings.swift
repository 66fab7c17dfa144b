import Datasets
import Foundation
import Models
import NN
import TensorFiles
import Torch

/// Pooled encoder embeddings of videos (`stmae embed`).
public final class EmbeddingModel {
    public enum Pool: String, Sendable { case mean, cls }
    public let model: VisionTransformer
    /// The pre-trained encoder's final `norm` when the checkpoint has no `fc_norm` (an MAE rather than a classifier).
    public let finalNorm: LayerNorm?
    public let pool: Pool
    /// Input normalisation the checkpoint records (a Hugging Face `preprocessor_config.json`, stmae metadata / args).
    public let preprocessing: HFVideoMAE.Preprocessing?
    /// The class list the checkpoint records (a fine-tuning run's `classNames`, `labels` metadata, HF `id2label`);
    /// empty if none: it labels the class folders of the data embedded.
    public let classNames: [String]

    /// Loads any checkpoint `Weights.read` / `HFVideoMAE.read` understands. A fine-tuned classifier embeds with its
    /// own pooling (the input of `head`): with `fc_norm`, mean → `fc_norm`; with only `norm`, `pool` mean is mae_st's
    /// mean → `norm` and `pool` cls is `norm` → cls token. A pre-trained MAE encoder applies its `norm`, then averages
    /// the patch tokens (mean) or takes the cls token (cls). The config comes from the weights (`ViTConfig.inferred`)
    /// and what the checkpoint records (`Weights.settings`: heads, input size, eps, mean/std); arguments override it;
    /// an unrecorded eps is mae_st's 1e-6.
    public init(
        checkpoint path: String, pool: Pool = .mean, numHeads: Int? = nil, imgSize: Int? = nil, numFrames: Int? = nil,
        normEps: Double? = nil
    ) throws {
        var state: [(String, Tensor)], cfg: ViTConfig
        if WeightsFormat.detect(path) == .huggingFace {
            let r = try HFVideoMAE.read(path)
            (state, cfg, preprocessing) = (r.state, r.config, r.preprocessing)
            // transformers' placeholder names (LABEL_0, …) are no class list
            classNames = r.labels.enumerated().allSatisfy { $1 == "LABEL_\($0)" } ? [] : r.labels
        } else {
            state = try Weights.read(path)
            let s = ModelSettings(numHeads: numHeads, imgSize: imgSize, numFrames: numFrames, normEps: normEps)
                .filled(from: try Weights.settings(path))
            cfg = try ViTConfig.inferred(
                from: state, numHeads: s.numHeads, imgSize: s.imgSize, numFrames: s.numFrames, source: path)
            s.apply(to: &cfg)
            preprocessing = s.preprocessing
            classNames = s.labels
        }
        try requireFinite(state, source: path)
        if let normEps { cfg.normEps = normEps }
        guard cfg.embedDim % cfg.numHeads == 0 else {
            throw TorchError("\(path): --num_heads \(cfg.numHeads) does not divide embed_dim \(cfg.embedDim)")
        }
        let keys = Set(state.map(\.0))
        guard pool == .mean || cfg.clsEmbed else {
            throw TorchError("\(path): --pool cls needs a cls token; this model has none")
        }
        let classifier = keys.contains("head.weight") || keys.contains("fc_norm.weight")
        // A classifier with `norm` but no `fc_norm` is ambiguous: mae_st pools mean → norm, optimized-stmae norm → cls.
        let normOnly = classifier && !keys.contains("fc_norm.weight")
        if normOnly { cfg.globalPool = pool == .mean } else if !classifier { cfg.globalPool = true }
        cfg.dropout = 0
        model = try VisionTransformer(cfg)
        try model.loadPretrained(state, source: path, normAsFcNorm: normOnly)
        model.eval()
        self.pool = pool
        if !classifier, let w = state.first(where: { $0.0 == "norm.weight" })?.1,
            let b = state.first(where: { $0.0 == "norm.bias" })?.1
        {
            let n = try LayerNorm(cfg.embedDim, eps: cfg.normEps)
            try withNoGrad {
                try n.weight.copy_(w); try n.bias.copy_(b)
            }
            finalNorm = n
        } else {
            finalNorm = nil
        }
    }

    public var dim: Int { model.config.embedDim }

    /// Moves the encoder (and the final norm) to `device` (`--device`).
    public func move(to device: Device) throws {
        try model.move(to: device)
        try finalNorm?.move(to: device)
    }

    /// x: [N, 3, T, H, W] → [N, D].
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try withNoGrad {
            guard let finalNorm else { return try model.forwardFeatures(x) }
            let h = try finalNorm(model.forwardTokens(x))
            let hasCls = model.clsToken != nil
            if pool == .cls { return try h.select(dim: 1, index: 0) }
            return try (hasCls ? h.slice(dim: 1, start: 1) : h).mean(dims: [1])
        }
    }
}

public enum Embeddings {
    /// Embeds every sample of `loader` (which must not shuffle) in order. A video that cannot be decoded is skipped
    /// (the loader substitutes the next one; that row is dropped) and listed in `skipped`.
    /// `device`: where the clips go (the model's device, `move(to:)`); `autocast`: bf16/fp16 forward (nil: fp32).
    /// The rows come back to the CPU as float32.
    public static func extract(
        _ m: EmbeddingModel, loader: VideoLoader, device: Device = .cpu, autocast: DType? = nil,
        progress: (Int) -> Void = { _ in }
    ) throws -> (embeddings: Tensor, paths: [String], labels: [Int], skipped: [String]) {
        guard !loader.shuffle, loader.config.repeatAug == 1 else {
            throw DatasetError("embeddings need an unshuffled loader without repeat_aug")
        }
        var rows: [Tensor] = [], paths: [String] = [], labels: [Int] = []
        let order = loader.indices(epoch: 0)
        let stream = loader.batches(epoch: 0)
        while let batch = try stream.nextBatch() {
            let x = try Tensor(batch.data, shape: batch.shape).to(device)
            let e = try withAutocast(autocast ?? .bfloat16, device: device, enabled: autocast != nil) { try m(x) }
                .to(.float32).to(.cpu)
            let base = batch.index * loader.batchSize
            var keep: [Int] = []
            for (k, idx) in batch.sampleIndices.enumerated() where idx == order[base + k] { keep.append(k) }
            if keep.count == batch.sampleIndices.count {
                rows.append(e)
            } else if !keep.isEmpty {
                rows.append(try e.indexSelect(dim: 0, index: Tensor(keep.map(Int64.init), shape: [keep.count])))
            }
            paths += keep.map { batch.paths[$0] }
            labels += keep.map { batch.labels[$0] }
            progress(paths.count)
        }
        let all = rows.isEmpty ? try Tensor.zeros([0, m.dim]) : try Tensor.cat(rows, dim: 0)
        let done = Set(paths)
        let skipped = order.map { loader.samples[$0].path }.filter { !done.contains($0) }
        return (all, paths, labels, skipped)
    }

    /// `.npy`: the [M, D] float32 array; `.npz`: `embeddings` [M, D] and `labels` [M] (optimized-stmae's embed.py
    /// output); both plus `<stem>.paths.txt` (one path per line, row order). Otherwise safetensors with `embeddings`
    /// and `labels` (int64), the paths as JSON in the metadata key `paths`.
    public static func write(_ e: Tensor, paths: [String], labels: [Int], to path: String) throws {
        if path.hasSuffix(".npy") || path.hasSuffix(".npz") {
            let emb = try e.to(.float32).contiguous().rawTensor()
            if path.hasSuffix(".npy") {
                try Npy.write(emb, to: path)
            } else {
                try Npy.writeNpz(
                    [("embeddings", emb), ("labels", try RawTensor(labels.map(Int64.init), shape: [labels.count]))],
                    to: path)
            }
            let list = String(path.dropLast(4)) + ".paths.txt"
            guard !paths.contains(where: { $0.contains("\n") }) else { throw TorchError("a path contains a newline") }
            try (paths.map { $0 + "\n" }.joined()).write(toFile: list, atomically: true, encoding: .utf8)
        } else {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: paths), as: UTF8.self)
            let lab = try Tensor(labels.map(Int64.init), shape: [labels.count])
            try TensorFile.save(
                [("embeddings", e.to(.float32)), ("labels", lab)], metadata: ["paths": json, "format": "pt"], to: path)
        }
    }
}
