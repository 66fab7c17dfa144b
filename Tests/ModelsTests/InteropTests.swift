import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// reference/interop_check.py: builds and checks mae_st / transformers models for these tests (run with `runPython`).
let interopCheck = packageRoot + "/reference/interop_check.py"

/// The tiny encoder of interop_check.py's MAE as a classifier config.
func tinyClassifier(img: Int = 8, frames: Int = 4) -> ViTConfig {
    var c = ViTConfig()
    (c.numFrames, c.tPatchSize, c.imgSize, c.patchSize, c.numClasses) = (frames, 2, img, 2, 5)
    (c.embedDim, c.depth, c.numHeads, c.dropout) = (32, 2, 2, 0)
    return c
}

/// Loading mae_st / optimized-stmae / HF checkpoints into the classifier, and writing them back, checked against
/// PyTorch (reference/models_vit.py) and transformers' `VideoMAEForVideoClassification`.
@Suite struct InteropTests {
    @Test(.enabled(if: hasTorch, "needs .torch (scripts/setup.sh)"))
    func maeStCheckpointLoadsLikeTheReference() throws {
        let tmp = try TempDir()
        _ = try runPython([interopCheck, "make_mae", tmp.path])
        let exp = try TensorFile.load(tmp.path + "/expected.safetensors")
        for file in ["mae.pth", "mae_release.pth"] {
            for (tag, cfg) in [("same", tinyClassifier()), ("big", tinyClassifier(img: 12, frames: 8))] {
                let model = try VisionTransformer(cfg)
                let report = try model.loadPretrained(Weights.read(tmp.path + "/" + file), source: file)
                #expect(report.load.isClean)
                #expect(report.initialized.sorted() == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"])
                #expect(
                    Set(report.dropped)
                        == Set(["mask_token", "norm.weight", "norm.bias"]).union(
                            report.dropped.filter { $0.hasPrefix("decoder") }))
                // cls + 3 pos, embed 2, 1 block 16, norm 2, pred 2
                #expect(report.dropped.filter { $0.hasPrefix("decoder") }.count == 26)
                #expect(try maxAbs(model.head.weight) < 1e-4 && maxAbs(model.head.weight) > 0)  // trunc-normal std 2e-5
                if tag == "big" {
                    #expect(report.interpolated.count == 2, "\(report.interpolated)")
                    #expect(try maxRel(model.posEmbedSpatial!, exp["big.pos_embed_spatial"]!) < 1e-5)
                    #expect(try maxRel(model.posEmbedTemporal!, exp["big.pos_embed_temporal"]!) < 1e-5)
                } else {
                    #expect(report.interpolated.isEmpty)
                }
                try model.loadStateDict(
                    exp.filter { $0.key.hasPrefix("head.") || $0.key.hasPrefix("fc_norm.") }, strict: false)
                model.eval()
                let x = exp["\(tag).x"]!
                #expect(
                    try maxRel(model.forwardFeatures(x), exp["\(tag).features"]!) < 1e-4, "\(file) \(tag): features")
                #expect(try maxRel(model(x), exp["\(tag).logits"]!) < 1e-4, "\(file) \(tag): logits")
            }
        }
        // A classifier fine-tuned by mae_st (mean → `norm` → head) loads with its head and gives the same logits.
        let ft = try VisionTransformer(tinyClassifier())
        let ftReport = try ft.loadPretrained(Weights.read(tmp.path + "/finetuned_maest.pth"), normAsFcNorm: true)
        #expect(ftReport.initialized.isEmpty && ftReport.dropped.isEmpty && ftReport.load.isClean)
        ft.eval()
        #expect(try maxRel(ft(exp["same.x"]!), exp["same.logits"]!) < 1e-4, "mae_st fine-tuned logits")
        // Heads are not in the weights: mae_st's args carry them; a release file without args has none.
        let recorded = try Weights.settings(tmp.path + "/mae.pth")
        #expect(recorded.numHeads == 2 && recorded.numFrames == 4 && recorded.imgSize == nil && recorded.normEps == nil)
        #expect(try Weights.settings(tmp.path + "/mae_release.pth").isEmpty)
        let inferred = try ViTConfig.inferred(from: Weights.read(tmp.path + "/mae.pth"), numHeads: 2)
        #expect(
            inferred.sepPosEmbed && inferred.clsEmbed && !inferred.globalPool && inferred.imgSize == 8
                && inferred.numFrames == 4)
        // stmae safetensors and torch.save written by Swift read back bit-identically.
        let state = try Weights.read(tmp.path + "/mae.pth")
        for (name, fmt) in [("w.safetensors", WeightsFormat.safetensors), ("w.pth", .torch)] {
            try Weights.write(state, to: tmp.path + "/" + name, format: fmt)
            let back = try Weights.read(tmp.path + "/" + name)
            #expect(back.map(\.0) == state.map(\.0))
            for ((k, a), (_, b)) in zip(back, state) { #expect(try maxRel(a, b) == 0, "\(name): \(k)") }
        }
    }

    @Test func strictLoadingListsTheKeys() throws {
        var mae = try MAEConfig.named("mae_vit_tiny")
        (mae.depth, mae.imgSize, mae.numFrames, mae.predTDim) = (2, 32, 4, 4)
        let state = try MaskedAutoencoderViT(mae).stateDict()
        var cfg = ViTConfig.encoder(of: mae)
        cfg.numClasses = 3
        cfg.clsEmbed = false  // the checkpoint has cls_token / pos_embed_class
        #expect { try VisionTransformer(cfg).loadPretrained(state, source: "ckpt.pth") } throws: {
            let s = "\($0)"
            return s.contains("ckpt.pth") && s.contains("unexpected keys (2): cls_token, pos_embed_class")
                && s.contains("strict")
        }
        let lax = try VisionTransformer(cfg).loadPretrained(state, strict: false)
        #expect(lax.load.unexpected == ["cls_token", "pos_embed_class"] && lax.load.loaded.count == 2 * 16 + 4)
        cfg.clsEmbed = true
        let partial = state.filter { !$0.0.hasPrefix("blocks.1.") }
        #expect { try VisionTransformer(cfg).loadPretrained(partial) } throws: {
            "\($0)".contains("missing keys (16): blocks.1.")
        }
        cfg.embedDim = 96; cfg.numHeads = 4
        #expect { try VisionTransformer(cfg).loadPretrained(state) } throws: {
            "\($0)".contains("shape mismatches")
                && "\($0)".contains("cls_token: checkpoint [1, 1, 192], model [1, 1, 96]")
        }
        // A head of another class count is dropped and re-initialised (mae_st), a matching one is loaded.
        cfg = ViTConfig.encoder(of: mae)
        cfg.numClasses = 3
        let fine = try VisionTransformer(cfg)
        var other = cfg
        other.numClasses = 10
        let r = try VisionTransformer(other).loadPretrained(try fine.stateDict())
        #expect(
            r.dropped.sorted() == ["head.bias", "head.weight"] && r.initialized.sorted() == ["head.bias", "head.weight"]
        )
        let same = try VisionTransformer(cfg)
        #expect(try same.loadPretrained(try fine.stateDict()).initialized.isEmpty)
        #expect(try maxRel(same.head.weight, fine.head.weight) == 0)
        let tmp = try TempDir()
        // An stmae training checkpoint given by its .json sidecar (as `stmae visualize --checkpoint` takes it).
        try TensorFile.save(try fine.stateDict(), to: tmp.path + "/checkpoint-00001.safetensors")
        try Data(#"{"weights": "checkpoint-00001.safetensors", "config": {"model": "mae_vit_small_patch16"}}"#.utf8)
            .write(to: URL(fileURLWithPath: tmp.path + "/checkpoint-00001.json"))
        #expect(try Weights.read(tmp.path + "/checkpoint-00001.json").map(\.0) == fine.stateDict().map(\.0))
        #expect(try Weights.settings(tmp.path + "/checkpoint-00001.json").numHeads == 6)
        #expect(try Weights.settings(tmp.path + "/checkpoint-00001.safetensors").numHeads == 6)
        #expect { try Weights.read(tmp.path + "/ddp.json") } throws: { "\($0)".contains("ddp.json") }
        // A state dict saved from a DistributedDataParallel wrapper (`module.` prefix) reads with plain keys.
        try Weights.write(
            try fine.stateDict().map { ("module._orig_mod." + $0.0, $0.1) }, to: tmp.path + "/ddp.pth", format: .torch)
        // + torch.compile's prefix
        #expect(try Weights.read(tmp.path + "/ddp.pth").map(\.0) == fine.stateDict().map(\.0))
    }

    @Test(.enabled(if: hasTorch, "needs .torch (scripts/setup.sh)"))
    func huggingFaceDirectoryMatchesTransformers() throws {
        let tmp = try TempDir()
        var cfg = tinyClassifier()
        (cfg.sepPosEmbed, cfg.sincosPosEmbed, cfg.clsEmbed, cfg.normEps, cfg.fcNormEps) = (
            false, true, false, 1e-12, 1e-5
        )  // k bias kept: it must not matter
        let model = try VisionTransformer(cfg, generator: Generator(seed: 11))
        try withNoGrad {  // move norms and zero biases off their init
            for (_, t) in model.namedTensors() {
                try t.add_(Tensor.randn(t.shape, generator: Generator(seed: UInt64(t.count))) * 0.05)
            }
        }
        model.eval()
        let x = try Tensor.randn([2, 3, 4, 8, 8], generator: Generator(seed: 12))
        let logits = try model(x)
        let hf = tmp.path + "/hf"
        try HFVideoMAE.write(model.stateDict(), config: cfg, to: hf, labels: ["a", "b", "c", "d", "e"])
        try TensorFile.save([("x", x)], to: tmp.path + "/x.safetensors")
        let summary = try runPython([interopCheck, "check_hf", hf, tmp.path + "/x.safetensors", tmp.path])
        #expect(summary.contains("\"num_labels\": 5") && summary.contains("\"fc_norm_eps\": 1e-05"), "\(summary)")
        #expect(
            summary.contains("\"image_mean\": [0.485, 0.456, 0.406]")
                && summary.contains("\"image_std\": [0.229, 0.224, 0.225]"))
        #expect(
            summary.contains("\"labels\": [\"a\", \"b\", \"c\", \"d\", \"e\"]") && summary.contains("\"height\": 8"),
            "\(summary)")
        let ref = try TensorFile.load(tmp.path + "/hf_logits.safetensors")["logits"]!
        #expect(try maxRel(logits, ref) < 1e-4, "transformers logits")

        // Back: our own directory, transformers' save_pretrained (its key layout) and a pytorch_model.bin.
        for dir in [hf, tmp.path + "/resaved", tmp.path + "/bin"] {
            let (state, c, pre, labels) = try HFVideoMAE.read(dir)
            #expect(
                c.kBias == false && c.posEmbedType == .sinusoid && !c.clsEmbed && c.globalPool && c.numClasses == 5
                    && c.normEps == 1e-12)
            #expect(
                (c.imgSize, c.numFrames, c.tPatchSize, c.embedDim, c.depth, c.numHeads) == (8, 4, 2, 32, 2, 2)
                    && c.mlpRatio == 4)
            #expect(labels == ["a", "b", "c", "d", "e"])
            if dir == hf {
                #expect(
                    pre.mean == HFVideoMAE.Preprocessing.imagenet.mean
                        && pre.std == HFVideoMAE.Preprocessing.imagenet.std)
            }
            let back = try VisionTransformer(c)
            try back.loadPretrained(state, source: dir)  // strict
            back.eval()
            #expect(try maxRel(back(x), ref) < 1e-4, "\(dir): logits")
        }
        // The mae_st layout (learned separable positions, cls token) has no VideoMAE equivalent.
        #expect {
            try HFVideoMAE.write(
                VisionTransformer(tinyClassifier()).stateDict(), config: tinyClassifier(), to: tmp.path + "/no")
        } throws: {
            "\($0)".contains("learned separable positions") && "\($0)".contains("cannot be expressed as VideoMAE")
        }
    }
}

