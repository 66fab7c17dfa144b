import Foundation
import NN
import Torch

/// timm's fused `attn.qkv` [3D, D] (+ bias) → mae_st's separate `attn.q/k/v`, for every block of `st`.
func splitQKV(_ st: [String: Tensor], into out: inout [String: Tensor]) throws {
    for (k, v) in st where k.hasPrefix("blocks.") {
        guard k.contains(".attn.qkv.") else { out[k] = v; continue }
        let d = v.size(0) / 3
        for (j, name) in ["q", "k", "v"].enumerated() {
            out[k.replacingOccurrences(of: ".attn.qkv.", with: ".attn.\(name).")] = try v.slice(dim: 0, start: j * d, end: (j + 1) * d)
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
    public func initialise(fromImage state: [String: Tensor], inflation: PatchInflation = .average) throws -> LoadReport {
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
