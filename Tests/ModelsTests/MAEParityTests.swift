import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

func maxAbs(_ a: Tensor) throws -> Double { try a.to(.float64).toArray(Double.self).map(abs).max() ?? 0 }

/// A fixture case: tensors by key and its config kwargs.
struct Case {
    let t: [String: Tensor]
    let meta: [String: String]
    let kwargs: [String: Any]
    init(_ name: String) throws {
        let (ts, meta) = try TensorFile.loadOrdered(fixturePath(name + ".safetensors", in: .module))
        t = Dictionary(uniqueKeysWithValues: ts)
        self.meta = meta
        kwargs = try JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]
    }
    /// `param.*` → state dict.
    var params: [String: Tensor] {
        Dictionary(
            uniqueKeysWithValues: t.compactMap { k, v in k.hasPrefix("param.") ? (String(k.dropFirst(6)), v) : nil })
    }
}

/// MaskedAutoencoderViT against the PyTorch reference (reference/models_mae_st.py): loss, pred, mask, ids, latent and
/// every parameter gradient within 1e-4 relative (fp32).
struct MAEParityTests {
    static let cases = [
        "mae_random", "mae_random_normpix", "mae_tube", "mae_temporal", "mae_boundary", "mae_time_slice",
        "mae_window", "mae_sincos", "mae_joint", "mae_joint_cls", "mae_pred8_f16_cls", "mae_pred16_f16"
    ]

