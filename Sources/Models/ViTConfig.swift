/// Hyper-parameters of the video `VisionTransformer` classifier (reference/models_vit.py constructor arguments).
/// Defaults: ViT-B/16, 16 frames, mae_st fine-tuning (cls token, separable learned positions, global pool, dropout
/// 0.5).
public struct ViTConfig: ViTSized, Codable, Equatable, Sendable {
    public var dims = ModelSize.base.dims
    public var tPatchSize = 2
    public var inChans = 3
    public var numClasses = 400
    public var mlpRatio = 4.0
    public var qkvBias = true
    /// Bias of `attn.k`; nil = `qkvBias` (HF VideoMAE: false, q and v biased only).
    public var kBias: Bool? = nil
    /// Dropout after attn.proj and in the MLP.
    public var dropRate = 0.0
    /// Stochastic depth; block i drops its residual branches with rate·i/(depth−1).
    public var dropPathRate = 0.0
    /// Dropout before `head`.
    public var dropout = 0.5
    /// Learned separable positions (mae_st default); false: one learned joint table (see `posEmbedType`).
    public var sepPosEmbed = true
    /// Fixed VideoMAE sinusoid positions (overrides `sepPosEmbed`).
    public var sincosPosEmbed = false
    public var clsEmbed = true
    /// Mean over patch tokens → post-pool norm (true), or cls token after `norm` (false, needs cls_embed).
    public var globalPool = true
    /// With global pool: the post-pool LayerNorm is `fc_norm` (image MAE, HF VideoMAE), or `norm` (false: mae_st's
    /// `models_vit.VisionTransformer.forward`, `x[:, 1:].mean(1)` → `self.norm`, loaded from the MAE encoder's
    /// `norm`).
    public var fcNorm = true
    public var normEps = 1e-6
    /// Eps of `fc_norm`; nil = `normEps` (HF VideoMAE: 1e-5, blocks 1e-12).
    public var fcNormEps: Double? = nil

    public init() {}

    public var posEmbedType: PosEmbedType { PosEmbedType(sepPosEmbed: sepPosEmbed, sincosPosEmbed: sincosPosEmbed) }

    /// Switches to the HF VideoMAE layout (keeps the sizes).
    public mutating func makeVideoMAE() {
        sepPosEmbed = false; sincosPosEmbed = true; clsEmbed = false; globalPool = true; kBias = false
        normEps = 1e-12; fcNormEps = 1e-5
    }

    /// The classifier matching a pre-training config's encoder.
    public static func encoder(of m: MAEConfig) -> ViTConfig {
        var c = ViTConfig()
        (c.dims, c.tPatchSize, c.inChans, c.mlpRatio, c.qkvBias) = (
            m.dims, m.tPatchSize, m.inChans, m.mlpRatio, m.qkvBias
        )
        (c.sepPosEmbed, c.sincosPosEmbed, c.clsEmbed, c.normEps) = (
            m.sepPosEmbed, m.sincosPosEmbed, m.clsEmbed, m.normEps
        )
        return c
    }
}