extension InteropTests {
    /// A VideoMAE-style pre-trained MAE (sinusoid positions, no cls): its config is recovered from the weights, and the
    /// encoder exported as `VideoMAEModel` gives transformers the same hidden states as our encoder (all tokens kept).
    @Test(.enabled(if: hasTorch, "needs .torch (scripts/setup.sh)"))
    func pretrainedEncoderToHuggingFace() throws {
        let tmp = try TempDir()
        var mae = try MAEConfig.named("mae_vit_tiny")
        (mae.embedDim, mae.depth, mae.numHeads, mae.imgSize, mae.patchSize, mae.numFrames, mae.predTDim) = (
            64, 2, 1, 8, 2, 4, 4
        )
        (mae.sepPosEmbed, mae.sincosPosEmbed, mae.clsEmbed, mae.normEps) = (false, true, false, 1e-12)
        let model = try MaskedAutoencoderViT(mae, generator: Generator(seed: 5))
        try withNoGrad {
            for (_, t) in model.namedTensors() {
                try t.add_(Tensor.randn(t.shape, generator: Generator(seed: 9)) * 0.05)
            }
        }
        let state = try model.stateDict()
        var cfg = try ViTConfig.inferred(from: state, numHeads: 1, imgSize: 8, numFrames: 4)
        #expect(
            (cfg.embedDim, cfg.depth, cfg.numHeads, cfg.patchSize, cfg.tPatchSize, cfg.imgSize) == (64, 2, 1, 2, 2, 8))
        #expect(
            cfg.posEmbedType == .sinusoid && !cfg.clsEmbed && cfg.globalPool && cfg.qkvBias && cfg.kBias == nil
                && cfg.mlpRatio == 4)
        // 64 × 2 is no standard size: nothing tells the heads.
        #expect { try ViTConfig.inferred(from: state, source: "mae.pth") } throws: {
            "\($0)".contains("mae.pth") && "\($0)".contains("--num_heads")
        }
        #expect { try ViTConfig.inferred(from: [("x", Tensor.zeros([1]))], source: "x.pth") } throws: {
            "\($0)".contains("x.pth")
        }
        cfg.normEps = 1e-12
        let skipped = try HFVideoMAE.write(state, config: cfg, to: tmp.path + "/hf")
        // + 2 k biases
        #expect(skipped.count == state.filter { $0.0.hasPrefix("decoder") || $0.0 == "mask_token" }.count + 2)
        let x = try Tensor.randn([2, 3, 4, 8, 8], generator: Generator(seed: 6))
        try TensorFile.save([("x", x)], to: tmp.path + "/x.safetensors")
        let summary = try runPython([
            interopCheck, "check_hf_encoder", tmp.path + "/hf", tmp.path + "/x.safetensors", tmp.path
        ])
        #expect(
            summary.contains("\"use_mean_pooling\": false") && summary.contains("\"has_layernorm\": true"), "\(summary)"
        )
        let ids = try Tensor.arange(0, 32, dtype: .int64).unsqueeze(0).expand([2, 32]).contiguous()
        let ours = try model.forwardEncoder(x, idsKeep: ids)
        #expect(try maxRel(ours, TensorFile.load(tmp.path + "/hf_hidden.safetensors")["hidden"]!) < 1e-4)
        // transformers' VideoMAEForPreTraining layout (encoder_to_decoder, decoder.*, mask_token) reads back as our
        // encoder: the decoder is skipped, every encoder tensor is identical (k biases were dropped: HF has none).
        let (back, bc, _, _) = try HFVideoMAE.read(tmp.path + "/pretraining")
        let expected = state.filter {
            !$0.0.hasPrefix("decoder") && $0.0 != "mask_token" && !$0.0.hasSuffix("attn.k.bias")
        }
        #expect(Set(back.map(\.0)) == Set(expected.map(\.0)))
        let byKey = Dictionary(uniqueKeysWithValues: back)
        for (k, t) in expected { #expect(try maxRel(byKey[k]!, t) == 0, "\(k)") }
        #expect(bc.embedDim == 64 && bc.depth == 2 && bc.normEps == 1e-12)
    }
}

