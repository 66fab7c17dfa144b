import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// The three positional layouts (`PosEmbedType`): keys, selection, loading, resizing and conversion of mae_st's learned
/// joint table (`sep_pos_embed` false). Forward/backward parity: MAEParityTests `mae_joint*`, ViTParityTests
/// `vit_joint_cls`.
struct JointPosEmbedTests {
    /// 8×8 pixels, patch 2, 4 frames, t_patch 2: grid 2 × 4 × 4, L = 32.
    static func tinyMAE(_ type: PosEmbedType, cls: Bool = true) throws -> MAEConfig {
        var c = try MAEConfig.named("mae_vit_tiny")
        (c.embedDim, c.depth, c.numHeads, c.imgSize, c.patchSize, c.numFrames, c.predTDim) = (32, 2, 2, 8, 2, 4, 4)
        (c.decoderEmbedDim, c.decoderDepth, c.decoderNumHeads, c.clsEmbed) = (16, 1, 2, cls)
        (c.sepPosEmbed, c.sincosPosEmbed) = (type == .separable, type == .sinusoid)
        return c
    }

    @Test func layoutsHaveMaeStKeys() throws {
        #expect(PosEmbedType(sepPosEmbed: true, sincosPosEmbed: false) == .separable)
        #expect(PosEmbedType(sepPosEmbed: false, sincosPosEmbed: false) == .joint)
        #expect(PosEmbedType(sepPosEmbed: false, sincosPosEmbed: true) == .sinusoid)
        #expect(PosEmbedType(sepPosEmbed: true, sincosPosEmbed: true) == .sinusoid)
        #expect(try ViTConfig.named("videomae_vit_base_patch16").posEmbedType == .sinusoid)
        #expect(try ViTConfig.named("vit_base_patch16").posEmbedType == .separable)
        func posKeys(_ m: Module) -> [String: [Int]] {
            Dictionary(
                uniqueKeysWithValues: m.namedTensors().filter { $0.0.contains("pos_embed") }.map { ($0.0, $0.1.shape) })
        }
        let joint = try MaskedAutoencoderViT(Self.tinyMAE(.joint))
        #expect(posKeys(joint) == ["pos_embed": [1, 33, 32], "decoder_pos_embed": [1, 33, 16]])
        #expect(joint.namedParameters().contains { $0.0 == "pos_embed" })
        #expect(
            posKeys(try MaskedAutoencoderViT(Self.tinyMAE(.joint, cls: false))) == [
                "pos_embed": [1, 32, 32], "decoder_pos_embed": [1, 32, 16]
            ])
        #expect(posKeys(try MaskedAutoencoderViT(Self.tinyMAE(.sinusoid))).isEmpty)
        #expect(
            Set(posKeys(try MaskedAutoencoderViT(Self.tinyMAE(.separable))).keys) == [
                "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class",
                "decoder_pos_embed_spatial", "decoder_pos_embed_temporal", "decoder_pos_embed_class"
            ])
        var v = ViTConfig.encoder(of: try Self.tinyMAE(.joint))
        #expect(posKeys(try VisionTransformer(v)) == ["pos_embed": [1, 33, 32]])
        v.sincosPosEmbed = true
        #expect(posKeys(try VisionTransformer(v)).isEmpty)
        // trunc-normal(.02) init, as mae_st
        var big = try MAEConfig.named("mae_vit_small_patch16")
        (big.depth, big.decoderDepth, big.sepPosEmbed) = (1, 1, false)
        let m = try MaskedAutoencoderViT(big, generator: Generator(seed: 3))
        for t in [m.posEmbed!, m.decoderPosEmbed!] { #expect(abs(try t.variance().item().squareRoot() - 0.02) < 0.002) }
        #expect(VisionTransformer.layerId("pos_embed", depth: 12) == 0)
        #expect(try VisionTransformer(v).noWeightDecay.contains("pos_embed"))
    }

    /// The encoder adds row 0 to the cls token and rows 1… to the patches at the kept ids; the decoder adds the whole
    /// table: a table zero but for one row moves exactly the tokens that row belongs to.
    @Test func jointRowsBelongToTheirTokens() throws {
        let m = try MaskedAutoencoderViT(Self.tinyMAE(.joint))
        let x = try Tensor.randn([1, 3, 4, 8, 8], generator: Generator(seed: 1))
        let ids = try Tensor([Int64(0), 5, 31], shape: [1, 3])
        let before = try m.forwardEncoder(x, idsKeep: ids)
        let table = try m.posEmbed!.detach().clone()
        func shifted(row: Int) throws -> Tensor {
            var v = [Float](repeating: 0, count: 33 * 32)
            for j in 0 ..< 32 { v[row * 32 + j] = Float(j % 4) - 1.5 }  // not constant: LayerNorm would remove that
            return try table + Tensor(v, shape: [1, 33, 32])
        }
        for (row, moves) in [(6, true), (0, true), (3, false), (32, true)] {  // tokens 5, cls, 2 (masked), 31
            try m.loadStateDict(["pos_embed": shifted(row: row)], strict: false)
            let moved = try maxAbs(before - m.forwardEncoder(x, idsKeep: ids)) > 1e-3
            #expect(moved == moves, "row \(row)")
        }
    }

    /// Resizing a joint table per axis equals resizing the separable parts it was built from (both linear maps that
    /// keep constants), for a new image size (bicubic) and a new frame count (linear); the cls row is kept.
    @Test func jointResizeIsTheSeparableResize() throws {
        let src = try VisionTransformer(ViTConfig.encoder(of: Self.tinyMAE(.separable)), generator: Generator(seed: 4))
        let sep = try separablePosEmbed(
            spatial: src.posEmbedSpatial!, temporal: src.posEmbedTemporal!, tGrid: 2, sGrid: 16)
        let table = try Tensor.cat([src.posEmbedClass!, sep], dim: 1).detach()  // [1, 33, 32]
        for (img, frames) in [(12, 4), (8, 8), (8, 4)] {
            var c = ViTConfig.encoder(of: try Self.tinyMAE(.joint))
            (c.imgSize, c.numFrames) = (img, frames)
            let dst = try VisionTransformer(c)
            let want = try dst.resizePosEmbed(src.posEmbedSpatial!, to: [img / 2, img / 2])
            let wantT = try dst.resizePosEmbed(src.posEmbedTemporal!, to: [frames / 2])
            let expected = try Tensor.cat(
                [
                    src.posEmbedClass!,
                    separablePosEmbed(
                        spatial: want, temporal: wantT, tGrid: frames / 2,
                        sGrid: (img / 2) * (img / 2))
                ], dim: 1)
            let r = try dst.loadPretrained([("cls_token", src.clsToken!), ("pos_embed", table)], strict: false)
            #expect(r.interpolated.count == (img == 8 && frames == 4 ? 0 : 1), "\(r.interpolated)")
            #expect(try maxAbs(dst.posEmbed! - expected) < 1e-5, "\(img)×\(frames)")
        }
        var c = ViTConfig.encoder(of: try Self.tinyMAE(.joint))
        (c.imgSize, c.numFrames) = (12, 8)  // both axes differ: the source grid is ambiguous
        #expect {
            try VisionTransformer(c).loadPretrained(
                [("cls_token", src.clsToken!), ("pos_embed", table)], source: "j.pth", strict: false)
        } throws: {
            "\($0)".contains("j.pth") && "\($0)".contains("cannot tell its grid")
        }
    }

    /// `ViTConfig.inferred`: `pos_embed` → joint (grid from the given size), `pos_embed_*` → separable, none →
    /// sinusoid.
    @Test func inferredConfigFollowsTheWeights() throws {
        let joint = try MaskedAutoencoderViT(Self.tinyMAE(.joint)).stateDict()
        for (img, frames) in [(8, nil), (nil, 4), (8, 4)] as [(Int?, Int?)] {
            let c = try ViTConfig.inferred(from: joint, numHeads: 2, imgSize: img, numFrames: frames)
            #expect(c.posEmbedType == .joint && c.clsEmbed && c.imgSize == 8 && c.numFrames == 4)
            let v = try VisionTransformer(c)
            let r = try v.loadPretrained(joint)  // strict: encoder pos_embed kept, decoder dropped
            #expect(r.dropped.contains("decoder_pos_embed") && !r.dropped.contains("pos_embed"))
            #expect(try maxAbs(v.posEmbed! - joint.first { $0.0 == "pos_embed" }!.1) == 0)
        }
        #expect { try ViTConfig.inferred(from: joint, numHeads: 2, imgSize: 6, source: "j.pth") } throws: {
            "\($0)".contains("--img_size")
        }
        let sinus = try MaskedAutoencoderViT(Self.tinyMAE(.sinusoid, cls: false)).stateDict()
        #expect(try ViTConfig.inferred(from: sinus, numHeads: 2, imgSize: 8, numFrames: 4).posEmbedType == .sinusoid)
        let sep = try MaskedAutoencoderViT(Self.tinyMAE(.separable)).stateDict()
        #expect(try ViTConfig.inferred(from: sep, numHeads: 2).posEmbedType == .separable)
        // Fine-tuning with the wrong layout names the setting that fits.
        #expect {
            try VisionTransformer(ViTConfig.encoder(of: Self.tinyMAE(.separable))).loadPretrained(joint)
        } throws: {
            "\($0)".contains("unexpected keys (1): pos_embed") && "\($0)".contains("--no_sep_pos_embed")
        }
    }

    /// Hugging Face VideoMAE holds only its fixed sinusoid: a learned table is refused, saying why.
    @Test func huggingFaceRefusesLearnedTables() throws {
        let tmp = try TempDir()
        var c = ViTConfig.encoder(of: try Self.tinyMAE(.joint, cls: false))
        let state = try VisionTransformer(c).stateDict()
        #expect { try HFVideoMAE.write(state, config: c, to: tmp.path + "/hf") } throws: {
            "\($0)".contains("learned joint position table (pos_embed)")
                && "\($0)".contains("cannot be expressed as VideoMAE")
        }
        #expect(!FileManager.default.fileExists(atPath: tmp.path + "/hf"))
        c.sincosPosEmbed = true
        // k biases
        #expect(try HFVideoMAE.write(try VisionTransformer(c).stateDict(), config: c, to: tmp.path + "/hf2").count == 2)
    }

    /// A mae_st `.pth` of `sep_pos_embed=False` (reference/models_mae_st.py): the MAE loads it (pre-training) and gives
    /// the reference's loss and prediction; the classifier loads its encoder (decoder dropped) for the same grid and,
    /// resized per axis, for a wider image and more frames, with the reference's features and logits; `.pth` ⇄
    /// `.safetensors` keeps both tables bit for bit.
    @Test(.enabled(if: hasTorch, "needs .torch (scripts/setup.sh)"))
    func maeStJointCheckpoint() throws {
        let tmp = try TempDir()
        _ = try runPython([interopCheck, "make_mae_joint", tmp.path])
        let exp = try TensorFile.load(tmp.path + "/expected_joint.safetensors")
        let state = try Weights.read(tmp.path + "/mae_joint.pth")
        var cfg = try Self.tinyMAE(.joint)
        cfg.maskRatio = 0.75
        let mae = try MaskedAutoencoderViT(cfg)
        try mae.loadStateDict(Dictionary(uniqueKeysWithValues: state))  // strict
        let (loss, pred, mask) = try mae(exp["mae.x"]!, noise: exp["mae.noise"]!)
        #expect(abs(try loss.item() - exp["mae.loss"]!.item()) < 1e-5)
        #expect(try maxRel(pred, exp["mae.pred"]!) < 1e-4 && maxRel(mask, exp["mae.mask"]!) == 0)

        for (tag, img, frames) in [("same", 8, 4), ("wide", 12, 4), ("long", 8, 8)] {
            var v = ViTConfig.encoder(of: cfg)
            (v.imgSize, v.numFrames, v.numClasses, v.dropout) = (img, frames, 5, 0)
            let model = try VisionTransformer(v)
            let r = try model.loadPretrained(state, source: "mae_joint.pth")
            #expect(r.load.isClean && r.dropped.contains("decoder_pos_embed"))
            #expect(r.interpolated.count == (tag == "same" ? 0 : 1), "\(r.interpolated)")
            if let want = exp["\(tag).pos_embed"] {
                #expect(try maxRel(model.posEmbed!, want) < 1e-5, "\(tag): pos_embed")
            }
            try model.loadStateDict(
                exp.filter { $0.key.hasPrefix("head.") || $0.key.hasPrefix("fc_norm.") }, strict: false)
            model.eval()
            let x = exp["\(tag).x"]!
            #expect(try maxRel(model.forwardFeatures(x), exp["\(tag).features"]!) < 1e-4, "\(tag): features")
            #expect(try maxRel(model(x), exp["\(tag).logits"]!) < 1e-4, "\(tag): logits")
        }
        for (name, fmt) in [("j.safetensors", WeightsFormat.safetensors), ("j.pth", .torch)] {
            try Weights.write(state, to: tmp.path + "/" + name, format: fmt)
            let back = try Weights.read(tmp.path + "/" + name)
            #expect(back.map(\.0) == state.map(\.0) && back.contains { $0.0 == "decoder_pos_embed" })
            for ((k, a), (_, b)) in zip(back, state) { #expect(try maxRel(a, b) == 0, "\(name): \(k)") }
        }
    }

    /// ViViT (joint space-time) from a joint-table MAE-ST encoder computes that encoder exactly (all tokens kept); the
    /// factorised encoder, which needs separable positions, says so.
    @Test func vivitFromAJointTableMAE() throws {
        let c = try Case("mae_joint_cls")  // cls + joint pos_embed [1, 65, 32], T 8, img 8, patch 2: T' 4, S 16
        let mae = try MaskedAutoencoderViT(MAEConfig().updating(c.kwargs))
        try mae.loadStateDict(c.params)
        func vivit(_ model: String) throws -> ViViT {
            try ViViT(
                ViViTConfig().updating([
                    "img_size": 8, "patch_size": 2, "embed_dim": 32, "depth": 2, "num_heads": 2,
                    "num_frames": 8, "model": model, "num_classes": 3
                ]))
        }
        let v = try vivit("joint_space_time")
        let r = try v.initialise(fromVideo: c.params)
        #expect(Set(r.missing) == ["head.weight", "head.bias"] && r.unexpected.isEmpty, "\(r)")
        let x = c.t["input.x"]!
        let all = try Tensor.arange(0, 64).unsqueeze(0).repeat([x.size(0), 1])
        let tokens = try v.jointTokens(v.patchEmbed(x)).slice(dim: 1, start: 1)
        #expect(try maxRel(tokens, mae.forwardEncoder(x, idsKeep: all)) < 1e-4)
        let divided = try vivit("divided_space_time")
        #expect(try divided.initialise(fromVideo: c.params).unexpected.isEmpty)
        #expect(try maxRel(divided.posEmbed, c.params["pos_embed"]!.slice(dim: 1, start: 1)) == 0)
        #expect { try vivit("fact_encoder").initialise(fromVideo: c.params) } throws: {
            "\($0)".contains("no spatial/temporal split")
        }
    }
}
