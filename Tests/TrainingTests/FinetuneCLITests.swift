import Foundation
import Media
import Testing
import TestSupport
import Torch
@testable import Training

@Suite(.serialized) struct FinetuneCLITests {
    /// pretrain → finetune --finetune (mixup, cutmix, RandAugment, erasing) → evaluate (2×3 views) → linprobe.
    @Test(.timeLimit(.minutes(5))) func pretrainFinetuneEvaluateLinprobe() throws {
        let tmp = try TempDir("cli-ft"), (data, out) = try tinyVideoSet(in: tmp)
        try runOK([
            "pretrain", "--data_dirs", data, "--output_dir", out + "/pre", "--epochs", "1", "--max_steps", "2",
            "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2", "--model",
            "mae_vit_tiny",
            "--batch_size_per_gpu", "2", "--decoder_depth", "1", "--threads", "1", "--num_workers", "1"
        ])
        let ck = out + "/pre/checkpoint-last.json"
        // The pre-trained encoder is tiny's (192 × 4): fine-tune it with matching sizes.
        let sizes = [
            "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2", "--batch_size", "4",
            "--num_workers", "1", "--threads", "1", "--log_every", "1"
        ]
        let ft = try runOK(
            [
                "finetune", "--finetune", ck, "--train_dir", data, "--val_dir", data, "--output_dir", out + "/ft",
                "--epochs", "1", "--mixup", "0.8", "--cutmix", "1.0", "--rand_aug", "rand-m7-mstd0.5-inc1",
                "--reprob", "0.25", "--smoothing", "0.1", "--layer_decay", "0.75", "--clip_grad", "1.0", "--bf16"
            ] + sizes)
        #expect(
            ft.stderr.contains("--finetune \(ck): loaded") && ft.stderr.contains("freshly initialised: head.weight"))
        #expect(ft.stderr.contains("val top-1") && ft.stderr.contains("skipping unreadable video"))
        // validation has its own progress line (not a terminal: the final one, all batches done, with the rate)
        let validation = ft.stderr.split(separator: "\n").filter { $0.hasPrefix("validation ") }
        #expect(validation.contains { $0.contains("(100%)") && $0.contains("batches/s") }, "\(ft.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out + "/ft")
        #expect(files.contains("checkpoint-best.json") && files.contains("confusion_val.png"))

        let ev = try runOK([
            "evaluate", "--resume", out + "/ft/checkpoint-best.json", "--val_dir", data,
            "--num_temporal_views", "2", "--num_spatial_crops", "3", "--output_dir", out + "/eval", "--threads", "1"
        ])
        #expect(ev.stderr.contains("16 videos × 6 views: top-1"), "\(ev.stderr)")
        let report =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/eval/eval.json")))
            as! [String: Any]
        #expect((report["perClass"] as! [Double]).count == 8 && (report["classNames"] as! [String])[0] == "circle_left")
        let png = try Image.load(path: out + "/eval/confusion.png")
        #expect(png.width > 8 * 8 && png.height > 8 * 8)
        // TensorBoard events of the fine-tuning and the evaluation, read by TensorBoard, agree with log.jsonl
        let ftEvents = try TensorBoardTests.check(out + "/ft", lossTag: "loss", batchesPerEpoch: nil, files: 1)
        let ftScalars = ftEvents["scalars"] as! [String: [[Double]]]
        #expect(ftScalars["perf/test_acc1"]?.count == 1)
        // the end-of-run data summary sits at the last training step, not at 0
        let lastStep = try #require(ftScalars["step/loss"]?.last?[0])
        let skipped = ftScalars["data/skipped"] ?? []
        #expect(lastStep > 0 && skipped.map { $0[0] } == [lastStep], "\(skipped)")
        #expect(ftScalars["step/data_wait_share"]?.count == ftScalars["step/loss"]?.count)
        let evEvents = try TensorBoardTests.check(out + "/eval", lossTag: "loss", batchesPerEpoch: nil, files: 1)
        #expect((evEvents["scalars"] as! [String: [[Double]]])["eval/top1"]?.count == 1)
        #expect((evEvents["images"] as! [String: [[Int]]])["confusion"]?.count == 1)

