import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// Initialisation of the video family from a tiny timm-layout image ViT (fixture `family_image_vit`: img 8, patch 2,
/// D 24, depth 2, 2 heads, 5 classes; its logits and final tokens on a frame from a plain image-ViT forward in
/// reference/make_family_fixtures.py). A static clip (the frame repeated) must reproduce the image model.
struct ImageInitTests {
    let image: [String: Tensor]
    let frame: Tensor, logits: Tensor, tokens: Tensor
    init() throws {
        let path = fixturePath("family_image_vit.safetensors", in: .module)
        let t = Dictionary(uniqueKeysWithValues: try TensorFile.loadOrdered(path).0)
        image = Dictionary(
            uniqueKeysWithValues: t.compactMap { k, v in k.hasPrefix("param.") ? (String(k.dropFirst(6)), v) : nil })
        (frame, logits, tokens) = (t["input.frame"]!, t["out.logits"]!, t["out.tokens"]!)
    }

    /// [2, 3, H, W] → [2, 3, T, H, W], every frame the same.
    func staticClip(_ t: Int) throws -> Tensor { try frame.unsqueeze(2).repeat([1, 1, t, 1, 1]).contiguous() }

    /// The same checkpoint in Hugging Face ViT keys (query/key/value separate).
    func hfLayout() throws -> [String: Tensor] {
        var hf: [String: Tensor] = [:]
        for (k, v) in image {
            var key = k
            for (a, b) in [
                ("cls_token", "vit.embeddings.cls_token"), ("pos_embed", "vit.embeddings.position_embeddings"),
                ("patch_embed.proj.", "vit.embeddings.patch_embeddings.projection."), ("norm.", "vit.layernorm."),
                ("head.", "classifier.")
            ] where k.hasPrefix(a) { key = b + k.dropFirst(a.count) }
            if k.hasPrefix("blocks.") {
                let parts = k.split(separator: ".", maxSplits: 2).map(String.init)  // blocks, i, rest
                let pre = "vit.encoder.layer.\(parts[1])."
                let rest = parts[2]
                if rest.hasPrefix("attn.qkv.") {
                    let d = v.size(0) / 3
                    for (j, n) in ["query", "key", "value"].enumerated() {
                        hf[pre + "attention.attention.\(n)." + rest.dropFirst(9)] = try v.slice(
                            dim: 0, start: j * d, end: (j + 1) * d)
                    }
                    continue
                }
                let map = [
                    ("norm1.", "layernorm_before."), ("norm2.", "layernorm_after."),
                    ("attn.proj.", "attention.output.dense."),
                    ("mlp.fc1.", "intermediate.dense."), ("mlp.fc2.", "output.dense.")
                ]
                let (a, b) = map.first { rest.hasPrefix($0.0) }!
                key = pre + b + rest.dropFirst(a.count)
            }
            hf[key] = v
        }
        return hf
    }

    func timesformer(_ type: String, frames: Int = 4) throws -> TimeSformer {
        try TimeSformer(
            TimeSformerConfig().updating([
                "img_size": 8, "patch_size": 2, "embed_dim": 24, "depth": 2, "num_heads": 2,
                "num_classes": 5, "num_frames": frames, "attention_type": type
            ]))
    }
    func vivit(_ model: String, frames: Int = 4) throws -> ViViT {
        try ViViT(
            ViViTConfig().updating([
                "img_size": 8, "patch_size": 2, "embed_dim": 24, "depth": 2, "num_heads": 2, "temporal_depth": 1,
                "num_classes": 5, "num_frames": frames, "model": model
            ]))
    }

    @Test(arguments: TimeSformerConfig.attentionTypes)
    func timesformerReproducesTheImageModel(_ type: String) throws {
        for temporal in TemporalInit.allCases {
            let m = try timesformer(type)
            let r = try m.initialise(fromImage: image, temporal: temporal)
            #expect(r.unexpected.isEmpty && r.mismatched.isEmpty, "\(r)")
            // time_embed keeps its (zero) init; with .zero the temporal attention keeps its random init
            let left = Set(
                r.missing.filter {
                    !$0.contains("temporal_attn") && !$0.contains("temporal_norm1") && !$0.contains("temporal_fc")
                })
            #expect(left.isSubset(of: ["time_embed"]), "\(left)")
            if temporal == .copy, type == "divided_space_time" {
                #expect(try maxRel(m.blocks[1].temporalAttn!.qkv!.weight, image["blocks.1.attn.qkv.weight"]!) == 0)
            }
            // Divided / space-only on a static clip are the image model exactly. Joint attention is not (the single
            // cls key competes with T copies of each patch key), except on one frame.
            if type == "joint_space_time" {
                let one = try timesformer(type, frames: 1)
                try one.initialise(fromImage: image, temporal: temporal)
                #expect(try maxRel(one(staticClip(1)), logits) < 1e-4, "\(type) \(temporal)")
                #expect(try maxRel(m(staticClip(4)), logits) > 1e-3)
            } else {
                #expect(try maxRel(m(staticClip(4)), logits) < 1e-4, "\(type) \(temporal)")
            }
        }
    }

