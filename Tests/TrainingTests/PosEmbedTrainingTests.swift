import Foundation
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// Positional layouts through the commands: `--no_sep_pos_embed` / `--sep_pos_embed false` is mae_st's learned joint
/// table, `--sincos_pos_embed` the fixed VideoMAE sinusoid; stmae checkpoints written before the joint table
/// (`"sep_pos_embed": false` for the sinusoid) still load as the sinusoid.
@Suite(.serialized) struct PosEmbedTrainingTests {
    let flags = PretrainConfig.flags

    @Test func flagsSelectTheLayout() throws {
        #expect(try flags.parse([], onto: PretrainConfig()).maeConfig().posEmbedType == .separable)
        #expect(try flags.parse(["--no_sep_pos_embed"], onto: PretrainConfig()).maeConfig().posEmbedType == .joint)
        #expect(
            try flags.parse(["--sep_pos_embed", "false"], onto: PretrainConfig()).maeConfig().posEmbedType == .joint)
        #expect(try flags.parse(["--sincos_pos_embed"], onto: PretrainConfig()).maeConfig().posEmbedType == .sinusoid)
        #expect {
            try flags.parse(["--model", "maskfeat_vit_tiny", "--sincos_pos_embed"], onto: PretrainConfig()).validate()
        } throws: {
            "\($0)".contains("--sincos_pos_embed")
        }
        var f = FinetuneConfig()
        f.sepPosEmbed = false
        #expect(try classifierConfig(f, numClasses: 3).posEmbedType == .joint)
        f.sincosPosEmbed = true
        #expect(try classifierConfig(f, numClasses: 3).posEmbedType == .sinusoid)
        f = FinetuneConfig()
        f.model = "videomae_vit_small_patch16"
        #expect(try classifierConfig(f, numClasses: 3).posEmbedType == .sinusoid)
    }

    /// Pre-training with the joint table: checkpoints hold `pos_embed` and `decoder_pos_embed`, resume is exact, the
    /// model reloads as joint, and a classifier fine-tunes from it.
    @Test func pretrainJointResumeAndFinetune() throws {
        let feed = RandomFeed(batchesPerEpoch: 3, shape: [2, 3, 4, 32, 32])
        let t1 = try TempDir("joint-full"), t2 = try TempDir("joint-resume"), d1 = t1.path, d2 = t2.path
        var c = tinyConfig(d1)
        (c.sepPosEmbed, c.epochs, c.accumIter) = (false, 1, 1)
        let full = try Pretrainer(c).run(feed: feed)
        let saved = try TensorFile.load(d1 + "/checkpoint-00000.safetensors")
        #expect(saved["pos_embed"]?.shape == [1, 33, 192] && saved["decoder_pos_embed"]?.shape == [1, 33, 128])
        #expect(!saved.keys.contains { $0.hasPrefix("pos_embed_") })
        c.outputDir = d2; c.maxSteps = 2
        _ = try Pretrainer(c).run(feed: feed)
        c.maxSteps = 0; c.resume = d2 + "/checkpoint-last.json"
        #expect(try Pretrainer(c).run(feed: feed).lossHistory == full.lossHistory)
        let (model, cfg) = try Checkpoint.loadModel(d1 + "/checkpoint-00000.json")
        #expect(model.config.posEmbedType == .joint && !cfg.sepPosEmbed && !cfg.sincosPosEmbed)

        var f = FinetuneConfig()
        (f.imgSize, f.numFrames, f.sepPosEmbed, f.finetune, f.outputDir) = (
            32, 4, false, d1 + "/checkpoint-00000.json", d2 + "/ft"
        )
        f.patchSize = 8
        let ft = try Finetuner(f, numClasses: 3)
        let vit = try #require(ft.model as? VisionTransformer)
        #expect(try (vit.posEmbed! - model.posEmbed!).abs().sum().item() == 0)
        f.sepPosEmbed = true  // the separable classifier cannot take it, and says which flag would
        #expect { try Finetuner(f, numClasses: 3) } throws: { "\($0)".contains("--no_sep_pos_embed") }
    }

    /// A sidecar without `sincos_pos_embed` and `"sep_pos_embed": false` (written before the joint table) is the
    /// sinusoid when its weights have no `pos_embed`, the joint table when they do.
    @Test func checkpointsFromBeforeTheJointTable() throws {
        let feed = RandomFeed(batchesPerEpoch: 1, shape: [2, 3, 4, 32, 32])
        for (type, flag) in [(PosEmbedType.sinusoid, "sincos"), (.joint, "joint")] {
            let tmp = try TempDir("legacy-\(flag)"), d = tmp.path
            var c = tinyConfig(d)
            (c.sepPosEmbed, c.sincosPosEmbed, c.epochs, c.accumIter) = (false, type == .sinusoid, 1, 1)
            try Pretrainer(c).run(feed: feed)
            let json = d + "/checkpoint-00000.json"
            var obj =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
            var cfg = obj["config"] as! [String: Any]
            cfg.removeValue(forKey: "sincos_pos_embed")
            obj["config"] = cfg
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: json))
            let (s, _) = try Checkpoint.load(json)
            #expect(try s.config.maeConfig().posEmbedType == type, "\(flag)")
            let (model, _) = try Checkpoint.loadModel(json)
            #expect(model.config.posEmbedType == type)
        }
    }

    /// The CLI: `pretrain --no_sep_pos_embed`, `finetune --sep_pos_embed false` from it (without the flag: an error
    /// naming it), `convert` to `.pth` and back keeping both tables, and to Hugging Face refused.
    @Test(.timeLimit(.minutes(5))) func commandLine() throws {
        let tmp = try TempDir("cli-joint"), (data, out) = try tinyVideoSet(in: tmp)
        let sizes = [
            "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2", "--threads", "1",
            "--num_workers", "1"
        ]
        try runOK(
            [
                "pretrain", "--no_sep_pos_embed", "--data_dirs", data, "--output_dir", out + "/pre", "--epochs", "1",
                "--max_steps", "1", "--batch_size_per_gpu", "2", "--decoder_depth", "1"
            ] + sizes)
        let ck = out + "/pre/checkpoint-last.json"
        let weights = try TensorFile.load(out + "/pre/checkpoint-last.safetensors")
        #expect(weights["pos_embed"]?.shape == [1, 33, 192] && weights["decoder_pos_embed"] != nil)
        let ftArgs =
            [
                "finetune", "--finetune", ck, "--train_dir", data, "--val_dir", data, "--output_dir", out + "/ft",
                "--epochs", "1",
                "--max_steps", "1", "--batch_size", "4"
            ] + sizes
        let ft = try runSTMAE(ftArgs + ["--sep_pos_embed", "false"])
        #expect(ft.status == 0 && ft.stderr.contains("--finetune \(ck): loaded"), "\(ft.stderr)")
        let bad = try runSTMAE(ftArgs)
        #expect(
            bad.status != 0 && bad.stderr.contains("unexpected keys (1): pos_embed")
                && bad.stderr.contains("--no_sep_pos_embed"),
            "\(bad.stderr)")
        for (a, b) in [(ck, "/m.pth"), ("/m.pth", "/m.safetensors")] {
            try runOK(["convert", a.hasPrefix("/m") ? out + a : a, out + b])
        }
        let back = try Weights.read(out + "/m.safetensors")
        #expect(Set(back.map(\.0)) == Set(weights.keys))
        for (k, t) in back { #expect(try (t - weights[k]!).abs().sum().item() == 0, "\(k)") }
        let hf = try runSTMAE([
            "convert", out + "/m.pth", out + "/hf", "--num_heads", "3", "--img_size", "32", "--num_frames", "4"
        ])
        #expect(
            hf.status != 0 && hf.stderr.contains("learned joint position table (pos_embed)")
                && hf.stderr.contains("cannot be expressed as VideoMAE"), "\(hf.stderr)")
    }
}
