import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// timm SoftTargetCrossEntropy: mean_n Σ_c −t·log_softmax(logits).
func softTargetCE(_ logits: Tensor, _ target: Tensor) throws -> Tensor {
    try (target.neg() * logSoftmax(logits, dim: -1)).sum(dims: [-1]).mean()
}

/// VisionTransformer against the PyTorch reference (reference/models_vit.py): logits, label-smoothed CE and
/// soft-target (mixup) losses, d loss / d logits of both, every parameter gradient of the CE loss and the head
/// gradients of the soft loss, within 1e-4 relative (fp32).
struct ViTParityTests {
    static let cases = ["vit_global_pool", "vit_cls_pool", "vit_joint_cls", "vit_videomae_hf"]

    @Test(arguments: cases)
    func parity(_ name: String) throws {
        let c = try Case(name)
        let model = try VisionTransformer(ViTConfig().updating(c.kwargs))
        try model.loadStateDict(c.params)  // strict: the key sets are identical
        model.eval()
        #expect(c.meta["label_smoothing"] == "0.1")
        let x = c.t["input.x"]!, label = c.t["input.label"]!, soft = c.t["input.soft_target"]!
        let losses: [(String, (Tensor) throws -> Tensor)] = [
            ("ce", { try crossEntropy($0, label, labelSmoothing: 0.1) }), ("soft", { try softTargetCE($0, soft) })
        ]
        for (tag, lossFn) in losses {
            try model.zeroGrad()
            let logits = try model(x)
            #expect(try maxRel(logits, c.t["out.logits"]!) < 1e-4, "\(name): logits")
            // d loss / d logits through a leaf copy, then the rest of the graph.
            let leaf = try logits.detach().requiresGrad(true)
            let loss = try lossFn(leaf)
            let (l0, l1) = (try loss.item(), try c.t["out.loss_\(tag)"]!.item())
            #expect(abs(l0 - l1) <= 1e-4 * abs(l1), "\(name): loss_\(tag) \(l0) vs \(l1)")
            try loss.backward()
            let dlogits = leaf.grad!
            #expect(try maxRel(dlogits, c.t["out.dlogits_\(tag)"]!) < 1e-4, "\(name): dlogits_\(tag)")
            try logits.backward(gradient: dlogits)
            let prefix = tag == "ce" ? "grad." : "grad_soft."
            var checked = 0
            for (key, p) in model.namedParameters() {
                guard let ref = c.t[prefix + key] else {
                    if tag == "ce" { Issue.record("\(name): no reference gradient for \(key)") }
                    continue
                }
                guard let g = p.grad else { Issue.record("\(name): no gradient for \(key)"); continue }
                if try maxAbs(ref) < 1e-6 {
                    #expect(try maxAbs(g) < 1e-5, "\(name): grad \(key) should be ~0")  // attn.k.bias: shift-invariant
                } else {
                    let d = try maxRel(g, ref)
                    #expect(d < 1e-4, "\(name): \(prefix)\(key) differs by \(d)")
                }
                checked += 1
            }
            #expect(checked == (tag == "ce" ? c.params.count : 2), "\(name): \(tag) checked \(checked)")
        }
    }

