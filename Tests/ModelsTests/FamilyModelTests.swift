import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// Sizes, shapes, init, errors and masking of TimeSformer / ViViT / MaskFeat.
struct FamilyModelTests {
    /// Full-size counts measured on the real modules without building 100M-parameter models in the test process
    /// (that would add ~2 GB to the suite and disturb the RSS leak check running concurrently): the registry's config
    /// with one block per stack, plus (depth − 1) × the count of one of its real blocks.
    func fullCount(_ name: String) throws -> Int {
        switch try FamilyRegistry.config(name) {
        case .timesformer(let c):
            let m = try TimeSformer(c.updating(["depth": 1]))
            return m.parameterCount + (c.depth - 1) * m.blocks[0].parameterCount
        case .vivit(let c):
            let m = try ViViT(c.updating(["depth": 1, "temporal_depth": min(c.temporalDepth, 1)]))
            return m.parameterCount + (c.depth - 1) * m.blocks[0].parameterCount
                + (c.model == "fact_encoder" ? (c.temporalDepth - 1) * m.temporalBlocks[0].parameterCount : 0)
        case .maskfeat(let c):
            let m = try MaskFeat(c.updating(["depth": 1]))
            return m.parameterCount + (c.depth - 1) * m.blocks[0].parameterCount
        }
    }

    /// TimeSformer-B/16, 8×224, K400: paper 121.4M. Ours (the released layout): 12 × (ViT block 7,087,872 + temporal
    /// norm/qkv/proj/fc 2,954,496) + patch conv 590,592 + cls 768 + pos 197·768 + time 8·768 + norm 1536 + head
    /// 307,600.
    @Test func timesformerBaseParameterCount() throws {
        let n = try fullCount("timesformer_base_patch16_224")
        #expect(n == 12 * (7_087_872 + 2_954_496) + 590_592 + 768 + 197 * 768 + 8 * 768 + 1536 + 307_600)
        #expect(n == 121_566_352)
        #expect(abs(Double(n) / 121.4e6 - 1) < 0.002)  // 0.14 % above the paper's rounded figure
        #expect(try fullCount("timesformer_base_patch16_224_joint") == 86_112_400)  // paper: 85.9M for space / joint ST
        #expect(try fullCount("timesformer_base_patch16_224_space_only") == 86_106_256)
        // the extrapolation is exact: a real 3-block model
        let three = try TimeSformer(
            TimeSformerConfig().updating(["depth": 3, "img_size": 64, "embed_dim": 96, "num_heads": 2]))
        let one = try TimeSformer(
            TimeSformerConfig().updating(["depth": 1, "img_size": 64, "embed_dim": 96, "num_heads": 2]))
        #expect(three.parameterCount == one.parameterCount + 2 * one.blocks[0].parameterCount)
    }

    /// ViViT-B/16×2, 32 frames, K400 (paper Table 2: ST 88.9M, FE 115.1M, FSA 117.3M).
    @Test func vivitBaseParameterCounts() throws {
        let fe = try fullCount("vivit_base_fe")
        // 16 blocks + tubelet conv 3·2·16·16·768+768 + cls, pos 197 + temporal cls, pos 17 + 2 norms + head
        #expect(fe == 16 * 7_087_872 + 1_180_416 + 768 + 197 * 768 + 768 + 17 * 768 + 2 * 1536 + 307_600)
        #expect(fe == 115_062_928 && abs(Double(fe) / 115.1e6 - 1) < 0.001)
        let st = try fullCount("vivit_base_st"), fsa = try fullCount("vivit_base_fsa")
        #expect(st == 88_954_000 && abs(Double(st) / 88.9e6 - 1) < 0.001)
        #expect(fsa == 117_319_312 && abs(Double(fsa) / 117.3e6 - 1) < 0.001)
        #expect(try fullCount("maskfeat_vit_base") == 86_478_444)
    }

    @Test func outputShapesAndErrors() throws {
        var tc = TimeSformerConfig()
        (tc.imgSize, tc.patchSize, tc.embedDim, tc.depth, tc.numHeads, tc.numFrames, tc.numClasses) = (
            32, 8, 32, 2, 2, 4, 7
        )
        for type in TimeSformerConfig.attentionTypes {
            tc.attentionType = type
            let m = try TimeSformer(tc)
            #expect(try m(Tensor.randn([2, 3, 4, 32, 32])).shape == [2, 7], "\(type)")
        }
        #expect { try TimeSformer(tc)(Tensor.randn([2, 3, 5, 32, 32])) } throws: {
            "\($0)".contains("[N, 3, 4, 32, 32]")
        }
        tc.attentionType = "axial"
        #expect { try TimeSformer(tc) } throws: { "\($0)".contains("axial") }

