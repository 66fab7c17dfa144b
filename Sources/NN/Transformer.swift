import Torch

/// Multi-head self-attention with `scaled_dot_product_attention`.
/// Projections are either separate (`q`, `k`, `v`: mae_st keys) or one fused `qkv` (timm/VideoMAE keys), optionally
/// with VideoMAE's `q_bias`/`v_bias` (qkv linear without bias, k bias fixed at zero).
public final class Attention: Module {
    public enum Projection { case separate, fused, fusedQVBias }
    public var training = true
    public let q: Linear?, k: Linear?, v: Linear?
    public let qkv: Linear?
    public let qBias: Tensor?, vBias: Tensor?
    public let proj: Linear
    public let heads: Int
    public let attnDrop: Double
    /// Dropout after `proj` (drop_rate).
    public let projDrop: Dropout
    public var keyNames: [String: String] { ["qBias": "q_bias", "vBias": "v_bias"] }

    /// `kBias` overrides `qkvBias` for `k` with separate projections (HF VideoMAE: q and v biased, k not).
    public init(
        dim: Int, heads: Int, qkvBias: Bool = true, kBias: Bool? = nil, projection: Projection = .separate,
        attnDrop: Double = 0, projDrop: Double = 0
    ) throws {
        guard dim % heads == 0 else { throw TorchError("Attention: dim \(dim) is not divisible by \(heads) heads") }
        self.heads = heads
        self.attnDrop = attnDrop
        self.projDrop = Dropout(projDrop)
        switch projection {
        case .separate:
            q = try Linear(dim, dim, bias: qkvBias); k = try Linear(dim, dim, bias: kBias ?? qkvBias)
            v = try Linear(dim, dim, bias: qkvBias)
            qkv = nil; qBias = nil; vBias = nil
        case .fused:
            q = nil; k = nil; v = nil
            qkv = try Linear(dim, 3 * dim, bias: qkvBias); qBias = nil; vBias = nil
        case .fusedQVBias:
            q = nil; k = nil; v = nil
            qkv = try Linear(dim, 3 * dim, bias: false)
            qBias = qkvBias ? try Tensor.zeros([dim]).requiresGrad(true) : nil
            vBias = qkvBias ? try Tensor.zeros([dim]).requiresGrad(true) : nil
        }
        proj = try Linear(dim, dim)
    }

    /// x: [N, L, D] → [N, L, D]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (n, l, d) = (x.size(0), x.size(1), x.size(2))
        let hd = d / heads
        let qh: Tensor, kh: Tensor, vh: Tensor
        if let qkv {
            var bias = qkv.bias
            if let qBias, let vBias {
                let k = try Tensor.zeros([d], dtype: qBias.dtype, device: qBias.device)
                bias = try Tensor.cat([qBias, k, vBias])
            }
            // [N, L, 3, H, hd] → [3, N, H, L, hd]
            let t = try linear(x, weight: qkv.computeWeight, bias: bias).reshape([n, l, 3, heads, hd]).permute(
                2, 0, 3, 1, 4)
            (qh, kh, vh) = (
                try t.select(dim: 0, index: 0), try t.select(dim: 0, index: 1), try t.select(dim: 0, index: 2)
            )
        } else {
            func split(_ y: Tensor) throws -> Tensor { try y.reshape([n, l, heads, hd]).transpose(1, 2) }
            (qh, kh, vh) = (try split(q!(x)), try split(k!(x)), try split(v!(x)))
        }
        let o = try scaledDotProductAttention(qh, kh, vh, dropoutP: training ? attnDrop : 0)  // [N, H, L, hd]
        return try projDrop(proj(o.transpose(1, 2).reshape([n, l, d])))
    }
}

/// fc1 → GELU (exact) → dropout → fc2 → dropout.
public final class Mlp: Module {
    public var training = true
    public let fc1: Linear, fc2: Linear
    public let drop: Dropout
    public init(_ dim: Int, hidden: Int, out: Int? = nil, drop: Double = 0) throws {
        fc1 = try Linear(dim, hidden)
        fc2 = try Linear(hidden, out ?? dim)
        self.drop = Dropout(drop)
    }
    public func callAsFunction(_ x: Tensor) throws -> Tensor { try drop(fc2(drop(gelu(fc1(x))))) }
}

/// Pre-norm transformer block: x + DropPath(Attn(LN(x))), then x + DropPath(MLP(LN(x))).
public final class Block: Module {
    public var training = true
    public let norm1: LayerNorm, attn: Attention, norm2: LayerNorm, mlp: Mlp
    public let dropPath: DropPath
    public init(
        dim: Int, heads: Int, mlpRatio: Double = 4, qkvBias: Bool = true, kBias: Bool? = nil,
        projection: Attention.Projection = .separate, drop: Double = 0, dropPath: Double = 0, eps: Double = 1e-6
    ) throws {
        norm1 = try LayerNorm(dim, eps: eps)
        attn = try Attention(
            dim: dim, heads: heads, qkvBias: qkvBias, kBias: kBias, projection: projection, projDrop: drop)
        norm2 = try LayerNorm(dim, eps: eps)
        mlp = try Mlp(dim, hidden: Int(Double(dim) * mlpRatio), drop: drop)
        self.dropPath = DropPath(dropPath)
    }
    /// x: [N, L, D]
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try x + dropPath(attn(norm1(x)))
        return try h + dropPath(mlp(norm2(h)))
    }
}