        let lp = try runSTMAE(
            [
                "linprobe", "--finetune", ck, "--train_dir", data, "--val_dir", data, "--output_dir", out + "/lp",
                "--epochs", "1", "--max_steps", "2"
            ] + sizes)
        #expect(
            lp.status == 0 && lp.stderr.contains("linear probe") && lp.stderr.contains("continue with --resume"),
            "\(lp.stderr)")
    }

    /// Same `--seed`, same run (mae_st seeds torch before building the model): the fresh head, drop path, dropout and
    /// mixup draw the same numbers, so the logged losses and the saved weights agree exactly; another seed differs.
    @Test(.timeLimit(.minutes(5))) func sameSeedSameRun() throws {
        let tmp = try TempDir("cli-seed"), (data, out) = try tinyVideoSet(in: tmp)
        try runOK([
            "pretrain", "--data_dirs", data, "--output_dir", out + "/pre", "--epochs", "1", "--max_steps", "1",
            "--model", "mae_vit_tiny", "--embed_dim", "64", "--depth", "2", "--num_heads", "2",
            "--decoder_depth", "1", "--batch_size_per_gpu", "2", "--img_size", "32", "--patch_size", "8",
            "--num_frames", "4", "--sampling_rate", "2", "--num_workers", "1", "--threads", "1"
        ])
        func run(_ name: String, seed: Int) throws -> (losses: [String], weights: [String: Tensor]) {
            try runOK(
                [
                    "finetune", "--finetune", out + "/pre/checkpoint-last.json", "--train_dir", data,
                    "--output_dir", out + "/" + name, "--epochs", "1", "--max_steps", "3", "--seed", "\(seed)",
                    "--drop_path_rate", "0.3", "--dropout", "0.5", "--mixup", "0.8"
                ] + tinyFinetuneFlags)
            let log = try String(contentsOfFile: out + "/\(name)/log.jsonl", encoding: .utf8)
            let losses = log.split(separator: "\n").filter { $0.contains("\"type\":\"step\"") }.map { line in
                String(line.split(separator: ",").first { $0.contains("\"loss\"") } ?? "")
            }
            return (losses, try TensorFile.load(out + "/\(name)/checkpoint-last.safetensors"))
        }
        let a = try run("a", seed: 7), b = try run("b", seed: 7), c = try run("c", seed: 8)
        #expect(a.losses.count == 3 && a.losses == b.losses, "\(a.losses) vs \(b.losses)")
        #expect(a.weights.keys.sorted() == b.weights.keys.sorted())
        for (k, w) in a.weights {
            #expect(
                try w.toArray(Float.self) == b.weights[k]!.toArray(Float.self),
                "\(k) differs between two runs of seed 7")
        }
        #expect(try a.weights["head.weight"]!.toArray(Float.self) != c.weights["head.weight"]!.toArray(Float.self))
    }

    /// `finetune --resume` alone trains on the checkpoint's data with its settings (not the built-in set).
    @Test(.timeLimit(.minutes(5))) func resumeAloneKeepsTheRunsData() throws {
        let tmp = try TempDir("cli-ft-resume"), (data, out) = try tinyVideoSet(in: tmp)
        try runOK(
            [
                "finetune", "--train_dir", data, "--output_dir", out, "--epochs", "2", "--max_steps", "2",
                "--model", "vit_tiny"
            ] + tinyFinetuneFlags)
        let resumed = try runOK(["finetune", "--resume", out + "/checkpoint-last.json", "--max_steps", "1"])
        #expect(
            resumed.stderr.contains("continuing with the checkpoint's settings")
                && resumed.stderr.contains("data: 17 training"),
            "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resumed from") && resumed.stderr.contains("step 3"))
    }

    @Test func badFlagsNameTheFlag() throws {
        // a run that gets past its flags writes its lists and logs into --output_dir: a temporary one, not the
        // repository's ./output_finetune
        let tmp = try TempDir("cli-ft-bad")
        let cases: [([String], String)] = [
            (["finetune", "--layer_decay", "2"], "--layer_decay"),
            (["finetune", "--mixup", "abc"], "--mixup"),
            (["finetune", "--rand_aug", "rand-x9"], "--rand_aug"),
            (["finetune", "--num_spatial_crops", "2"], "--num_spatial_crops"),
            (
                ["finetune", "--train_dir", "/nonexistent/train", "--val_dir", "/nonexistent/val"],
                "--train_dir /nonexistent/train"
            ),
            (["finetune", "--finetune", "/nonexistent/mae.pth"] + tinyFinetuneFlags, "--finetune /nonexistent/mae.pth"),
            (["finetune", "--batch_size", "3", "--mixup", "0.8"], "--batch_size"),
            (["evaluate"], "--resume"),
            (["evaluate", "--resume", "/nonexistent/ck.json"], "/nonexistent/ck.json"),
            (["finetune-image", "--frac_retained", "0"], "--frac_retained"),
            (["linprobe", "--bogus_flag", "1"], "--bogus_flag")
        ]
        for (args, message) in cases {
            let r = try runSTMAE(args + ["--output_dir", tmp.path], timeout: 120)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
