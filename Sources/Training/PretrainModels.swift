import Foundation
import Models
import Torch

/// `--model` of `stmae pretrain`: an MAE (`mae_vit_*`, mae_st) or a family pre-training model (`maskfeat_vit_*`).
/// TimeSformer / ViViT names are classifiers and belong to `stmae finetune`.
extension PretrainConfig {
    /// True for the MAE-ST names (and unknown ones, which `maeConfig` reports).
    public var isMAE: Bool { ModelCatalog.entry(model, for: .pretrainer)?.isMAE ?? true }

    /// The MaskFeat configuration of a `maskfeat_*` model with these settings' data and size overrides.
    public func maskFeatConfig() throws -> MaskFeatConfig {
        var kw: [String: Any] = [
            "img_size": imgSize, "num_frames": numFrames, "t_patch_size": tPatchSize, "cls_embed": clsEmbed
        ]
        if patchSize > 0 { kw["patch_size"] = patchSize }
        if embedDim > 0 { kw["embed_dim"] = embedDim }
        if depth > 0 { kw["depth"] = depth }
        if numHeads > 0 { kw["num_heads"] = numHeads }
        if maskRatio > 0 { kw["mask_ratio"] = maskRatio }
        guard case .maskfeat(let c) = try ModelCatalog.named(model, for: .pretrainer).config(overrides: kw) else {
            throw ConfigError("--model \(model) is not a pre-training model")
        }
        return c
    }

    /// Checks the settings of a family model (`checkCombination` calls this for non-MAE names).
    func validateFamily() throws {
        func need(_ ok: Bool, _ msg: String) throws { if !ok { throw ConfigError(msg) } }
        try need(
            ModelCatalog.entry(model, for: .pretrainer)?.kind == .pretrainer,
            "--model \(model) is a video classifier (TimeSformer/ViViT), not a pre-training model: fine-tune it "
                + "with `stmae finetune --model \(model)`"
        )
        let maeOnly = [
            ("--decoder_embed_dim", decoderEmbedDim > 0), ("--decoder_depth", decoderDepth > 0),
            ("--decoder_num_heads", decoderNumHeads > 0), ("--pred_t_dim", predTDim > 0),
            ("--norm_pix_loss", normPixLoss), ("--decoder_mask_ratio", decoderMaskRatio > 0),
            ("--mask_type", maskType != "random"), ("--no_sep_pos_embed", !sepPosEmbed),
            ("--sincos_pos_embed", sincosPosEmbed)
        ]
        let set = maeOnly.filter(\.1).map(\.0)
        try need(
            initFrom.isEmpty || FileManager.default.fileExists(atPath: initFrom),
            "--init_from \(initFrom): no such file or directory")
        try need(
            set.isEmpty,
            "\(set.joined(separator: ", ")) apply to MAE models (mae_vit_*) only, not --model \(model) (MaskFeat "
                + "uses cube masking and HOG targets)"
        )
        let c = try maskFeatConfig()
        try checkModelSizes(
            embedDim: c.embedDim, numHeads: c.numHeads, imgSize: c.imgSize, patchSize: c.patchSize,
            numFrames: c.numFrames, tPatchSize: c.tPatchSize)
        try need(
            c.patchSize % c.hogCell == 0,
            "--patch_size \(c.patchSize) must be a multiple of MaskFeat's HOG cell (\(c.hogCell) px)")
        let l = (c.numFrames / c.tPatchSize) * (c.imgSize / c.patchSize) * (c.imgSize / c.patchSize)
        let masked = Int((c.maskRatio * Double(l)).rounded(.toNearestOrAwayFromZero))
        try need(
            masked > 0 && masked < l,
            "--mask_ratio \(c.maskRatio) masks \(masked) of \(l) tokens: MaskFeat needs at least one masked and "
                + "one visible token"
        )
    }

    /// The model these settings describe, initialised from `generator`, then (MaskFeat, `--init_from`) from an image
    /// ViT (patch kernel inflated, centre frame) or a video MAE encoder.
    public func makeModel(generator: Generator?) throws -> any PretrainModel {
        if isMAE { return try MaskedAutoencoderViT(maeConfig(), generator: generator) }
        let m = try MaskFeat(maskFeatConfig(), generator: generator)
        if !initFrom.isEmpty {
            let flag = "--init_from \(initFrom)"
            RunLog.info(
                try naming(flag) {
                    try initialiseFamily(
                        m, from: readFamilyState(initFrom), inflation: .centre, temporal: .copy, flag: flag)
                })
        }
        return m
    }

    /// Parameters kept out of weight decay besides 1-D tensors and `.bias` (see `paramGroups`). mae_st's
    /// `util.misc.add_weight_decay` decays positions, `cls_token` and `mask_token`; `--no_wd_pos_embed` exempts them,
    /// as MaskFeat's recipe (SlowFast `no_weight_decay`) does by default.
    public func weightDecaySkip(_ model: any PretrainModel) -> Set<String> {
        guard noWdPosEmbed || !isMAE else { return [] }
        return Set(
            model.namedParameters().map(\.0).filter {
                $0.contains("pos_embed") || $0.hasSuffix("cls_token") || $0 == "mask_token"
            })
    }

    /// Matmul FLOPs of one training step per clip (forward + backward), for MFU.
    public func trainFlopsPerClip() throws -> Double {
        isMAE ? maeTrainFlopsPerClip(try maeConfig()) : maskFeatTrainFlopsPerClip(try maskFeatConfig())
    }
}

/// Matmul FLOPs of one MaskFeat training step per clip: every token (masked ones carry the mask token) goes through
/// the encoder, then the HOG prediction head; forward + backward ≈ 3× forward.
public func maskFeatTrainFlopsPerClip(_ c: MaskFeatConfig) -> Double {
    let p = Double(c.patchSize), d = Double(c.embedDim), r = c.mlpRatio
    let l = Double((c.imgSize / c.patchSize) * (c.imgSize / c.patchSize) * (c.numFrames / c.tPatchSize))
    let n = l + (c.clsEmbed ? 1 : 0)
    let hogDim = Double(c.inChans * (c.patchSize / c.hogCell) * (c.patchSize / c.hogCell) * c.hogOrientations)
    var f = 2 * l * Double(c.inChans * c.tPatchSize) * p * p * d  // patch embedding
    f += Double(c.depth) * (2 * n * (4 + 2 * r) * d * d + 4 * n * n * d)  // blocks
    f += 2 * l * d * hogDim  // pred_head
    return 3 * f
}