    @Test func huggingFaceLayoutIsConverted() throws {
        let converted = try timmViTState(hfLayout())
        #expect(Set(converted.keys) == Set(image.keys))
        for (k, v) in image { #expect(try maxRel(converted[k]!, v) == 0, "\(k)") }
        let m = try timesformer("divided_space_time")
        try m.initialise(fromImage: hfLayout())
        #expect(try maxRel(m(staticClip(4)), logits) < 1e-4)
    }

    /// Both inflations embed a static tubelet like its frame, so ViViT's joint model on one tubelet (2 equal frames)
    /// is the image ViT; with more tubelets the image positions are repeated over time behind the cls position.
    @Test(arguments: PatchInflation.allCases)
    func vivitJointReproducesTheImageModel(_ mode: PatchInflation) throws {
        let one = try vivit("joint_space_time", frames: 2)
        #expect(try one.initialise(fromImage: image, inflation: mode).isClean)
        #expect(try maxRel(one(staticClip(2)), logits) < 1e-4)
        let m = try vivit("joint_space_time")
        #expect(try m.initialise(fromImage: image, inflation: mode).isClean)
        let pos = image["pos_embed"]!
        #expect(try maxRel(m.posEmbed.slice(dim: 1, end: 1), pos.slice(dim: 1, end: 1)) == 0)
        for t in 0 ..< 2 {
            #expect(
                try maxRel(m.posEmbed.slice(dim: 1, start: 1 + 16 * t, end: 17 + 16 * t), pos.slice(dim: 1, start: 1))
                    == 0)
        }
    }