        var vc = ViViTConfig()
        (vc.imgSize, vc.patchSize, vc.embedDim, vc.depth, vc.temporalDepth, vc.numHeads, vc.numFrames, vc.numClasses) =
            (32, 8, 32, 2, 1, 2, 8, 7)
        for model in ViViTConfig.models {
            vc.model = model
            #expect(try ViViT(vc)(Tensor.randn([2, 3, 8, 32, 32])).shape == [2, 7], "\(model)")
        }
        vc.model = "fdp"
        #expect { try ViViT(vc) } throws: { "\($0)".contains("fdp") }

        var mc = MaskFeatConfig()
        (mc.imgSize, mc.embedDim, mc.depth, mc.numHeads, mc.numFrames) = (32, 32, 1, 2, 4)
        let mf = try MaskFeat(mc)
        let mask = try mf.makeMask(batch: 2, seed: 3)
        #expect(mask.shape == [2, 8] && mf.centreFrames == [1, 3])
        let (loss, pred, target) = try mf(Tensor.randn([2, 3, 4, 32, 32]), mask: mask)
        #expect(pred.shape == [2, 8, 108] && target.shape == [2, 8, 108])
        #expect(try loss.item() > 0)
        #expect { try mf(Tensor.randn([2, 3, 4, 32, 32]), mask: Tensor.zeros([2, 9])) } throws: {
            "\($0)".contains("[2, 8]")
        }
        mc.hogCell = 5
        #expect(throws: ConfigError.self) { try MaskFeat(mc) }
    }

    @Test func initialisation() throws {
        var tc = TimeSformerConfig()
        (tc.imgSize, tc.embedDim, tc.depth, tc.numHeads) = (64, 192, 2, 3)
        let m = try TimeSformer(tc, generator: Generator(seed: 5))
        for b in m.blocks {
            #expect(try maxAbs(b.temporalFc!.weight) == 0)
            #expect(try maxAbs(b.temporalFc!.bias!) == 0)
        }
        #expect(try maxAbs(m.timeEmbed!) == 0)
        #expect(abs(try m.posEmbed.variance().item().squareRoot() - 0.02) < 0.003)
        #expect(abs(try m.blocks[0].attn.qkv!.weight.variance().item().squareRoot() - 0.02) < 0.002)
        let again = try TimeSformer(tc, generator: Generator(seed: 5))
        #expect(try maxRel(again.blocks[1].mlp.fc1.weight, m.blocks[1].mlp.fc1.weight) == 0)
    }

    /// Cube masks: exactly round(0.4·L) tokens per sample, deterministic per seed, and block-shaped: a masked token's
    /// successor in time is masked far more often than the ratio (≈ 0.4 for independent masking).
    @Test func cubeMasking() throws {
        let (t, g) = (8, 14)
        let m = try cubeMask(batch: 4, tGrid: t, hGrid: g, wGrid: g, ratio: 0.4, seed: 11)
        let l = t * g * g
        let v = try m.toArray(Float.self)
        for i in 0 ..< 4 { #expect(v[(i * l) ..< ((i + 1) * l)].reduce(0, +) == Float((0.4 * Double(l)).rounded())) }
        #expect(
            try m.toArray(Float.self)
                == cubeMask(batch: 4, tGrid: t, hGrid: g, wGrid: g, ratio: 0.4, seed: 11).toArray(Float.self))
        #expect(
            try m.toArray(Float.self)
                != cubeMask(batch: 4, tGrid: t, hGrid: g, wGrid: g, ratio: 0.4, seed: 12).toArray(Float.self))
        #expect(v[0 ..< l] != v[l ..< (2 * l)])
        var both = 0.0, first = 0.0
        for i in 0 ..< 4 {
            for tt in 0 ..< (t - 1) {
                for s in 0 ..< (g * g) {
                    let a = v[i * l + tt * g * g + s], b = v[i * l + (tt + 1) * g * g + s]
                    first += Double(a); both += Double(a * b)
                }
            }
        }
        #expect(both / first > 0.6, "P(masked at t+1 | masked at t) = \(both / first)")
        #expect(throws: ConfigError.self) { try cubeMask(batch: 1, tGrid: 2, hGrid: 2, wGrid: 2, ratio: 1, seed: 0) }
    }

    /// A vertical edge has a horizontal gradient: orientation 0°, all HOG energy in bin 0 of the cells on the edge.
    @Test func hogOfAnEdge() throws {
        var px = [Float](repeating: 0, count: 16 * 16)
        for r in 0 ..< 16 { for c in 8 ..< 16 { px[r * 16 + c] = 1 } }
        let h = try HOG()(Tensor(px, shape: [1, 1, 16, 16]))  // one 16×16 patch: 2×2 cells × 9 bins
        let v = try h.toArray(Float.self)
        #expect(h.shape == [1, 1, 36])
        for cell in 0 ..< 4 {
            #expect(v[cell * 9 + 0] > 0.4 && v[(cell * 9 + 1) ..< (cell * 9 + 9)].allSatisfy { $0 == 0 })
        }
        #expect(abs(v.map { Double($0 * $0) }.reduce(0, +) - 1) < 1e-6)  // L2-normalised
    }
}