    @Test(arguments: cases)
    func parity(_ name: String) throws {
        let c = try Case(name)
        let model = try MaskedAutoencoderViT(MAEConfig().updating(c.kwargs))
        try model.loadStateDict(c.params)  // strict: key sets must be identical
        if let pe = c.t["buffer.pos_embed"] { #expect(try maxRel(model.sincosPosEmbed!.value, pe) < 1e-6) }
        if let pe = c.t["buffer.decoder_pos_embed"] {
            #expect(try maxRel(model.decoderSincosPosEmbed!.value, pe) < 1e-6)
        }
        let x = c.t["input.x"]!, noise = c.t["input.noise"]!
        let m = try masking(
            model.maskType, noise: noise, ratio: model.config.maskRatio, tGrid: model.tGrid, sGrid: model.sGrid)
        #expect(try m.idsKeep.toArray(Int64.self) == c.t["out.ids_keep"]!.toArray(Int64.self), "\(name): ids_keep")
        #expect(
            try m.idsRestore.toArray(Int64.self) == c.t["out.ids_restore"]!.toArray(Int64.self), "\(name): ids_restore")
        #expect(try model.targetFrameIndices().toArray(Int64.self) == c.t["out.target_frames"]!.toArray(Int64.self))
        let latent = try model.forwardEncoder(x, idsKeep: m.idsKeep)
        #expect(try maxRel(latent, c.t["out.latent"]!) < 1e-4, "\(name): latent")
        if let target = c.t["out.target"] { #expect(try maxRel(model.forwardTarget(x), target) < 1e-4) }

        let (loss, pred, mask) = try model(x, noise: noise)
        let (l0, l1) = (try loss.item(), try c.t["out.loss"]!.item())
        #expect(abs(l0 - l1) <= 1e-4 * abs(l1), "\(name): loss \(l0) vs \(l1)")
        #expect(try maxRel(pred, c.t["out.pred"]!) < 1e-4, "\(name): pred")
        #expect(try maxRel(mask, c.t["out.mask"]!) == 0, "\(name): mask")
        try loss.backward()
        try expectGradients(model, c, name)
    }

    /// The kept-patch embedding (a linear over the gathered patches) equals gathering the convolution's tokens, for
    /// t_patch 2 and a non-square set of kept ids per sample; its gradient reaches the conv weight and bias.
    @Test func keptPatchEmbeddingEqualsTheConvolution() throws {
        let pe = try PatchEmbed(imgSize: 32, patchSize: 8, embedDim: 24, numFrames: 4, tPatchSize: 2)  // L = 2·16
        let x = try Tensor.randn([2, 3, 4, 32, 32])
        let ids = try Tensor.randn([2, pe.numPatches]).argsort(dim: 1).slice(dim: 1, end: 5)
        let full = try gatherTokens(pe(x).reshape([2, pe.numPatches, 24]), ids)
        let kept = try pe(x, keeping: ids)
        #expect(kept.shape == [2, 5, 24])
        #expect(try maxRel(kept, full) < 1e-5)
        try (kept * kept).sum().backward()
        let (gw, gb) = (try #require(pe.proj.weight.grad), try #require(pe.proj.bias?.grad))
        for p in [pe.proj.weight, pe.proj.bias!] { try p.setGrad(nil) }
        try (full * full).sum().backward()
        #expect(try maxRel(gw, #require(pe.proj.weight.grad)) < 1e-5 && maxRel(gb, #require(pe.proj.bias?.grad)) < 1e-5)
        #expect(throws: TorchError.self) { try pe(x.slice(dim: 2, end: 2), keeping: ids) }
    }

    @Test func patchifyRoundTripAndShapes() throws {
        var cfg = try MAEConfig.named("mae_vit_tiny")
        cfg.predTDim = 8
        let model = try MaskedAutoencoderViT(cfg)
        let x = try Tensor.randn([2, 3, 8, 64, 64])
        let p = try model.patchify(x.indexSelect(dim: 2, index: model.targetFrameIndices()))
        #expect(p.shape == [2, 4 * 16, 2 * 16 * 16 * 3])  // u = t_patch·pred_t_dim/T = 2
        #expect(try maxRel(model.unpatchify(p), x) == 0)
        let (loss, pred, mask) = try model(x, noise: model.makeNoise(batch: 2))
        #expect(pred.shape == [2, 64, 1536] && mask.shape == [2, 64])
        #expect(try mask.sum().item() == Double(2 * (64 - Int(64 * 0.1))))
        #expect(try loss.item() > 0)
    }

    @Test func parameterCountsOfStandardSizes() throws {
        // ViT-B/16 encoder at 16×224 with t_patch 2 and mae_st's decoder (512 × 8): 111.8M incl. decoder.
        var cfg = try MAEConfig.named("mae_vit_base_patch16")
        cfg.decoderDepth = 8
        let m = try MaskedAutoencoderViT(cfg)
        let encoder = m.namedParameters().filter { !$0.0.hasPrefix("decoder") && $0.0 != "mask_token" }.reduce(0) {
            $0 + $1.1.count
        }
        // 12 blocks × 7,087,872 + patch conv 3·2·16·16·768+768 + pos (196+8+1)·768 + cls 768 + norm 1536
        #expect(encoder == 12 * 7_087_872 + 1_180_416 + 205 * 768 + 768 + 1536)
        #expect(throws: ConfigError.self) { try MAEConfig.named("vit_gigantic") }
        var bad = cfg
        bad.maskType = "checkerboard"
        #expect { try MaskedAutoencoderViT(bad) } throws: { "\($0)".contains("checkerboard") }
    }

    @Test func initStatistics() throws {
        var cfg = try MAEConfig.named("mae_vit_small_patch16")
        cfg.depth = 2; cfg.decoderDepth = 1
        let m = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 1))
        let std = try m.posEmbedSpatial!.variance().item().squareRoot()
        #expect(abs(std - 0.02) < 0.002)
        #expect(try m.decoderClsToken!.abs().sum().item() == 0)
        let w = m.blocks[0].attn.q!.weight
        let bound = (6.0 / Double(384 + 384)).squareRoot()
        #expect(try w.abs().amax(dims: [0, 1]).item() <= bound)
        #expect(try m.blocks[0].attn.q!.bias!.abs().sum().item() == 0)
        #expect(try m.norm.weight.sum().item() == 384)
    }
}
