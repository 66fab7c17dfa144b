import Foundation
import NN
import TensorFiles
import Torch

/// Hugging Face transformers VideoMAE directories (`config.json`, `model.safetensors` or `pytorch_model.bin`,
/// `preprocessor_config.json`) ⇄ mae_st keys and `ViTConfig`.
///
/// Keys (HF → ours), `i` = block: `videomae.embeddings.patch_embeddings.projection.*` → `patch_embed.proj.*`;
/// `videomae.encoder.layer.i.` + `layernorm_before` → `blocks.i.norm1`,
/// `attention.attention.{query,key,value}.weight` → `attn.{q,k,v}.weight`, `attention.attention.q_bias`/`v_bias`
/// (transformers 4.x, Hub checkpoints) or `query.bias`/`value.bias` (5.x) → `attn.q.bias`/`attn.v.bias`,
/// `attention.output.dense` → `attn.proj`, `layernorm_after` → `norm2`, `intermediate.dense` → `mlp.fc1`,
/// `output.dense` → `mlp.fc2`; `videomae.layernorm` (use_mean_pooling false) → `norm`; `fc_norm` → `fc_norm`;
/// `classifier` → `head`. The positional table is a fixed sinusoid (not stored); the pre-training decoder
/// (`encoder_to_decoder`, `decoder.*`, `mask_token`) is dropped.
public enum HFVideoMAE {
    /// Normalisation of the inputs (`preprocessor_config.json`: image_mean / image_std) and, when it came from a
    /// Hugging Face directory, that whole file's JSON text (written back with `mean`/`std` as image_mean/image_std).
    public struct Preprocessing: Equatable, Sendable {
        public var mean: [Double], std: [Double]
        public var processorConfig: String?
        public init(mean: [Double], std: [Double], processorConfig: String? = nil) {
            (self.mean, self.std, self.processorConfig) = (mean, std, processorConfig)
        }
        public static let imagenet = Preprocessing(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    /// Our key for an HF key; nil for keys the classifier does not use (pre-training decoder).
    public static func ourKey(_ hf: String) -> String? {
        var k = hf
        if k.hasPrefix("videomae.") { k.removeFirst("videomae.".count) }
        if k.hasPrefix("embeddings.patch_embeddings.projection.") {
            return "patch_embed.proj." + k.split(separator: ".").last!
        }
        if k.hasPrefix("layernorm.") { return "norm." + k.dropFirst("layernorm.".count) }
        if k.hasPrefix("fc_norm.") { return k }
        if k.hasPrefix("classifier.") { return "head." + k.dropFirst("classifier.".count) }
        guard k.hasPrefix("encoder.layer.") else { return nil }
        let parts = k.split(separator: ".", maxSplits: 3).map(String.init)  // encoder, layer, i, rest
        guard parts.count == 4, let i = Int(parts[2]) else { return nil }
        let table: [(String, String)] = [
            ("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."),
            ("attention.attention.query.", "attn.q."), ("attention.attention.key.", "attn.k."),
            ("attention.attention.value.", "attn.v."), ("attention.attention.q_bias", "attn.q.bias"),
            ("attention.attention.v_bias", "attn.v.bias"), ("attention.output.dense.", "attn.proj."),
            ("intermediate.dense.", "mlp.fc1."), ("output.dense.", "mlp.fc2.")
        ]
        for (h, o) in table where parts[3].hasPrefix(h) { return "blocks.\(i)." + o + parts[3].dropFirst(h.count) }
        return nil
    }

    /// The HF key (transformers 4.x layout, which 5.x also reads) for one of ours; nil if HF has no place for it.
    public static func hfKey(_ ours: String) -> String? {
        if ours.hasPrefix("patch_embed.proj.") {
            return "videomae.embeddings.patch_embeddings.projection." + ours.split(separator: ".").last!
        }
        if ours.hasPrefix("norm.") { return "videomae.layernorm." + ours.dropFirst(5) }
        if ours.hasPrefix("fc_norm.") { return ours }
        if ours.hasPrefix("head.") { return "classifier." + ours.dropFirst(5) }
        let parts = ours.split(separator: ".", maxSplits: 2).map(String.init)  // blocks, i, rest
        guard parts.count == 3, parts[0] == "blocks", let i = Int(parts[1]) else { return nil }
        let table: [(String, String)] = [
            ("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
            ("attn.q.bias", "attention.attention.q_bias"),
            ("attn.v.bias", "attention.attention.v_bias"), ("attn.q.", "attention.attention.query."),
            ("attn.k.", "attention.attention.key."), ("attn.v.", "attention.attention.value."),
            ("attn.proj.", "attention.output.dense."), ("mlp.fc1.", "intermediate.dense."),
            ("mlp.fc2.", "output.dense.")
        ]
        for (o, h) in table where parts[2].hasPrefix(o) {
            return "videomae.encoder.layer.\(i)." + h + parts[2].dropFirst(o.count)
        }
        return nil
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TorchError("\(path): file not found") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TorchError("\(path): not a JSON object")
        }
        return obj
    }

    /// `config.json` → our config (HF layout: sinusoid positions, no cls token, no k bias, mean pooling).
    public static func config(fromJSON c: [String: Any], path: String = "config.json") throws -> ViTConfig {
        func int(_ k: String) throws -> Int {
            if let v = c[k] as? Int { return v }
            if let v = c[k] as? [Int], let f = v.first, v.allSatisfy({ $0 == f }) { return f }  // [224, 224]
            throw TorchError("\(path): '\(k)' missing or not an integer (square sizes only)")
        }
        if let mt = c["model_type"] as? String, mt != "videomae" {
            throw TorchError("\(path): model_type '\(mt)', expected 'videomae'")
        }
        if let act = c["hidden_act"] as? String, act != "gelu" {
            throw TorchError("\(path): hidden_act '\(act)' (only exact 'gelu' is supported)")
        }
        var v = ViTConfig()
        v.makeVideoMAE()
        (v.imgSize, v.patchSize, v.inChans) = (
            try int("image_size"), try int("patch_size"), (c["num_channels"] as? Int) ?? 3
        )
        (v.numFrames, v.tPatchSize) = (try int("num_frames"), try int("tubelet_size"))
        (v.embedDim, v.depth, v.numHeads) = (
            try int("hidden_size"), try int("num_hidden_layers"), try int("num_attention_heads")
        )
        v.mlpRatio = Double(try int("intermediate_size")) / Double(v.embedDim)
        v.qkvBias = (c["qkv_bias"] as? Bool) ?? (c["qv_bias"] as? Bool) ?? true
        v.normEps = (c["layer_norm_eps"] as? Double) ?? 1e-12
        v.dropRate = (c["hidden_dropout_prob"] as? Double) ?? 0
        if let labels = c["id2label"] as? [String: Any] {
            v.numClasses = labels.count
        } else if let n = c["num_labels"] as? Int {
            v.numClasses = n
        }
        return v
    }

    /// Reads a directory: (state dict in our keys, config, preprocessing, class names by index if present).
    /// `progress`: called with each tensor's byte count once it is read.
    public static func read(_ dir: String, progress: ((Int) -> Void)? = nil) throws -> (
        state: [(String, Tensor)], config: ViTConfig, preprocessing: Preprocessing, labels: [String]
    ) {
        let cj = try json(dir + "/config.json")
        let cfg = try config(fromJSON: cj, path: dir + "/config.json")
        let fm = FileManager.default
        var raw: [(String, Tensor)] = []
        if fm.fileExists(atPath: dir + "/model.safetensors") {
            raw = try TensorFile.loadOrdered(dir + "/model.safetensors", progress: progress).tensors
        } else if fm.fileExists(atPath: dir + "/model.safetensors.index.json") {
            let map = (try json(dir + "/model.safetensors.index.json"))["weight_map"] as? [String: String] ?? [:]
            for file in Set(map.values).sorted() {
                raw += try TensorFile.loadOrdered(dir + "/" + file, progress: progress).tensors
            }
        } else if fm.fileExists(atPath: dir + "/pytorch_model.bin") {
            raw = try TorchCheckpoint.loadStateDict(
                path: dir + "/pytorch_model.bin", candidates: [[]], progress: progress
            ).map {
                ($0.0, try Tensor($0.1))
            }
        } else {
            throw TorchError("\(dir): no model.safetensors, model.safetensors.index.json or pytorch_model.bin")
        }
        if (cj["use_mean_pooling"] as? Bool) == false, raw.contains(where: { $0.0 == "classifier.weight" }) {
            // HF then classifies the first *patch* token after `layernorm` (VideoMAE has no cls token).
            throw TorchError("\(dir): a classifier with use_mean_pooling false (token-0 pooling) is not supported")
        }
        var state: [(String, Tensor)] = []
        for (k, t) in raw {
            if let o = ourKey(k) {
                state.append((o, t))
            } else if !(k.hasPrefix("decoder.") || k.hasPrefix("encoder_to_decoder") || k == "mask_token"
                || k.hasSuffix("position_embeddings"))
            {
                throw TorchError("\(dir): unknown VideoMAE key '\(k)'")
            }
        }
        // transformers writes id2label into every config (2 placeholder labels by default): names only with a head.
        var labels: [String] = []
        if raw.contains(where: { $0.0 == "classifier.weight" }), let l = cj["id2label"] as? [String: String] {
            labels = (0 ..< l.count).map { l[String($0)] ?? "LABEL_\($0)" }
        }
        return (state, cfg, preprocessing(dir), labels)
    }

    /// `dir/preprocessor_config.json`'s normalisation and text; ImageNet's (no text) when it is missing or has none.
    public static func preprocessing(_ dir: String) -> Preprocessing {
        let path = dir + "/preprocessor_config.json"
        guard let data = FileManager.default.contents(atPath: path), let p = try? json(path),
            let m = p["image_mean"] as? [Double], let s = p["image_std"] as? [Double], m.count == 3, s.count == 3
        else {
            return .imagenet
        }
        return Preprocessing(mean: m, std: s, processorConfig: String(decoding: data, as: UTF8.self))
    }

    /// What `dir` records besides its weights (`config.json`, `preprocessor_config.json`; labels are left out: they
    /// need the weights to tell a classifier, see `read`).
    public static func settings(_ dir: String) throws -> ModelSettings {
        let c = try config(fromJSON: try json(dir + "/config.json"), path: dir + "/config.json")
        return ModelSettings(config: c, preprocessing: preprocessing(dir))
    }

    /// Whether `write` leaves the tensor `key` (our keys) out: an `attn.k.bias` (see `write`) or a pre-training
    /// decoder's.
    public static func leavesOut(_ key: String) -> Bool {
        key.hasSuffix("attn.k.bias") || key.hasPrefix("decoder") || key == "mask_token"
    }

    /// Writes `state` (our keys) of a model with `config` as an HF VideoMAE directory that
    /// `VideoMAEForVideoClassification.from_pretrained` loads (a classifier: `fc_norm` + `head`), or `VideoMAEModel`
    /// (an encoder with its final `norm`: `use_mean_pooling` false). The model must have the HF layout: fixed sinusoid
    /// positions, no cls token. An `attn.k.bias` is dropped: it adds q·b_k to every score of a query, which softmax
    /// ignores, so outputs are unchanged. `preprocessing`: its `processorConfig` (a Hugging Face source's
    /// `preprocessor_config.json`) is written as it was, else one for `config`'s input size; image_mean/image_std are
    /// `mean`/`std`. Returns the keys left out (k biases, a pre-training decoder: `leavesOut`). `progress`: called
    /// with each written tensor's byte count.
    @discardableResult
    public static func write(
        _ state: [(String, Tensor)], config c: ViTConfig, to dir: String, labels: [String] = [],
        preprocessing: Preprocessing = .imagenet, progress: ((Int) -> Void)? = nil
    ) throws -> [String] {
        guard c.posEmbedType == .sinusoid, !c.clsEmbed else {
            let pos = [
                "separable": "learned separable positions (pos_embed_spatial/temporal)",
                "joint": "a learned joint position table (pos_embed)", "sinusoid": "sinusoid positions"
            ][c.posEmbedType.rawValue]!
            throw TorchError(
                "Hugging Face VideoMAE has a fixed sinusoid position table (not stored, not learnable) and no cls "
                    + "token; this model has \(pos)\(c.clsEmbed ? " and a cls token" : "") — it cannot be "
                    + "expressed as VideoMAE"
            )
        }
        let keys = Set(state.map(\.0))
        let meanPooling = keys.contains("fc_norm.weight") || !keys.contains("norm.weight")
        guard meanPooling || !keys.contains("head.weight") else {
            throw TorchError("a head on the final norm's token 0 (cls pooling) has no VideoMAE equivalent")
        }
        var out: [(String, Tensor)] = [], skipped: [String] = []
        for (k, t) in state {
            if leavesOut(k) { skipped.append(k); continue }
            guard let h = hfKey(k) else { throw TorchError("no Hugging Face VideoMAE key for '\(k)'") }
            out.append((h, try t.contiguous()))
        }
        let hasHead = out.contains { $0.0 == "classifier.weight" }
        let n = hasHead ? state.first { $0.0 == "head.weight" }!.1.size(0) : 0
        guard labels.isEmpty || labels.count == n else {
            throw TorchError("\(labels.count) labels for a head of \(n) classes")
        }
        let names = labels.isEmpty ? (0 ..< n).map { "LABEL_\($0)" } : labels
        let cfg: [String: Any] = [
            "model_type": "videomae", "architectures": [hasHead ? "VideoMAEForVideoClassification" : "VideoMAEModel"],
            "image_size": c.imgSize, "patch_size": c.patchSize, "num_channels": c.inChans, "num_frames": c.numFrames,
            "tubelet_size": c.tPatchSize, "hidden_size": c.embedDim, "num_hidden_layers": c.depth,
            "num_attention_heads": c.numHeads, "intermediate_size": Int(Double(c.embedDim) * c.mlpRatio),
            "hidden_act": "gelu",
            "hidden_dropout_prob": c.dropRate, "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02,
            "layer_norm_eps": c.normEps, "qkv_bias": c.qkvBias, "use_mean_pooling": meanPooling, "norm_pix_loss": true,
            "id2label": Dictionary(uniqueKeysWithValues: names.enumerated().map { (String($0.offset), $0.element) }),
            "label2id": Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a }),
            "torch_dtype": "float32"
        ]
        var pre: [String: Any] = [
            "image_processor_type": "VideoMAEImageProcessor", "do_resize": true, "size": ["shortest_edge": c.imgSize],
            "do_center_crop": true, "crop_size": ["height": c.imgSize, "width": c.imgSize], "do_rescale": true,
            "rescale_factor": 1.0 / 255, "do_normalize": true, "resample": 2
        ]
        if let text = preprocessing.processorConfig,
            let source = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        {
            pre = source  // a Hugging Face source's processor, kept as it was
        }
        (pre["image_mean"], pre["image_std"]) = (preprocessing.mean, preprocessing.std)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try TensorFile.save(out, metadata: ["format": "pt"], to: dir + "/model.safetensors", progress: progress)
        for (name, obj) in [("config.json", cfg), ("preprocessor_config.json", pre)] {
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: dir + "/" + name), options: .atomic)
        }
        return skipped
    }
}