/// The engine-facing protocols: the same generator state gives the same loss; MAE's equals its explicit form.
struct ModelProtocolTests {
    @Test func pretrainLossIsReproducible() throws {
        var mc = MaskFeatConfig()
        (mc.imgSize, mc.embedDim, mc.depth, mc.numHeads, mc.numFrames) = (32, 32, 1, 2, 4)
        let mf: any PretrainModel = try MaskFeat(mc, generator: Generator(seed: 1))
        let x = try Tensor.randn([2, 3, 4, 32, 32], generator: Generator(seed: 2))
        let a = try mf.pretrainLoss(x, generator: Generator(seed: 3)).item()
        #expect(try mf.pretrainLoss(x, generator: Generator(seed: 3)).item() == a)
        #expect(try mf.pretrainLoss(x, generator: Generator(seed: 4)).item() != a)

        var cfg = try MAEConfig.named("mae_vit_tiny")
        cfg.depth = 1; cfg.decoderDepth = 1
        let mae = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 1))
        let v = try Tensor.randn([2, 3, 8, 64, 64], generator: Generator(seed: 2))
        let explicit = try mae(v, noise: mae.makeNoise(batch: 2, generator: Generator(seed: 5))).loss.item()
        #expect(try mae.pretrainLoss(v, generator: Generator(seed: 5)).item() == explicit)
    }

    @Test func classifiersFromTheRegistry() throws {
        let (m, _) = try FamilyRegistry.classifier("timesformer_tiny", overrides: ["num_classes": 4])
        let c = try #require(m as? any VideoClassifier)
        #expect(c.numClasses == 4)
        #expect(try c.logits(Tensor.randn([1, 3, 8, 64, 64])).shape == [1, 4])
        #expect { try FamilyRegistry.classifier("maskfeat_vit_tiny") } throws: { "\($0)".contains("pre-training") }
        #expect { try FamilyRegistry.make("vivit_huge") } throws: { "\($0)".contains("vivit_base_fe") }
        #expect { try FamilyRegistry.make("vivit_tiny_fe", overrides: ["num_classs": 3]) } throws: {
            "\($0)".contains("num_classs")
        }
        #expect(FamilyRegistry.kind(of: "maskfeat_vit_base") == .pretrainer)
    }
}

/// A few optimizer steps on one batch: every family model fits it (the loss falls well below its start).
struct FamilyTrainingSmokeTests {
    func fit(_ m: Module, steps: Int = 25, lr: Double = 3e-3, _ loss: () throws -> Tensor) throws -> (Double, Double) {
        let opt = AdamW(paramGroups(m.namedParameters(), weightDecay: 0.05), lr: lr)
        var first = 0.0, last = 0.0
        for i in 0 ..< steps {
            let l = try loss()
            if i == 0 { first = try l.item() }
            last = try l.item()
            try l.backward()
            try opt.step()
            try opt.zeroGrad()
        }
        return (first, last)
    }

    /// Stochastic depth is live in train mode and off in eval mode for every family model.
    @Test(arguments: ["timesformer_tiny", "vivit_tiny_fe"])
    func dropPathOnlyInTraining(_ name: String) throws {
        let (m, forward) = try FamilyRegistry.classifier(
            name, overrides: ["drop_path_rate": 0.5, "img_size": 32, "embed_dim": 32, "num_heads": 2])
        let x = try Tensor.randn([4, 3, 8, 32, 32])
        m.train()
        #expect(try maxRel(forward(x), forward(x)) > 1e-4)
        m.eval()
        #expect(try maxRel(forward(x), forward(x)) == 0)
    }

    @Test func maskfeatLearnsHOG() throws {
        var c = MaskFeatConfig()
        (c.imgSize, c.embedDim, c.depth, c.numHeads, c.numFrames) = (32, 32, 2, 2, 4)
        let m = try MaskFeat(c, generator: Generator(seed: 1))
        let x = try Tensor.randn([2, 3, 4, 32, 32], generator: Generator(seed: 2))
        let mask = try m.makeMask(batch: 2, seed: 9)
        let (a, b) = try fit(m) { try m(x, mask: mask).loss }
        #expect(b < 0.5 * a, "MaskFeat loss \(a) → \(b)")
    }

    @Test(arguments: ["timesformer_tiny", "vivit_tiny_fe"])
    func classifiersFitABatch(_ name: String) throws {
        var overrides: [String: Any] = ["img_size": 32, "embed_dim": 32, "depth": 2, "num_heads": 2, "num_classes": 3]
        if name.hasPrefix("vivit") { overrides["temporal_depth"] = 1 }
        let (m, forward) = try FamilyRegistry.classifier(name, overrides: overrides, generator: Generator(seed: 1))
        let x = try Tensor.randn([3, 3, 8, 32, 32], generator: Generator(seed: 2))  // both tiny configs: 8 frames
        let y = try Tensor([Int64(0), 1, 2], shape: [3])
        let (a, b) = try fit(m) { try crossEntropy(forward(x), y) }
        #expect(b < 0.2 * a, "\(name) loss \(a) → \(b)")
    }
}