    /// A larger input resamples the image positions (bicubic); a model of another width is an error naming the keys;
    /// a file that is not a ViT is an error naming the file.
    @Test func positionsResampledAndMismatchesRejected() throws {
        let big = try TimeSformer(
            TimeSformerConfig().updating([
                "img_size": 16, "patch_size": 2, "embed_dim": 24, "depth": 2,
                "num_heads": 2, "num_classes": 7, "num_frames": 2
            ]))
        let r = try big.initialise(fromImage: image)
        #expect(r.mismatched.allSatisfy { $0.hasPrefix("head.") } && r.mismatched.count == 2)
        #expect(big.posEmbed.shape == [1, 65, 24])
        #expect(try maxRel(big.posEmbed.slice(dim: 1, end: 1), image["pos_embed"]!.slice(dim: 1, end: 1)) == 0)
        let constant = try resizeSpatialPos(Tensor.full([1, 16, 3], 0.25), tokens: 64)
        #expect(try maxRel(constant, Tensor.full([1, 64, 3], 0.25)) < 1e-6)
        #expect(throws: ConfigError.self) { try resizeSpatialPos(Tensor.zeros([1, 15, 3]), tokens: 64) }

        let wide = try TimeSformer(
            TimeSformerConfig().updating([
                "img_size": 8, "patch_size": 2, "embed_dim": 32, "depth": 2,
                "num_heads": 2, "num_classes": 5, "num_frames": 2
            ]))
        #expect { try wide.initialise(fromImage: image) } throws: { "\($0)".contains("blocks.0.attn.qkv.weight") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "stmae-notvit-\(UUID().uuidString).safetensors"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TensorFile.save([("conv1.weight", Tensor.zeros([2, 2]))], to: path)
        #expect { try loadImageViT(path: path) } throws: {
            "\($0)".contains(path) && "\($0)".contains("patch_embed.proj.weight")
        }
        #expect { try loadImageViT(path: path + ".missing") } throws: { "\($0)".contains(".missing") }
    }

    @Test func inflationModes() throws {
        let w = try Tensor.randn([6, 3, 2, 2])
        let avg = try inflatePatchWeight(w, frames: 4, mode: .average),
            ctr = try inflatePatchWeight(w, frames: 4, mode: .centre)
        #expect(avg.shape == [6, 3, 4, 2, 2] && ctr.shape == [6, 3, 4, 2, 2])
        #expect(try maxRel(avg.sum(dims: [2]), w) < 1e-6)
        #expect(try maxRel(ctr.select(dim: 2, index: 2), w) == 0)
        #expect(try maxAbs(ctr.sum(dims: [2]) - w) == 0)
        // centre frame: only frame t·2+1 of each tubelet matters
        let m = try vivit("fact_encoder")
        let r = try m.initialise(fromImage: image, inflation: .centre)
        #expect(Set(r.missing) == Set(m.namedParameters().map(\.0).filter { $0.hasPrefix("temporal_") }))
        let x = try Tensor.randn([2, 3, 4, 8, 8])
        let y = try x.clone()
        try withNoGrad { try y.select(dim: 2, index: 0).copy_(Tensor.randn([2, 3, 8, 8])) }
        #expect(try maxRel(m(x), m(y)) == 0)
        #expect(throws: ConfigError.self) { try inflatePatchWeight(avg, frames: 2, mode: .average) }
    }

    /// ViViT FSA with zero-initialised temporal attention is a per-frame model: swapping time slices changes nothing.
    @Test func vivitFactorisedZeroTemporal() throws {
        let m = try vivit("divided_space_time")
        let r = try m.initialise(fromImage: image, inflation: .average, temporal: .zero)
        #expect(r.unexpected.isEmpty && r.mismatched.isEmpty, "\(r)")
        #expect(!r.missing.isEmpty && r.missing.allSatisfy { $0.contains(".temporal_") }, "\(r.missing)")
        #expect(try maxAbs(m.blocks[0].temporalAttn!.proj.weight) == 0)
        let x = try Tensor.randn([2, 3, 4, 8, 8])
        let swapped = try Tensor.cat([x.slice(dim: 2, start: 2), x.slice(dim: 2, end: 2)], dim: 2)
        #expect(try maxRel(m(x), m(swapped)) < 1e-5)
    }

    /// MaskFeat from the image ViT: with nothing masked, a static clip's tokens equal the image model's tokens at
    /// every time index; from an MAE-ST checkpoint every encoder tensor loads.
    @Test func maskfeatFromImageAndVideoCheckpoints() throws {
        let m = try MaskFeat(
            MaskFeatConfig().updating([
                "img_size": 8, "patch_size": 2, "hog_cell": 2, "embed_dim": 24, "depth": 2,
                "num_heads": 2, "num_frames": 2
            ]))
        let r = try m.initialise(fromImage: image)
        #expect(Set(r.missing) == ["mask_token", "pred_head.weight", "pred_head.bias", "pos_embed_temporal"])
        #expect(try maxAbs(m.posEmbedTemporal) == 0)
        let f = try m.forwardFeatures(staticClip(2), mask: Tensor.zeros([2, 16]))  // one tubelet: [2, S, D]
        #expect(try maxRel(f, tokens.slice(dim: 1, start: 1)) < 1e-4)

        let mae = try Case("mae_random")
        let mf = try MaskFeat(
            MaskFeatConfig().updating([
                "img_size": 8, "patch_size": 2, "hog_cell": 2, "embed_dim": 32, "depth": 2,
                "num_heads": 2, "num_frames": 8, "cls_embed": false
            ]))
        let rep = try mf.initialise(fromVideo: mae.params)
        #expect(
            Set(rep.missing) == ["mask_token", "pred_head.weight", "pred_head.bias"] && rep.unexpected.isEmpty, "\(rep)"
        )
        #expect(try maxRel(mf.blocks[1].attn.k!.weight, mae.params["blocks.1.attn.k.weight"]!) == 0)
        // the same encoder in VideoMAE's layout (encoder. prefix, fused qkv, q_bias / v_bias, k bias 0)
        let vm = try videoMAELayout(mae.params)
        let conv = try videoEncoderState(vm)
        #expect(try maxRel(conv["blocks.0.attn.v.weight"]!, mae.params["blocks.0.attn.v.weight"]!) == 0)
        #expect(try maxAbs(conv["blocks.0.attn.k.bias"]!) == 0)
        #expect(try mf.initialise(fromVideo: vm).unexpected.isEmpty)
    }
}