extension InteropTests {
    /// `stmae convert`: .pth → .safetensors → Hugging Face → .pth keeps the classifier's function.
    @Test(.enabled(if: hasProduct("stmae"), "needs the stmae binary (swift build)"))
    func convertCommandRoundTrips() throws {
        let tmp = try TempDir()
        var cfg = tinyClassifier()
        (cfg.sepPosEmbed, cfg.sincosPosEmbed, cfg.clsEmbed, cfg.normEps, cfg.fcNormEps) = (
            false, true, false, 1e-12, 1e-12
        )
        let model = try VisionTransformer(cfg, generator: Generator(seed: 21))
        try withNoGrad {
            for (_, t) in model.namedTensors() {
                try t.add_(Tensor.randn(t.shape, generator: Generator(seed: 22)) * 0.05)
            }
        }
        model.eval()
        let x = try Tensor.randn([2, 3, 4, 8, 8], generator: Generator(seed: 23))
        let logits = try model(x)
        try Weights.write(model.stateDict(), to: tmp.path + "/c.pth", format: .torch)
        let steps: [[String]] = [
            ["c.pth", "c.safetensors"],
            ["c.safetensors", "hf", "--num_heads", "2", "--img_size", "8", "--num_frames", "4", "--norm_eps", "1e-12"],
            ["hf", "back.pth"]
        ]
        for s in steps {
            let (status, text) = try runSTMAE(
                ["convert"] + s.enumerated().map { $0.offset < 2 ? tmp.path + "/" + $0.element : $0.element })
            #expect(status == 0, "convert \(s): \(text)")
        }
        #expect(try Weights.read(tmp.path + "/c.safetensors").map(\.0) == model.stateDict().map(\.0))
        let (_, hfCfg, _, _) = try HFVideoMAE.read(tmp.path + "/hf")
        var back = hfCfg
        back.fcNormEps = 1e-12  // HF's fc_norm is fixed at 1e-5; this model was built with 1e-12
        let m2 = try VisionTransformer(back)
        try m2.loadPretrained(Weights.read(tmp.path + "/back.pth"))  // strict: k biases gone, nothing else missing
        m2.eval()
        #expect(try maxRel(m2(x), logits) < 1e-5)
        let (status, text) = try runSTMAE(["convert", tmp.path + "/c.pth", tmp.path + "/c.safetensors"])
        #expect(status != 0 && text.contains("--force"), "\(text)")
        let (s2, t2) = try runSTMAE(["convert", tmp.path + "/c.pth", tmp.path + "/hf2", "--num_heads", "3"])
        #expect(s2 != 0 && t2.contains("--num_heads 3"), "\(t2)")
    }
}
