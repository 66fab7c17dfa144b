import Foundation
import NN
import Torch

/// How a 2-D patch kernel [D, C, p, p] becomes a tubelet kernel [D, C, t, p, p] (ViViT §3.4).
public enum PatchInflation: String, CaseIterable, Sendable {
    /// Replicate over t and divide by t ("filter inflation"): a static clip embeds like its frame.
    case average
    /// The 2-D kernel at frame ⌊t/2⌋, zeros elsewhere ("central frame initialisation").
    case centre
}

/// How temporal attention starts when initialising from an image model.
public enum TemporalInit: String, CaseIterable, Sendable {
    /// TimeSformer: `temporal_fc` = 0 (temporal attention random). ViViT FSA: `temporal_attn.proj` = 0.
    /// Either way the temporal branch adds nothing at first and still receives gradients.
    case zero
    /// Copy `attn` → `temporal_attn` and `norm1` → `temporal_norm1` (TimeSformer's recipe); `temporal_fc` stays 0.
    case copy
}

/// An image ViT state dict in timm keys (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.i.attn.qkv`, …,
/// `norm`, `head`). Accepts timm keys as they are and Hugging Face `ViTModel`/`ViTForImageClassification` keys
/// (`vit.embeddings…`, `encoder.layer.i.attention.attention.query`, …), fusing query/key/value into `qkv`.
/// `module.` and `model.` prefixes are stripped.
public func timmViTState(_ state: [String: Tensor]) throws -> [String: Tensor] {
    var s: [String: Tensor] = [:]
    for (k, v) in state {
        var key = k
        for p in ["module.", "model."] where key.hasPrefix(p) { key = String(key.dropFirst(p.count)) }
        s[key] = v
    }
    guard s.keys.contains(where: { $0.contains("embeddings.patch_embeddings") }) else {
        guard s["patch_embed.proj.weight"] != nil, s.keys.contains(where: { $0.hasPrefix("blocks.0.") }) else {
            throw ConfigError(
                "not an image ViT checkpoint: expected timm keys (patch_embed.proj.weight, "
                    + "blocks.0.attn.qkv.weight, …) "
                    + "or Hugging Face ViT keys (vit.embeddings.patch_embeddings.projection.weight, …)")
        }
        return s
    }
    var out: [String: Tensor] = [:]
    var qkv: [String: [String: Tensor]] = [:]  // "blocks.i.attn.qkv.weight" → query/key/value
    for (k0, v) in s {
        let k = k0.hasPrefix("vit.") ? String(k0.dropFirst(4)) : k0
        let map: [(String, String)] = [
            ("embeddings.cls_token", "cls_token"), ("embeddings.position_embeddings", "pos_embed"),
            ("embeddings.patch_embeddings.projection.", "patch_embed.proj."), ("layernorm.", "norm."),
            ("classifier.", "head.")
        ]
        if let (from, to) = map.first(where: { k.hasPrefix($0.0) }) { out[to + k.dropFirst(from.count)] = v; continue }
        guard k.hasPrefix("encoder.layer.") else { continue }  // pooler etc. are not part of a timm ViT
        let rest = k.dropFirst("encoder.layer.".count)
        guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) else { continue }
        let sub = String(rest[rest.index(after: dot)...])
        let b = "blocks.\(i)."
        let parts: [(String, String)] = [
            ("layernorm_before.", "norm1."), ("layernorm_after.", "norm2."),
            ("attention.output.dense.", "attn.proj."), ("intermediate.dense.", "mlp.fc1."),
            ("output.dense.", "mlp.fc2.")
        ]
        if let (from, to) = parts.first(where: { sub.hasPrefix($0.0) }) {
            out[b + to + sub.dropFirst(from.count)] = v; continue
        }
        for which in ["query", "key", "value"] where sub.hasPrefix("attention.attention.\(which).") {
            let leaf = sub.dropFirst("attention.attention.\(which).".count)
            qkv[b + "attn.qkv." + leaf, default: [:]][which] = v
        }
    }
    for (k, parts) in qkv {
        guard let q = parts["query"], let kk = parts["key"], let v = parts["value"] else {
            throw ConfigError("image checkpoint: \(k) needs query, key and value, found \(parts.keys.sorted())")
        }
        out[k] = try Tensor.cat([q, kk, v], dim: 0)
    }
    return out
}

/// An image ViT safetensors file (timm or HF keys), converted by `timmViTState`.
public func loadImageViT(path: String) throws -> [String: Tensor] {
    let raw: [String: Tensor]
    do { raw = try TensorFile.load(path) } catch {
        throw ConfigError("\(path): cannot read the image checkpoint (safetensors expected): \(error)")
    }
    do { return try timmViTState(raw) } catch { throw ConfigError("\(path): \(error)") }
}

/// Loads `out` non-strictly; a shape mismatch other than the classifier head (a different class count) means the
/// image model does not fit (width, depth, patch size) and is an error naming the keys.
func loadImageState(_ model: Module, _ out: [String: Tensor]) throws -> LoadReport {
    let r = try model.loadStateDict(out, strict: false)
    let bad = r.mismatched.filter { !$0.hasPrefix("head.") }
    guard bad.isEmpty else {
        throw ConfigError("image checkpoint does not fit the model: " + bad.joined(separator: "; "))
    }
    return r
}