/// ViViT from a video MAE encoder: the joint model loaded from an MAE-ST checkpoint computes the MAE encoder (all
/// tokens kept) exactly; a VideoMAE-layout encoder loads with its sinusoid positions.
struct VideoInitTests {
    @Test func vivitJointEqualsTheMAEEncoder() throws {
        let c = try Case("mae_pred8_f16_cls")  // cls + separable positions, T 16, img 4, patch 2: T' 8, S 4, D 32
        let mae = try MaskedAutoencoderViT(MAEConfig().updating(c.kwargs))
        try mae.loadStateDict(c.params)
        let v = try ViViT(
            ViViTConfig().updating([
                "img_size": 4, "patch_size": 2, "embed_dim": 32, "depth": 2, "num_heads": 2,
                "num_frames": 16, "model": "joint_space_time", "num_classes": 3
            ]))
        let r = try v.initialise(fromVideo: c.params)
        #expect(Set(r.missing) == ["head.weight", "head.bias"] && r.unexpected.isEmpty, "\(r)")
        let x = c.t["input.x"]!
        let all = try Tensor.arange(0, 32).unsqueeze(0).repeat([x.size(0), 1])
        let latent = try mae.forwardEncoder(x, idsKeep: all)  // [N, L, D], cls removed
        let tokens = try v.jointTokens(v.patchEmbed(x)).slice(dim: 1, start: 1)
        #expect(try maxRel(tokens, latent) < 1e-4)

        for model in ["fact_encoder", "divided_space_time"] {
            let m = try ViViT(
                ViViTConfig().updating([
                    "img_size": 4, "patch_size": 2, "embed_dim": 32, "depth": 2, "num_heads": 2,
                    "num_frames": 16, "model": model, "num_classes": 3
                ]))
            let rep = try m.initialise(fromVideo: c.params)
            #expect(rep.unexpected.isEmpty && !rep.loaded.isEmpty, "\(model): \(rep)")
            #expect(try m(x).shape == [2, 3])
        }
    }

    @Test func vivitFromVideoMAELayout() throws {
        let c = try Case("mae_random")  // no cls, D 32, T 8, img 8 / patch 2
        let vm = try videoMAELayout(c.params) { !$0.hasPrefix("pos_embed") }
        let v = try ViViT(
            ViViTConfig().updating([
                "img_size": 8, "patch_size": 2, "embed_dim": 32, "depth": 2, "num_heads": 2,
                "num_frames": 8, "model": "divided_space_time", "num_classes": 3
            ]))
        let r = try v.initialise(fromVideo: vm)
        #expect(r.unexpected.isEmpty, "\(r)")
        #expect(try maxRel(v.posEmbed, sinusoidTable(positions: 64, dim: 32)) == 0)
        let qkv = try #require(v.blocks[0].attn.qkv)
        #expect(try maxRel(qkv.weight, vm["encoder.blocks.0.attn.qkv.weight"]!) == 0)
        #expect(try maxAbs(qkv.bias!.slice(dim: 0, start: 32, end: 64)) == 0)  // VideoMAE has no k bias
    }
}

/// A 2-block MAE-ST pre-trainer's `params` as a VideoMAE-layout encoder's: its encoder keys that `keep` passes under
/// `encoder.`, q, k, v fused into `qkv.weight` with `q_bias` and `v_bias` (no k bias).
private func videoMAELayout(_ params: [String: Tensor], keep: (String) -> Bool = { _ in true }) throws
    -> [String: Tensor]
{
    var vm: [String: Tensor] = [:]
    for (k, v) in params
    where !k.hasPrefix("decoder") && k != "mask_token" && !k.contains(".attn.q.") && !k.contains(".attn.k.")
        && !k.contains(".attn.v.") && keep(k)
    {
        vm["encoder." + k] = v
    }
    for i in 0 ..< 2 {
        let p = "blocks.\(i).attn."
        vm["encoder." + p + "qkv.weight"] = try Tensor.cat(["q", "k", "v"].map { params[p + $0 + ".weight"]! }, dim: 0)
        vm["encoder." + p + "q_bias"] = params[p + "q.bias"]!
        vm["encoder." + p + "v_bias"] = params[p + "v.bias"]!
    }
    return vm
}