    @Test func keysMatchTheMAEEncoder() throws {
        var mae = try MAEConfig.named("mae_vit_small_patch16")
        mae.depth = 2; mae.decoderDepth = 1; mae.imgSize = 32; mae.numFrames = 4; mae.predTDim = 4
        let encoderKeys = Set(
            try MaskedAutoencoderViT(mae).namedTensors().map(\.0).filter {
                !$0.hasPrefix("decoder") && $0 != "mask_token"
            })
        var cfg = ViTConfig.encoder(of: mae)
        cfg.numClasses = 7
        let vit = try VisionTransformer(cfg)
        let own = Set(vit.namedTensors().map(\.0))
        #expect(own.subtracting(encoderKeys) == ["fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"])
        #expect(encoderKeys.subtracting(own) == ["norm.weight", "norm.bias"])
        cfg.globalPool = false
        #expect(
            Set(try VisionTransformer(cfg).namedTensors().map(\.0)).subtracting(encoderKeys) == [
                "head.weight", "head.bias"
            ])
        cfg.clsEmbed = false
        #expect { try VisionTransformer(cfg) } throws: { "\($0)".contains("cls_embed") }
    }

    @Test func parameterCountsOfNamedModels() throws {
        // Per block: 4·(D²+D) attention + 2·4D² + 4D + D MLP + 4D norms = 12D² + 13D.
        func block(_ d: Int) -> Int { 12 * d * d + 13 * d }
        let cases: [(String, Int, Int, Int, Int)] = [  // name, D, depth, patch, _
            ("vit_small_patch16", 384, 12, 16, 0), ("vit_base_patch16", 768, 12, 16, 0),
            ("vit_large_patch16", 1024, 24, 16, 0)
        ]
        let h = try ViTConfig.named("vit_huge_patch14")  // 632M parameters: too slow to build in a debug test
        #expect((h.embedDim, h.depth, h.numHeads, h.patchSize) == (1280, 32, 16, 14))
        for (name, d, depth, p, _) in cases {
            let c = try ViTConfig.named(name)
            let m = try VisionTransformer(c)
            let s = (224 / p) * (224 / p)
            let patch = 3 * 2 * p * p * d + d
            let pos = (s + 8 + 1) * d + d  // spatial + temporal + class, cls token
            let expected = depth * block(d) + patch + pos + 2 * d + (d * 400 + 400)
            #expect(m.parameterCount == expected, "\(name): \(m.parameterCount) vs \(expected)")
        }
        // ViT-B/16 video classifier at 16×224, 400 classes, cls + separable pos (reference/models_vit.py counts the
        // same).
        #expect(try VisionTransformer(ViTConfig.named("vit_base_patch16")).parameterCount == 86_702_224)
        // HF-style VideoMAE-B: no cls, no learned pos, no k bias (reference: 86,534,800).
        let hf = try VisionTransformer(ViTConfig.named("videomae_vit_base_patch16"))
        #expect(hf.parameterCount == 12 * (block(768) - 768) + 3 * 2 * 256 * 768 + 768 + 2 * 768 + 768 * 400 + 400)
        #expect(hf.namedTensors().allSatisfy { !$0.0.contains("pos_embed") && !$0.0.hasSuffix("attn.k.bias") })
        #expect(hf.blocks[0].norm1.eps == 1e-12 && hf.fcNorm!.eps == 1e-5)
        #expect(throws: ConfigError.self) { try ViTConfig.named("vit_gigantic") }
        #expect(throws: ConfigError.self) { try ViTConfig.named("videomae_vit_huge_patch14") }
    }

    @Test func dropPathIsLinearAndTrainingOnly() throws {
        var c = try ViTConfig.named("vit_small_patch16")
        (c.depth, c.imgSize, c.numFrames, c.numClasses, c.dropPathRate, c.dropout) = (5, 32, 4, 3, 0.2, 0)
        let m = try VisionTransformer(c)
        let rates = m.blocks.map(\.dropPath.p)
        for (r, e) in zip(rates, [0, 0.05, 0.1, 0.15, 0.2]) { #expect(abs(r - e) < 1e-12) }
        let x = try Tensor.randn([4, 3, 4, 32, 32])
        m.eval()
        let a = try m(x), b = try m(x)
        #expect(try maxRel(a, b) == 0)  // eval: deterministic
        m.train()
        #expect(try maxRel(m(x), a) > 1e-3)  // training: some residual branches dropped
    }

    @Test func initStatistics() throws {
        var c = try ViTConfig.named("vit_small_patch16")
        (c.depth, c.numClasses) = (2, 1000)
        let m = try VisionTransformer(c, generator: Generator(seed: 3))
        #expect(abs(try m.head.weight.variance().item().squareRoot() - 0.02) < 0.001)
        #expect(try m.head.bias!.abs().sum().item() == 0)
        try m.initializeHead(std: 2e-5, generator: Generator(seed: 4))
        let sd = try m.head.weight.variance().item().squareRoot()
        #expect(abs(sd - 2e-5) < 1e-6)
        #expect(try m.fcNorm!.weight.sum().item() == 384)
    }

    /// mae_st's `get_layer_id_for_vit`: embeddings 0, block i → i + 1, the rest depth + 1.
    @Test func layerIdsForLayerDecay() {
        let ids = [
            "cls_token", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class", "patch_embed.proj.weight",
            "blocks.0.norm1.weight", "blocks.11.mlp.fc2.bias", "fc_norm.weight", "norm.bias", "head.weight"
        ]
        .map { VisionTransformer.layerId($0, depth: 12) }
        #expect(ids == [0, 0, 0, 0, 0, 1, 12, 13, 13, 13])
    }

    /// bf16 autocast (fine-tuning with --bf16): float32 logits within bf16 accuracy of the fp32 forward, and a
    /// backward.
    @Test func bf16AutocastForwardBackward() throws {
        for name in Self.cases {
            let c = try Case(name)
            let model = try VisionTransformer(ViTConfig().updating(c.kwargs))
            try model.loadStateDict(c.params)
            model.eval()
            let logits = try withAutocast { try model(c.t["input.x"]!) }.to(.float32)
            let d = try maxRel(logits, c.t["out.logits"]!)
            #expect(d < 5e-2 && d > 1e-5, "\(name): bf16 logits differ by \(d) (> 0: autocast is on)")
            try crossEntropy(logits, c.t["input.label"]!).backward()
            #expect(model.head.weight.grad != nil && model.patchEmbed.proj.weight.grad != nil)
        }
    }
}
