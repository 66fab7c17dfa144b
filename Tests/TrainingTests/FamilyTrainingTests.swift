import Datasets
import Foundation
import Testing
import TestSupport
import Models
import NN
import TensorFiles
import Torch
@testable import Training

/// MaskFeat tiny: 4 frames of 32 px, patch 8 (one 8×8 HOG cell per patch: 27 targets), width 24, one block.
func tinyMaskFeatConfig(_ dir: String) -> PretrainConfig {
    var c = tinyConfig(dir)
    c.model = "maskfeat_vit_tiny"; c.decoderDepth = 0; c.maskRatio = 0
    c.embedDim = 24; c.depth = 1; c.numHeads = 2
    return c
}

/// In-memory labelled clips: class k is a constant clip of brightness k (noise added), the same every epoch.
struct ToyLabeledFeed: ClipFeed {
    let batchesPerEpoch: Int
    let shape: [Int]  // [B, 3, T, H, W]
    let classes: Int
    func batches(epoch: Int, startBatch: Int) throws -> FeedIterator {
        var i = startBatch
        return FeedIterator { [shape, classes, batchesPerEpoch] in
            guard i < batchesPerEpoch else { return nil }
            defer { i += 1 }
            let g = try Generator(seed: UInt64(i))
            let b = shape[0], per = shape.dropFirst().reduce(1, *)
            let labels = (0 ..< b).map { ($0 + i) % classes }
            var x = try Tensor.randn(shape, generator: g).toArray(Float.self).map { $0 * 0.1 }
            for j in 0 ..< b { for k in 0 ..< per { x[j * per + k] += Float(labels[j]) - Float(classes) / 2 } }
            return ClipBatch(
                data: x, shape: shape, index: i, labels: labels,
                sampleIndices: Array(i * b ..< (i + 1) * b))
        }
    }
}

func familyFinetuneConfig(_ model: String, _ dir: String) -> FinetuneConfig {
    var c = FinetuneConfig()
    c.model = model; c.numFrames = 4; c.imgSize = 16; c.patchSize = 4
    c.embedDim = 24; c.depth = 2; c.numHeads = 2
    c.batchSize = 4; c.epochs = 1; c.blr = 0.05; c.warmupEpochs = 0; c.dropPathRate = 0; c.layerDecay = 0.75;
    c.smoothing = 0
    c.outputDir = dir; c.logEvery = 1000; c.threads = 1
    return c
}

/// Pre-trains `p` on two random batches of 2 clips (4 frames of `size`×`size`) and returns the trainer.
@discardableResult
func pretrainTwoBatches(_ p: PretrainConfig, size: Int = 32) throws -> Pretrainer {
    let trainer = try Pretrainer(p)
    try trainer.run(feed: RandomFeed(batchesPerEpoch: 2, shape: [2, 3, 4, size, size]))
    return trainer
}

/// The `family_image_vit` fixture of ModelsTests (timm ViT: D 24, depth 2, 2 heads, patch 2, 8×8, 5 classes).
let imageViTFixture = packageRoot + "/Tests/ModelsTests/Fixtures/family_image_vit.safetensors"

struct FamilyTrainingTests {
    /// `stmae pretrain --model maskfeat_*`: MaskFeat trains through the same engine, checkpoints and resumes exactly.
    @Test func maskFeatPretrainResumesExactly() throws {
        let feed = RandomFeed(batchesPerEpoch: 6, shape: [2, 3, 4, 32, 32])
        let t1 = try TempDir("mf-full"), t2 = try TempDir("mf-resume"), d1 = t1.path, d2 = t2.path
        let p = try Pretrainer(tinyMaskFeatConfig(d1))
        let mf = try #require(p.model as? MaskFeat)
        #expect(mf.config.maskRatio == 0.4 && mf.config.embedDim == 24 && mf.blocks.count == 1 && mf.numTokens == 32)
        // no weight decay on positions, cls and mask tokens
        let noDecay = Set(p.optimizer.groups.filter { $0.weightDecay == 0 }.flatMap(\.names))
        #expect(
            noDecay.isSuperset(of: [
                "mask_token", "cls_token", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class"
            ]))
        #expect(!noDecay.contains("pred_head.weight"))
        let full = try p.run(feed: feed)
        #expect(full.step == 6 && full.lossHistory.allSatisfy { $0.isFinite && $0 > 0 })

