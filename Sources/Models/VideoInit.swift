import Foundation
import NN
import Torch

/// timm's fused `attn.qkv` [3D, D] (+ bias) → mae_st's separate `attn.q/k/v`, for every block of `st`.
func splitQKV(_ st: [String: Tensor], into out: inout [String: Tensor]) throws {
    for (k, v) in st where k.hasPrefix("blocks.") {
        guard k.contains(".attn.qkv.") else { out[k] = v; continue }
        let d = v.size(0) / 3
        for (j, name) in ["q", "k", "v"].enumerated() {
            out[k.replacingOccurrences(of: ".attn.qkv.", with: ".attn.\(name).")] = try v.slice(
                dim: 0, start: j * d, end: (j + 1) * d)
        }
    }
}

/// A video MAE checkpoint's encoder in mae_st keys. MAE-ST (`patch_embed`, `blocks.i.attn.q/k/v`, `pos_embed_*`,
/// `cls_token`, `norm`): decoder keys and the (decoder-width) `mask_token` are dropped. VideoMAE (`encoder.` prefix
/// or fine-tuned keys; `attn.qkv` + `q_bias`/`v_bias`): qkv split, k bias 0; its fixed sinusoid positions are not
/// in the checkpoint, so positions keep their init. Checkpoint wrappers (`model`, `module`) are unwrapped by callers.
public func videoEncoderState(_ state: [String: Tensor]) throws -> [String: Tensor] {
    var s: [String: Tensor] = [:]
    for (k0, v) in state {
        var k = k0
        for p in ["module.", "model.", "encoder."] where k.hasPrefix(p) { k = String(k.dropFirst(p.count)) }
        if k.hasPrefix("decoder") || k == "mask_token" || k0.hasPrefix("decoder.") { continue }
        s[k] = v
    }
    var out: [String: Tensor] = [:]
    for (k, v) in s where !k.hasPrefix("blocks.") { out[k] = v }
    try splitQKV(s.filter { !$0.key.hasSuffix(".q_bias") && !$0.key.hasSuffix(".v_bias") }, into: &out)
    for (k, qb) in s where k.hasSuffix(".attn.q_bias") {
        let base = String(k.dropLast("q_bias".count))
        out[base + "q.bias"] = qb
        out[base + "k.bias"] = try Tensor.zeros(qb.shape, dtype: qb.dtype)
        if let vb = s[base + "v_bias"] { out[base + "v.bias"] = vb }
    }
    return out
}

extension MaskFeat {
    /// Initialises the backbone from an image ViT (timm or HF layout): patch kernel inflated, cls position and spatial
    /// positions from `pos_embed` (resampled if needed), `pos_embed_temporal` = 0, qkv split into q/k/v, `norm`.
    @discardableResult
    public func initialise(fromImage state: [String: Tensor], inflation: PatchInflation = .average) throws -> LoadReport
    {
        let st = try timmViTState(state)
        var out: [String: Tensor] = [:]
        try splitQKV(st, into: &out)
        for (k, v) in st where k.hasPrefix("norm.") { out[k] = v }
        if let w = st["patch_embed.proj.weight"] {
            out["patch_embed.proj.weight"] = try inflatePatchWeight(w, frames: config.tPatchSize, mode: inflation)
        }
        out["patch_embed.proj.bias"] = st["patch_embed.proj.bias"]
        if let (cls, sp) = try splitImagePos(st, tokens: sGrid) {
            out["pos_embed_spatial"] = sp
            if config.clsEmbed { out["pos_embed_class"] = cls; out["cls_token"] = st["cls_token"] }
            try Init.constant(posEmbedTemporal, 0)
        }
        return try loadImageState(self, out)
    }

    /// Initialises the backbone from an MAE-ST or VideoMAE pre-training (or fine-tuning) checkpoint; see
    /// `videoEncoderState`. `mask_token` and `pred_head` keep their init.
    @discardableResult
    public func initialise(fromVideo state: [String: Tensor]) throws -> LoadReport {
        try loadStateDict(videoEncoderState(state), strict: false)
    }
}

