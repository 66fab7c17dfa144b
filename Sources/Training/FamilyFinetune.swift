import Foundation
import Models
import NN
import Torch

// Fine-tuning the video-transformer family (TimeSformer, ViViT) with the ViT machinery: layer-wise lr decay ids,
// no-weight-decay keys, and `--finetune` from an image ViT, a video MAE encoder or a checkpoint of the same model.

extension TimeSformer: ClipClassifier {
    public var numLayers: Int { config.depth + 1 }
    /// `cls_token`, `pos_embed`, `time_embed`, `patch_embed` → 0; `blocks.i` → i + 1; `norm`, `head` → depth + 1.
    public func layerId(_ key: String) -> Int {
        if ["cls_token", "pos_embed", "time_embed", "patch_embed"].contains(where: key.hasPrefix) { return 0 }
        if key.hasPrefix("blocks.") { return Int(key.split(separator: ".")[1])! + 1 }
        return config.depth + 1
    }
    public var noWeightDecay: Set<String> { ["cls_token", "pos_embed", "time_embed"] }
}

extension ViViT: ClipClassifier {
    /// fact_encoder: the spatial blocks, then the temporal blocks.
    public var numLayers: Int { config.depth + (config.model == "fact_encoder" ? config.temporalDepth : 0) + 1 }
    /// Embeddings → 0; `blocks.i` → i + 1; FE: spatial `norm` and the temporal tokens → depth + 1 (with the first
    /// temporal block), `temporal_blocks.j` → depth + j + 1; `temporal_norm`, `head` (and `norm` otherwise) → last.
    public func layerId(_ key: String) -> Int {
        let d = config.depth
        if ["cls_token", "pos_embed", "patch_embed"].contains(where: key.hasPrefix) { return 0 }
        if key.hasPrefix("blocks.") { return Int(key.split(separator: ".")[1])! + 1 }
        if key.hasPrefix("temporal_blocks.") { return d + Int(key.split(separator: ".")[1])! + 1 }
        if config.model == "fact_encoder",
            key.hasPrefix("norm.") || key.hasPrefix("temporal_cls_token") || key.hasPrefix("temporal_pos_embed")
        {
            return d + 1
        }
        return numLayers
    }
    public var noWeightDecay: Set<String> { ["cls_token", "pos_embed", "temporal_cls_token", "temporal_pos_embed"] }
}

/// The classifier `--model` names (`ModelCatalog`): a ViT (`classifierConfig`; unknown names are its error) or a
/// family model (`timesformer_*`, `vivit_*`).
public func makeClassifier(_ c: FinetuneConfig, numClasses: Int, fcNorm: Bool = true, generator: Generator?) throws
    -> any ClipClassifier
{
    guard let entry = ModelCatalog.entry(c.model, for: .classifier), !entry.isViT else {
        return try VisionTransformer(classifierConfig(c, numClasses: numClasses, fcNorm: fcNorm), generator: generator)
    }
    guard entry.kind == .classifier else {
        throw ConfigError(
            "--model \(c.model) is a pre-training model: pre-train it with `stmae pretrain --model \(c.model)`, then "
                + "fine-tune its encoder with `stmae finetune --model vit_base_patch16 --finetune CHECKPOINT` "
                + "(same sizes)"
        )
    }
    guard c.dropout == 0 else {
        throw ConfigError("--dropout (head dropout) is defined for the ViT classifiers, not --model \(c.model)")
    }
    var kw: [String: Any] = [
        "num_classes": numClasses, "num_frames": c.numFrames, "img_size": c.imgSize,
        "drop_path_rate": c.dropPathRate
    ]
    if c.patchSize > 0 { kw["patch_size"] = c.patchSize }
    if c.embedDim > 0 { kw["embed_dim"] = c.embedDim }
    if c.depth > 0 { kw["depth"] = c.depth }
    if c.numHeads > 0 { kw["num_heads"] = c.numHeads }
    if entry.family == .vivit { kw["t_patch_size"] = c.tPatchSize }
    let cfg = try entry.config(overrides: kw)
    let s = cfg.sized
    try checkModelSizes(
        embedDim: s.embedDim, numHeads: s.numHeads, imgSize: c.imgSize, patchSize: s.patchSize,
        numFrames: c.numFrames, tPatchSize: entry.family == .vivit ? c.tPatchSize : 1)
    return try cfg.make(generator: generator) as! any ClipClassifier
}