        var c = tinyMaskFeatConfig(d2)
        c.maxSteps = 4
        _ = try Pretrainer(c).run(feed: feed)
        c.maxSteps = 0; c.resume = d2 + "/checkpoint-last.json"
        let resumed = try Pretrainer(c).run(feed: feed)
        #expect(resumed.lossHistory == full.lossHistory, "resumed \(resumed.lossHistory) vs \(full.lossHistory)")
        // visualize / embed need an MAE: a MaskFeat checkpoint is refused by name
        #expect { try Checkpoint.loadModel(d1 + "/checkpoint-00001.json") } throws: {
            "\($0)".contains("maskfeat_vit_tiny")
        }
    }

    @Test func maskFeatLossFallsOnAFixedBatch() throws {
        let tmp = try TempDir("mf-fall")
        var c = tinyMaskFeatConfig(tmp.path)
        c.accumIter = 1; c.epochs = 1; c.warmupEpochs = 0; c.blr = 0.2; c.clipGrad = 0; c.weightDecay = 0
        struct Same: ClipFeed {
            let batchesPerEpoch = 40
            func batches(epoch: Int, startBatch: Int) -> FeedIterator {
                let x = try! Tensor.randn([2, 3, 4, 32, 32], generator: Generator(seed: 5)).toArray(Float.self)
                return FeedIterator((startBatch ..< 40).map { ClipBatch(data: x, shape: [2, 3, 4, 32, 32], index: $0) })
            }
        }
        let s = try Pretrainer(c).run(feed: Same())
        let first = s.lossHistory.prefix(3).reduce(0, +) / 3, last = s.lossHistory.suffix(3).reduce(0, +) / 3
        #expect(last < 0.8 * first, "loss \(first) → \(last)")
    }

    @Test func familyNamesInPretrainAreCheckedByFlag() throws {
        var c = tinyMaskFeatConfig("unused")
        c.model = "timesformer_tiny"
        #expect { try Pretrainer(c) } throws: { "\($0)".contains("stmae finetune --model timesformer_tiny") }
        c = tinyMaskFeatConfig("unused"); c.decoderDepth = 2; c.normPixLoss = true
        #expect { try Pretrainer(c) } throws: { "\($0)".contains("--decoder_depth, --norm_pix_loss") }
        c = tinyMaskFeatConfig("unused"); c.patchSize = 4
        #expect { try Pretrainer(c) } throws: { "\($0)".contains("--patch_size 4") && "\($0)".contains("HOG") }
        c = tinyMaskFeatConfig("unused"); c.embedDim = 25
        #expect { try Pretrainer(c) } throws: { "\($0)".contains("--embed_dim 25") }
    }

    /// MaskFeat ViT-B/16, 16×224: every token through 12 blocks ≈ 6 · 86M · 1569 + attention ≈ 1.07 TFLOP per
    /// clip.
    @Test func maskFeatFlops() throws {
        var c = PretrainConfig()
        c.model = "maskfeat_vit_base"; c.imgSize = 224; c.numFrames = 16
        let f = try c.trainFlopsPerClip()
        let tokens = 1569.0
        let dense: Double = 6 * 85.5e6 * tokens
        let attention: Double = 3 * 12 * 4 * tokens * tokens * 768
        let approx = dense + attention
        #expect(abs(f / approx - 1) < 0.03, "\(f / 1e9) vs \(approx / 1e9) GFLOP")
    }

    /// `stmae finetune --model timesformer_* | vivit_*`: both train (loss falls on a learnable toy task) with
    /// layer-wise lr decay over their own layers, and a checkpoint resumes for evaluation.
    @Test(arguments: ["timesformer_tiny", "vivit_tiny_fe"]) func familyFinetunes(_ model: String) throws {
        let tmp = try TempDir("fam-ft"), dir = tmp.path
        var c = familyFinetuneConfig(model, dir)
        c.epochs = 6
        let f = try Finetuner(c, numClasses: 3)
        let scale = Dictionary(
            uniqueKeysWithValues: f.optimizer.groups.flatMap { g in g.names.map { ($0, g.lrScale) } })
        if model.hasPrefix("timesformer") {
            #expect(f.model is TimeSformer && f.model.numLayers == 3)
            #expect(scale["blocks.1.temporal_attn.qkv.weight"] == 1 * 0.75 && scale["head.weight"] == 1)
            #expect(abs(scale["time_embed"]! - pow(0.75, 3)) < 1e-12)
        } else {
            let v = try #require(f.model as? ViViT)
            #expect(v.config.temporalDepth == 2 && v.numLayers == 5)
            #expect(
                scale["temporal_blocks.1.mlp.fc1.weight"] == 0.75
                    && abs(scale["blocks.0.attn.qkv.weight"]! - pow(0.75, 4)) < 1e-12)
            #expect(scale["temporal_norm.weight"] == 1)
        }
        let noDecay = Set(f.optimizer.groups.filter { $0.weightDecay == 0 }.flatMap(\.names))
        #expect(noDecay.contains("cls_token") && noDecay.contains("pos_embed") && !noDecay.contains("head.weight"))
        let feed = ToyLabeledFeed(batchesPerEpoch: 6, shape: [4, 3, 4, 16, 16], classes: 3)
        let s = try f.run(train: feed, val: [feed])
        let first = s.lossHistory.prefix(3).reduce(0, +) / 3, last = s.lossHistory.suffix(3).reduce(0, +) / 3
        #expect(last < 0.7 * first, "\(model): loss \(first) → \(last)")
        #expect(s.bestTop1 > 50, "\(model): val top-1 \(s.bestTop1)")

        var e = c
        e.evalOnly = true; e.resume = dir + "/checkpoint-last.json"
        let g = try Finetuner(e, numClasses: 3)
        for (k, v) in try f.model.stateDict() {
            let w = try #require(try g.model.stateDict().first { $0.0 == k }?.1)
            #expect(try (w - v).abs().sum().item() == 0, "\(k)")
        }
    }

    /// `--finetune` of an image ViT into a TimeSformer: the image weights land (temporal attention copied).
    @Test func timesformerFromAnImageViT() throws {
        let tmp = try TempDir("fam-img"), dir = tmp.path
        let fixture = try TensorFile.load(imageViTFixture)
        let img = Dictionary(
            uniqueKeysWithValues: fixture.compactMap { k, v in k.hasPrefix("param.") ? (String(k.dropFirst(6)), v) : nil
            })
        try TensorFile.save(img.map { ($0.key, $0.value) }, to: dir + "/vit.safetensors")
        var c = familyFinetuneConfig("timesformer_tiny", dir)
        (c.imgSize, c.patchSize, c.finetune) = (8, 2, dir + "/vit.safetensors")
        let f = try Finetuner(c, numClasses: 5)
        let sd = Dictionary(uniqueKeysWithValues: try f.model.stateDict())
        #expect(try (sd["blocks.1.attn.qkv.weight"]! - img["blocks.1.attn.qkv.weight"]!).abs().sum().item() == 0)
        #expect(
            try (sd["blocks.1.temporal_attn.qkv.weight"]! - img["blocks.1.attn.qkv.weight"]!).abs().sum().item() == 0)
        #expect(try (sd["patch_embed.proj.weight"]! - img["patch_embed.proj.weight"]!).abs().sum().item() == 0)
        c.inflation = "sideways"
        #expect { try Finetuner(c, numClasses: 5) } throws: { "\($0)".contains("--inflation") }
    }

    /// An MAE-ST pre-training checkpoint initialises a ViViT (joint) encoder: q/k/v fused into qkv.
    @Test func vivitFromAnMAECheckpoint() throws {
        let tmp = try TempDir("fam-mae"), dir = tmp.path
        var p = tinyConfig(dir)
        (p.imgSize, p.patchSize, p.embedDim, p.depth, p.numHeads, p.epochs, p.maxSteps) = (16, 4, 24, 2, 2, 1, 1)
        let pre = try pretrainTwoBatches(p, size: 16)
        var c = familyFinetuneConfig("vivit_tiny_fe", dir + "/ft")
        c.model = "vivit_base_st"; c.finetune = dir + "/checkpoint-last.json"
        let f = try Finetuner(c, numClasses: 3)
        let mae = Dictionary(uniqueKeysWithValues: try pre.model.stateDict())
        let sd = Dictionary(uniqueKeysWithValues: try f.model.stateDict())
        let qkv = try Tensor.cat(["q", "k", "v"].map { mae["blocks.1.attn.\($0).weight"]! }, dim: 0)
        #expect(try (sd["blocks.1.attn.qkv.weight"]! - qkv).abs().sum().item() == 0)
        #expect(try (sd["patch_embed.proj.weight"]! - mae["patch_embed.proj.weight"]!).abs().sum().item() == 0)

        // TimeSformer has 2-D patches: an MAE-ST checkpoint is refused with the reason
        c.model = "timesformer_tiny"
        #expect { try Finetuner(c, numClasses: 3) } throws: {
            "\($0)".contains("--finetune") && "\($0)".contains("2-D patches")
        }
    }

    /// A MaskFeat pre-training checkpoint fine-tunes as a ViT (mae_st layout): `mask_token` and `pred_head` dropped.
    @Test func vitFromAMaskFeatCheckpoint() throws {
        let tmp = try TempDir("fam-mf"), dir = tmp.path
        var p = tinyMaskFeatConfig(dir)
        (p.epochs, p.maxSteps) = (1, 1)
        let pre = try pretrainTwoBatches(p)
        var c = familyFinetuneConfig("vit_tiny", dir + "/ft")
        (c.imgSize, c.patchSize, c.depth, c.finetune) = (32, 8, 1, dir + "/checkpoint-last.json")
        let f = try Finetuner(c, numClasses: 3)
        let mf = Dictionary(uniqueKeysWithValues: try pre.model.stateDict())
        let sd = Dictionary(uniqueKeysWithValues: try f.model.stateDict())
        #expect(try (sd["blocks.0.attn.q.weight"]! - mf["blocks.0.attn.q.weight"]!).abs().sum().item() == 0)

        c.model = "maskfeat_vit_tiny"
        #expect { try Finetuner(c, numClasses: 3) } throws: {
            "\($0)".contains("stmae pretrain --model maskfeat_vit_tiny")
        }
    }

    /// `pretrain --model maskfeat_* --init_from` an MAE-ST checkpoint: the MaskFeat encoder starts from its weights.
    @Test func maskFeatInitFromAnMAE() throws {
        let tmp = try TempDir("fam-init"), dir = tmp.path
        var p = tinyConfig(dir + "/mae")
        (p.embedDim, p.depth, p.numHeads, p.epochs, p.maxSteps) = (24, 1, 2, 1, 1)
        let mae = try pretrainTwoBatches(p)
        var c = tinyMaskFeatConfig(dir + "/mf")
        c.initFrom = dir + "/mae/checkpoint-last.json"
        let mf = try Pretrainer(c)
        let a = Dictionary(uniqueKeysWithValues: try mae.model.stateDict()),
            b = Dictionary(uniqueKeysWithValues: try mf.model.stateDict())
        for k in ["blocks.0.attn.q.weight", "patch_embed.proj.weight", "pos_embed_spatial", "norm.weight"] {
            #expect(try (a[k]! - b[k]!).abs().sum().item() == 0, "\(k)")
        }
        c.initFrom = dir + "/missing.pth"
        #expect { try Pretrainer(c) } throws: { "\($0)".contains("--init_from \(dir)/missing.pth") }
        p.initFrom = dir + "/mae/checkpoint-last.json"
        #expect { try Pretrainer(p) } throws: { "\($0)".contains("--init_from") && "\($0)".contains("MaskFeat") }
    }

    /// A sidecar written before a setting existed loads with that setting's default.
    @Test func oldSidecarsGetNewDefaults() throws {
        let tmp = try TempDir("fam-old"), dir = tmp.path
        var p = tinyConfig(dir)
        (p.epochs, p.maxSteps) = (1, 1)
        try pretrainTwoBatches(p)
        let path = dir + "/checkpoint-last.json"
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        var cfg = obj["config"] as! [String: Any]
        cfg["embed_dim"] = nil; cfg["num_heads"] = nil
        obj["config"] = cfg
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
        let (s, _) = try Checkpoint.load(path)
        #expect(s.config.embedDim == 0 && s.config.numHeads == 0 && s.config.decoderDepth == 1)
    }
}