/// Conv2d weight [D, C, p, p] → Conv3d weight [D, C, t, p, p].
public func inflatePatchWeight(_ w: Tensor, frames t: Int, mode: PatchInflation) throws -> Tensor {
    guard w.rank == 4 else {
        throw ConfigError("patch_embed.proj.weight: expected a 2-D kernel [D, C, p, p], got \(w.shape)")
    }
    switch mode {
    case .average: return try (w.unsqueeze(2).repeat([1, 1, t, 1, 1]) / Double(t)).contiguous()
    case .centre:
        let (z, c) = (try Tensor.zeros(w.shape, dtype: w.dtype).unsqueeze(2), try w.unsqueeze(2))
        return try Tensor.cat((0 ..< t).map { $0 == t / 2 ? c : z }, dim: 2)
    }
}

/// Spatial positions [1, S0, D] resampled (bicubic, as timm) to [1, S, D] when the grids differ.
public func resizeSpatialPos(_ pos: Tensor, tokens s: Int) throws -> Tensor {
    let s0 = pos.size(1), d = pos.size(2)
    if s0 == s { return pos }
    let (g0, g) = (Int(Double(s0).squareRoot().rounded()), Int(Double(s).squareRoot().rounded()))
    guard g0 * g0 == s0, g * g == s else {
        throw ConfigError("pos_embed: cannot resample \(s0) positions to \(s) (grids must be square)")
    }
    let grid = try pos.reshape([1, g0, g0, d]).permute(0, 3, 1, 2)
    return try interpolate(grid, size: [g, g], mode: .bicubic).permute(0, 2, 3, 1).reshape([1, s, d])
}

/// Splits a timm image state's `pos_embed` [1, 1+S0, D] into (cls position [1, 1, D], spatial [1, S, D]).
func splitImagePos(_ st: [String: Tensor], tokens s: Int) throws -> (cls: Tensor, spatial: Tensor)? {
    guard let pos = st["pos_embed"] else { return nil }
    return (try pos.slice(dim: 1, end: 1), try resizeSpatialPos(pos.slice(dim: 1, start: 1), tokens: s))
}

/// The image blocks' keys for `depth` blocks (and `norm`), copied as they are.
func imageBlockKeys(_ st: [String: Tensor], into out: inout [String: Tensor]) {
    for (k, v) in st where k.hasPrefix("blocks.") || k.hasPrefix("norm.") || k.hasPrefix("head.") || k == "cls_token" {
        out[k] = v
    }
}

/// Block i's image attention and norm1 (`blocks.i.attn.*`, `blocks.i.norm1.*`) as its temporal ones
/// (`temporal_attn`, `temporal_norm1`): `TemporalInit.copy`.
func copyToTemporal(_ st: [String: Tensor], block i: Int, into out: inout [String: Tensor]) {
    for (k, v) in st where k.hasPrefix("blocks.\(i).attn.") || k.hasPrefix("blocks.\(i).norm1.") {
        out[
            k.replacingOccurrences(of: "blocks.\(i).attn.", with: "blocks.\(i).temporal_attn.")
                .replacingOccurrences(of: "blocks.\(i).norm1.", with: "blocks.\(i).temporal_norm1.")] = v
    }
}

extension TimeSformer {
    /// Initialises from an image ViT (timm or HF layout): patch conv, cls, spatial positions (resampled if needed),
    /// blocks, norm, head (when the class count matches); `time_embed` stays as is. Returns what was loaded / left.
    @discardableResult
    public func initialise(fromImage state: [String: Tensor], temporal: TemporalInit = .copy) throws -> LoadReport {
        let st = try timmViTState(state)
        var out: [String: Tensor] = [:]
        imageBlockKeys(st, into: &out)
        for k in ["patch_embed.proj.weight", "patch_embed.proj.bias"] { out[k] = st[k] }
        if let (cls, sp) = try splitImagePos(st, tokens: sGrid) { out["pos_embed"] = try Tensor.cat([cls, sp], dim: 1) }
        for (i, b) in blocks.enumerated() where b.temporalFc != nil {
            if temporal == .copy {
                copyToTemporal(st, block: i, into: &out)
            }
            try Init.constant(b.temporalFc!.weight, 0); try Init.constant(b.temporalFc!.bias!, 0)
        }
        return try loadImageState(self, out)
    }
}

extension ViViT {
    /// Initialises from an image ViT: tubelet kernel inflated (`inflation`), positions repeated over time (joint,
    /// divided) or used per frame (fact_encoder), blocks/norm/head copied; divided: temporal attention per `temporal`.
    /// The fact_encoder's temporal transformer keeps its init.
    @discardableResult
    public func initialise(
        fromImage state: [String: Tensor], inflation: PatchInflation = .centre,
        temporal: TemporalInit = .zero
    ) throws -> LoadReport {
        let st = try timmViTState(state)
        var out: [String: Tensor] = [:]
        imageBlockKeys(st, into: &out)
        if let w = st["patch_embed.proj.weight"] {
            out["patch_embed.proj.weight"] = try inflatePatchWeight(w, frames: config.tPatchSize, mode: inflation)
        }
        out["patch_embed.proj.bias"] = st["patch_embed.proj.bias"]
        if let (cls, sp) = try splitImagePos(st, tokens: sGrid) {
            switch config.model {
            case "fact_encoder": out["pos_embed"] = try Tensor.cat([cls, sp], dim: 1)
            case "joint_space_time": out["pos_embed"] = try Tensor.cat([cls, sp.repeat([1, tGrid, 1])], dim: 1)
            default: out["pos_embed"] = try sp.repeat([1, tGrid, 1]); out["cls_token"] = nil
            }
        }
        for (i, b) in blocks.enumerated() where b.temporalAttn != nil {
            if temporal == .copy {
                copyToTemporal(st, block: i, into: &out)
            } else {
                try Init.constant(b.temporalAttn!.proj.weight, 0); try Init.constant(b.temporalAttn!.proj.bias!, 0)
            }
        }
        return try loadImageState(self, out)
    }
}