/// `--finetune PATH` for a TimeSformer / ViViT, by what the file holds:
/// * a checkpoint of this model (its own keys): loaded; a head of another class count is re-initialised;
/// * otherwise an image ViT or a video MAE encoder (`initialiseFamily`).
/// Returns a one-line summary for the log.
public func loadFamilyPretrained(
    _ path: String, into model: any ClipClassifier, inflation: PatchInflation,
    temporal: TemporalInit, headInitStd: Double,
    generator: Generator? = nil
) throws -> String {
    let flag = "--finetune \(path)"
    return try naming(flag) {
        var state = try readFamilyState(path)
        let own = Dictionary(uniqueKeysWithValues: model.namedTensors().map { ($0.0, $0.1.shape) })
        guard own.keys.filter({ !$0.hasPrefix("head.") }).allSatisfy({ state[$0] != nil }) else {
            return try initialiseFamily(model, from: state, inflation: inflation, temporal: temporal, flag: flag)
        }
        var skipped: [String] = []
        for k in ["head.weight", "head.bias"] where state[k] != nil && state[k]!.shape != own[k] {
            state[k] = nil; skipped.append(k)
        }
        let r = try model.loadStateDict(state, strict: false)
        let bad = r.mismatched + r.unexpected
        guard bad.isEmpty else { throw ConfigError("does not fit the model: " + bad.joined(separator: "; ")) }
        if !skipped.isEmpty {
            try Init.truncNormal(model.head.weight, std: headInitStd, generator: generator)
            try Init.constant(model.head.bias!, 0)
        }
        return "\(flag): \(r.loaded.count) tensors of the same model"
            + (skipped.isEmpty ? "" : "; head re-initialised (other class count)")
    }
}

/// Initialises a family model (TimeSformer, ViViT, MaskFeat) from `state`, by what it holds: an image ViT (timm or
/// Hugging Face keys, 2-D patch kernel) → `FamilyRegistry.initialiseFromImage`; a video MAE encoder (MAE-ST /
/// VideoMAE / MaskFeat keys, 3-D patch kernel) → `FamilyRegistry.initialiseFromVideo`. `flag` starts the summary.
public func initialiseFamily(
    _ model: Module, from state: [String: Tensor], inflation: PatchInflation, temporal: TemporalInit,
    flag: String
) throws -> String {
    let patch = state["patch_embed.proj.weight"] ?? state["encoder.patch_embed.proj.weight"]
    if state.keys.contains(where: { $0.contains("embeddings.patch_embeddings") }) || patch?.rank == 4 {
        let r = try FamilyRegistry.initialiseFromImage(
            model, state: timmViTState(state), inflation: inflation, temporal: temporal)
        return
            "\(flag): image ViT (\(inflation.rawValue) inflation, temporal \(temporal.rawValue)): "
            + "\(r.loaded.count) tensors loaded"
            + (r.missing.isEmpty ? "" : "; kept at init: " + r.missing.joined(separator: ", "))
    }
    guard patch?.rank == 5 else {
        throw ConfigError(
            "not a checkpoint of this model, an image ViT (timm/HF keys) or a video MAE encoder (mae_st/VideoMAE keys)")
    }
    let r = try FamilyRegistry.initialiseFromVideo(model, state: state)
    return "\(flag): video MAE encoder: \(r.loaded.count) tensors loaded"
        + (r.missing.isEmpty ? "" : "; kept at init: " + r.missing.joined(separator: ", "))
}

/// The state dict at `path`: an stmae checkpoint, safetensors, a torch.save file, or a Hugging Face directory
/// (VideoMAE, or an image ViT's `model.safetensors`); a `model.`/`module.` prefix on every key is stripped.
public func readFamilyState(_ path: String) throws -> [String: Tensor] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
        throw ConfigError("no such file or directory")
    }
    let read: [(String, Tensor)]
    if isDir.boolValue, let r = try? Weights.read(path) {
        read = r
    }  // a Hugging Face VideoMAE directory
    else if isDir.boolValue {
        read = try TensorFile.loadOrdered(path + "/model.safetensors").tensors
    }  // HF image ViT
    else {
        read = try Weights.read(path)
    }
    var state = Dictionary(read, uniquingKeysWith: { a, _ in a })
    for p in ["model.", "module."] where !state.isEmpty && state.keys.allSatisfy({ $0.hasPrefix(p) }) {
        state = Dictionary(uniqueKeysWithValues: state.map { (String($0.key.dropFirst(p.count)), $0.value) })
    }
    return state
}

/// Runs `body`; an error is re-thrown as a `ConfigError` starting with `flag` (unless it already does).
func naming<T>(_ flag: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ConfigError where e.description.hasPrefix(flag) { throw e } catch {
        throw ConfigError("\(flag): \(error)")
    }
}