@Suite(.serialized) struct FamilyCLITests {
    /// `pretrain --model maskfeat_vit_tiny`, `finetune --model timesformer_tiny`, then `visualize --attention` of that
    /// fine-tuning checkpoint; and the wrong command for a family name is an error that says which command to use.
    @Test(.timeLimit(.minutes(5))) func pretrainFinetuneVisualizeFamily() throws {
        let tmp = try TempDir("cli-family"), (data, out) = try tinyVideoSet(in: tmp)
        let sizes = [
            "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2", "--embed_dim", "24",
            "--depth", "1", "--num_heads", "2", "--num_workers", "1", "--threads", "1", "--log_every", "1"
        ]
        let pre = try runOK(
            [
                "pretrain", "--model", "maskfeat_vit_tiny", "--data_dirs", data, "--output_dir", out + "/pre",
                "--epochs", "1", "--max_steps", "2", "--batch_size", "2"
            ] + sizes)
        #expect(pre.stderr.contains("model maskfeat_vit_tiny") && pre.stderr.contains("MFU"), "\(pre.stderr)")
        let ft = try runOK(
            [
                "finetune", "--model", "timesformer_tiny", "--train_dir", data, "--val_dir", data,
                "--output_dir", out + "/ft", "--epochs", "1", "--batch_size", "4"
            ] + sizes)
        #expect(ft.stderr.contains("fine-tune timesformer_tiny") && ft.stderr.contains("val top-1"), "\(ft.stderr)")
        let png = out + "/attn.png"
        try runOK([
            "visualize", "--attention", "--checkpoint", out + "/ft/checkpoint-last.json",
            "--video", data + "/square_right/square_right_000.mp4", "--output", png
        ])
        #expect(FileManager.default.fileExists(atPath: png))

        let wrong = try runSTMAE(["pretrain", "--model", "vivit_tiny_fe"])
        #expect(wrong.status != 0 && wrong.stderr.contains("stmae finetune --model vivit_tiny_fe"), "\(wrong.stderr)")
        let wrong2 = try runSTMAE(["finetune", "--model", "maskfeat_vit_base"])
        #expect(
            wrong2.status != 0 && wrong2.stderr.contains("stmae pretrain --model maskfeat_vit_base"), "\(wrong2.stderr)"
        )
    }
}