extension ViViT {
    /// Initialises from a video MAE encoder (MAE-ST or VideoMAE; see `videoEncoderState`): tubelet conv, cls token,
    /// blocks (q/k/v fused into `attn.qkv`, a missing k bias as 0), `norm`. Positions: MAE-ST's separable ones —
    /// joint: `[class, spatial[s] + temporal[t]]`; fact_encoder: `[class, spatial]` for the spatial encoder and
    /// `[0, temporal]` for `temporal_pos_embed`; divided: `spatial[s] + temporal[t]`. MAE-ST's joint `pos_embed`
    /// (`sep_pos_embed` false, [1, (1 +) T'·S, D]) is taken as it is (fact_encoder, which needs a spatial/temporal
    /// split, refuses it). A VideoMAE checkpoint has no positions (fixed sinusoid): ours get VideoMAE's 1-D table over
    /// the T'·S tokens (fact_encoder: its first S rows), class position 0. The temporal transformer (FE) and temporal
    /// attention (FSA) keep their init.
    @discardableResult
    public func initialise(fromVideo state: [String: Tensor]) throws -> LoadReport {
        let st = try videoEncoderState(state)
        var out: [String: Tensor] = [:]
        for (k, v) in st where k.hasPrefix("patch_embed.") || k.hasPrefix("norm.") || k == "cls_token" { out[k] = v }
        for (k, w) in st where k.hasSuffix(".attn.q.weight") {
            let base = String(k.dropLast("q.weight".count))
            guard let kw = st[base + "k.weight"], let vw = st[base + "v.weight"] else { continue }
            out[base + "qkv.weight"] = try Tensor.cat([w, kw, vw], dim: 0)
            if let qb = st[base + "q.bias"] {
                out[base + "qkv.bias"] = try Tensor.cat([
                    qb, st[base + "k.bias"] ?? Tensor.zeros(qb.shape), st[base + "v.bias"] ?? Tensor.zeros(qb.shape)
                ])
            }
        }
        for (k, v) in st
        where k.hasPrefix("blocks.") && !k.contains(".attn.q.") && !k.contains(".attn.k.") && !k.contains(".attn.v.") {
            out[k] = v
        }
        let d = config.embedDim
        var cls = try st["pos_embed_class"] ?? Tensor.zeros([1, 1, d])
        let spatial: Tensor, temporal: Tensor, patches: Tensor
        if let sp = st["pos_embed_spatial"], let tp = st["pos_embed_temporal"] {
            (spatial, temporal) = (sp, tp)
            patches = try separablePosEmbed(spatial: sp, temporal: tp, tGrid: tGrid, sGrid: sGrid)
        } else if let joint = st["pos_embed"], joint.rank == 3 {
            let extra = joint.size(1) - tGrid * sGrid
            guard extra == 0 || extra == 1, config.model != "fact_encoder" else {
                throw TorchError(
                    "a joint pos_embed \(joint.shape) (mae_st sep_pos_embed false) does not fit \(config.model) over "
                        + "\(tGrid)×\(sGrid) tokens"
                        + (config.model == "fact_encoder" ? ": it has no spatial/temporal split" : ""))
            }
            if extra == 1 { cls = try joint.slice(dim: 1, end: 1) }
            patches = try joint.slice(dim: 1, start: extra)
            (spatial, temporal) = (patches, patches)  // unused: not fact_encoder
        } else {
            patches = try sinusoidTable(positions: tGrid * sGrid, dim: d)
            (spatial, temporal) = (try patches.slice(dim: 1, end: sGrid), try Tensor.zeros([1, tGrid, d]))
        }
        switch config.model {
        case "joint_space_time": out["pos_embed"] = try Tensor.cat([cls, patches], dim: 1)
        case "fact_encoder":
            out["pos_embed"] = try Tensor.cat([cls, spatial], dim: 1)
            out["temporal_pos_embed"] = try Tensor.cat([Tensor.zeros([1, 1, d]), temporal], dim: 1)
        default: out["pos_embed"] = patches; out["cls_token"] = nil
        }
        return try loadImageState(self, out)
    }
}
