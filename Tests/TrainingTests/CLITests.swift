import Foundation
import Media
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// Tiny labelled videos (8 classes × 2, 16 frames of 32×32) plus one corrupt file in `tmp`/videos, and an empty
/// output folder `tmp`/out; returns (data: the train folder, out).
func tinyVideoSet(in tmp: TempDir) throws -> (data: String, out: String) {
    let root = tmp.sub("videos"), out = tmp.sub("out")
    try SyntheticVideos.generate(root: root, trainPerClass: 2, valPerClass: 0, seed: 3, frames: 16, size: 32)
    try Data("not a video".utf8).write(to: URL(fileURLWithPath: root + "/train/circle_left/broken.mp4"))
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    return (root + "/train", out)
}

/// The names of the complete events (`"ph": "X"`) of the Chrome trace at `path`.
func tracedOps(_ path: String) throws -> Set<String> {
    let events =
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]] ?? []
    return Set(events.compactMap { $0["ph"] as? String == "X" ? $0["name"] as? String : nil })
}

let tinyCLIFlags = [
    "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2",
    "--batch_size_per_gpu", "2", "--repeat_aug", "2", "--decoder_depth", "1", "--warmup_epochs", "1",
    "--num_workers", "2", "--threads", "1", "--log_every", "1"
]

let tinyFinetuneFlags = [
    "--img_size", "32", "--patch_size", "8", "--num_frames", "4", "--sampling_rate", "2",
    "--embed_dim", "64", "--depth", "2", "--num_heads", "2", "--batch_size", "4",
    "--num_workers", "1", "--threads", "1", "--log_every", "1"
]

@Suite(.serialized) struct CLITests {
    @Test(.timeLimit(.minutes(5))) func pretrainThenVisualize() throws {
        let tmp = try TempDir("cli-out"), (data, out) = try tinyVideoSet(in: tmp)
        let run = try runOK(
            [
                "pretrain", "--data_dirs", data, "--output_dir", out, "--epochs", "2", "--checkpoint_period", "1",
                "--num_checkpoint_del", "1"
            ] + tinyCLIFlags)
        #expect(run.stderr.contains("skipping unreadable video \(data)/circle_left/broken.mp4"))
        #expect(run.stderr.contains("skipped 1 unreadable video(s)"))
        let csv = try String(contentsOfFile: out + "/train.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 17 && csv.allSatisfy { $0.contains(data) })
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        #expect(
            files.contains("checkpoint-00001.json") && !files.contains("checkpoint-00000.json")
                && files.contains("loss_curve.png"))
        let log = try String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)
        #expect(
            log.components(separatedBy: "\"type\":\"step\"").count - 1 == 16,
            "17 videos / batch 2 → 8 steps × 2 epochs")

        let png = out + "/recon.png"
        try runOK([
            "visualize", "--checkpoint", out + "/checkpoint-00001.json", "--video",
            data + "/square_right/square_right_000.mp4",
            "--output", png
        ])
        let img = try Image.load(path: png)
        // labelled rows (Figure.frameRows): 4 frames of 32 px enlarged 3× to 96, 6 px gaps, 96 px of row labels,
        // a 60 px title band
        #expect(img.width == 96 + 4 * (96 + 6) + 10 && img.height == 60 + 3 * (96 + 6) + 6)
        #expect(FileManager.default.fileExists(atPath: out + "/recon.svg"))
    }

    @Test(.timeLimit(.minutes(5))) func sigintSavesACheckpointThatResumes() throws {
        let tmp = try TempDir("cli-int"), (data, out) = try tinyVideoSet(in: tmp)
        let run = try runSTMAE(["pretrain", "--data_dirs", data, "--output_dir", out, "--epochs", "500"] + tinyCLIFlags)
        { p in
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline,
                ((try? String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)) ?? "").count < 10
            { usleep(20_000) }
            kill(p.processIdentifier, SIGINT)
        }
        #expect(run.status == 130, "\(run.stderr)")  // 128 + SIGINT, after saving
        #expect(run.stderr.contains("continue with --resume"))
        let (state, _) = try Checkpoint.load(out + "/checkpoint-last.json")
        #expect(state.step >= 1 && state.epoch < 500)
        let resumed = try runOK(
            [
                "pretrain", "--data_dirs", data, "--output_dir", out, "--epochs", "500", "--max_steps", "2",
                "--resume", out + "/checkpoint-last.json"
            ] + tinyCLIFlags)
        #expect(resumed.stderr.contains("resumed from") && resumed.stderr.contains("step \(state.step + 2)"))
    }

    /// `--resume` alone continues the same run: the checkpoint's data, model, schedule and output folder (not the
    /// defaults: 12 epochs, the built-in data, ./output_pretrain); a flag given overrides and is logged.
    @Test(.timeLimit(.minutes(5))) func resumeAloneContinuesTheRun() throws {
        let tmp = try TempDir("cli-resume-alone"), (data, out) = try tinyVideoSet(in: tmp)
        try runOK(
            ["pretrain", "--data_dirs", data, "--output_dir", out, "--epochs", "2", "--max_steps", "3"] + tinyCLIFlags)
        let resumed = try runOK(["pretrain", "--resume", out + "/checkpoint-last.json"])
        #expect(
            resumed.stderr.contains("continuing with the checkpoint's settings")
                && resumed.stderr.contains("resumed from"))
        #expect(
            resumed.stderr.contains("17 videos") && resumed.stderr.contains("outputs in \(out)"), "\(resumed.stderr)")
        let (done, _) = try Checkpoint.load(out + "/checkpoint-00001.json")  // the run's last epoch (of 2)
        #expect(done.epoch == 2 && done.config.epochs == 2 && done.config.dataDirs == [data])
        let more = try runSTMAE([
            "pretrain", "--resume", out + "/checkpoint-00001.json", "--epochs", "3", "--max_steps", "1"
        ])
        #expect(more.status == 0 && more.stderr.contains("overridden: --epochs 3 (was 2)"), "\(more.stderr)")
    }

    /// bf16 steps run their linears on the library --bf16-linear names (OpenBLAS's sgemm of widened values is recorded
    /// as `stmae::openblas_sgemm`; libtorch's bf16 GEMM is not), and no convolution: the kept patches are embedded by a
    /// linear (`PatchEmbed.callAsFunction(_:keeping:)`); `onednn` is rejected, naming the flag.
    @Test func benchTraceRecordsTheBf16Linears() throws {
        let tmp = try TempDir("trace-bf16"), out = tmp.path
        for backend in ["openblas", "libtorch"] {
            let run = try runOK([
                "bench", "pretrain", "--model", "mae_vit_tiny", "--img-size", "64", "--num-frames", "4",
                "--warmup", "1", "--steps", "1", "--single", "1,bf16", "--trace", out + "/t.json", "--bf16-linear",
                backend
            ])
            #expect(run.stderr.contains("\"linear\":\"\(backend)\""), "\(run.stderr)")
            let names = try tracedOps(out + "/t.json")
            #expect(names.contains("stmae::openblas_sgemm") == (backend == "openblas"), "\(backend)")
            #expect(
                !names.contains { $0.contains("conv") },
                "pre-training ran a convolution: \(names.filter { $0.contains("conv") })")
        }
        let bad = try runSTMAE(["bench", "pretrain", "--single", "1,bf16", "--bf16-linear", "onednn"])
        #expect(bad.status != 0 && bad.stderr.contains("--bf16_linear must be libtorch or openblas"), "\(bad.stderr)")
    }

    /// `bench pretrain --single … --trace` writes a Chrome trace of the timed steps (in its own process: the
    /// recorder sees every thread of the process, so it must not run beside other tests).
    @Test func benchTraceRecordsTheStep() throws {
        let tmp = try TempDir("trace"), out = tmp.path
        // fp32 linears run the library --fp32-linear names (OpenBLAS's sgemm is recorded as `stmae::openblas_sgemm`,
        // oneDNN's matmul as `mkldnn::_linear_pointwise`, libtorch's as `aten::addmm`); attention the fused fp32 kernel
        // on AVX2/FMA CPUs where it is preferred (forward recorded as `stmae::fused_attention`, backward as its
        // autograd node), or libtorch's flash kernel (fp32 on AMX CPUs, and with --no-fused-attention).
        let flash = "aten::_scaled_dot_product_flash_attention_for_cpu"
        let fused =
            Runtime.fusedAttentionPreferred(.float32)
            ? ["stmae::fused_attention", "torch::autograd::CppNode<(anonymous namespace)::FusedAttention>"] : [flash]
        let linearOps = [
            "openblas": "stmae::openblas_sgemm", "onednn": "mkldnn::_linear_pointwise", "libtorch": "aten::addmm"
        ]
        for (backend, extra, attention) in [
            ("openblas", [String](), fused), ("onednn", [], fused), ("libtorch", ["--no-fused-attention"], [flash])
        ] {
            let flags = ["--fp32-linear", backend] + extra
            let run = try runOK(
                [
                    "bench", "pretrain", "--model", "mae_vit_tiny", "--img-size", "64", "--num-frames", "4",
                    "--warmup", "1", "--steps", "1", "--single", "1,fp32", "--trace", out + "/t.json"
                ] + flags)
            #expect(run.stderr.contains("\"linear\":\"\(backend)\""), "\(run.stderr)")
            let names = try tracedOps(out + "/t.json")
            let shown = names.sorted().filter {
                $0.hasPrefix("aten::a") || $0.hasPrefix("mkldnn") || $0.hasPrefix("stmae") || $0.contains("Attention")
            }
            #expect(
                names.isSuperset(of: [linearOps[backend]!, "aten::_fused_adamw_"] + attention), "\(flags): \(shown)")
            for (other, op) in linearOps where other != backend && op != "aten::addmm" {
                #expect(!names.contains(op), "\(flags): \(op)")
            }
            #expect(names.contains(flash) == (attention == [flash]), "\(flags)")
        }
    }

    /// `bench attention` (its own process: it switches the fused kernels on and off process-wide) prints one JSON line
    /// per precision the CPU runs and shape, with both kernels' times; a precision the CPU lacks is an error naming it.
    @Test func benchAttentionComparesBothKernels() throws {
        let run = try runSTMAE([
            "bench", "attention", "--shapes", "1,2,40,32", "1,1,9,64", "--steps", "1", "--rounds", "1"
        ])
        let available = [("bf16", DType.bfloat16), ("fp32", .float32)].filter { Runtime.fusedAttentionAvailable($0.1) }
            .map(\.0)
        guard !available.isEmpty else {
            #expect(run.status != 0 && run.stderr.contains("no fused attention kernel"), "\(run.stderr)")
            return
        }
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { ($0["bench"] as? String ?? "").hasPrefix("attention_") }
        #expect(
            lines.map { "\($0["bench"] ?? "") \($0["shape"] as? [Int] ?? [])" }
                == available.flatMap { p in ["attention_\(p) [1, 2, 40, 32]", "attention_\(p) [1, 1, 9, 64]"] })
        for l in lines {
            for key in [
                "fused_forward_s", "flash_forward_s", "fused_train_s", "flash_train_s", "forward_ratio", "train_ratio"
            ] {
                #expect((l[key] as? Double ?? 0) > 0, "\(key) in \(l)")
            }
        }
        #expect(try runSTMAE(["bench", "attention", "--shapes", "1,2,40"]).stderr.contains("expected B,H,L,D"))
        #expect(try runSTMAE(["bench", "attention", "--precisions", "fp16"]).stderr.contains("expected bf16 or fp32"))
        if !Runtime.fusedAttentionAvailable(.bfloat16) {
            #expect(try runSTMAE(["bench", "attention", "--precisions", "bf16"]).stderr.contains("no AVX-512 BF16"))
        }
    }

    /// `bench linear` prints one JSON line per shape with every GEMM library's forward and training rate.
    @Test func benchLinearComparesTheLibraries() throws {
        let run = try runOK(["bench", "linear", "--shapes", "20,16,24", "3,8,5", "--steps", "1", "--rounds", "1"])
        let lines = run.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["bench"] as? String == "linear_fp32" }
        #expect(lines.map { $0["shape"] as? [Int] ?? [] } == [[20, 16, 24], [3, 8, 5]])
        for l in lines {
            for b in LinearBackend.allCases {
                for key in ["\(b.name)_forward_gflops", "\(b.name)_train_gflops"] {
                    #expect((l[key] as? Double ?? 0) > 0, "\(key) in \(l)")
                }
            }
        }
        #expect(try runSTMAE(["bench", "linear", "--shapes", "20,16"]).stderr.contains("expected M,K,N"))
        #expect(try runSTMAE(["bench", "linear", "--backends", "cublas"]).stderr.contains("cublas"))
    }

    @Test func badInputExitsWithAMessage() throws {
        let cases: [([String], String)] = [
            (["pretrain", "--epochs", "zero"], "--epochs expects an integer"),
            (["pretrain", "--data_dirs", "/nonexistent/videos"], "--data_dirs /nonexistent/videos: no such directory"),
            (["pretrain", "--mask_ratio", "1.5"], "--mask_ratio"),
            (["pretrain", "--seed", "-1"], "--seed must be ≥ 0"),  // was SIGILL
            (["pretrain", "--jitter_scales_relative", "1.0", "0.5"], "--jitter_scales_relative"),  // was SIGILL
            (["finetune", "--seed", "-1"], "--seed must be ≥ 0"),
            (["visualize", "--checkpoint", "/nonexistent/ck.json", "--video", "/x.mp4"], "/nonexistent/ck.json")
        ]
        for (args, message) in cases {
            let r = try runSTMAE(args, timeout: 60)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}

/// Every `--flag` that the binary's strings (error messages, help) or the README name is a flag of some subcommand:
/// the union of every (also hidden) subcommand's `--help`, with `--no_X` for a boolean `--X` of the settings flags.
@Suite struct NamedFlagsTests {
    /// `--word` tokens of a text (two characters at least; a token ending in `_`/`-` is the head of an interpolated
    /// name, e.g. "--no_\\(name)", and is skipped).
    static func flags(in bytes: [UInt8]) -> Set<String> {
        func word(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 95 || c == 45 }
        var out = Set<String>(), i = 0
        while i + 2 < bytes.count {
            if bytes[i] == 45, bytes[i + 1] == 45, bytes[i + 2] >= 97, bytes[i + 2] <= 122, i == 0 || bytes[i - 1] != 45
            {
                var j = i + 2
                while j < bytes.count, word(bytes[j]) { j += 1 }
                let token = String(decoding: bytes[i ..< j], as: UTF8.self)
                if j - i >= 4, !token.hasSuffix("_"), !token.hasSuffix("-") { out.insert(token) }
                i = j
            } else {
                i += 1
            }
        }
        return out
    }

    /// Not stmae flags, each named for a reason: ArgumentParser's own, the placeholder of a usage message, arguments
    /// of the Python reference scripts that `bench` runs, pip's option in the README's set-up text.
    static let foreign: Set<String> = [
        "--generate-completion-script", "--experimental-dump-help", "--completion", "--tokens-raw",
        "--name", "--shape", "--target", "--logdir"  // --logdir: TensorBoard's own, in the README
    ]

    /// The distributed tests' per-rank worker is a test-only executable beside `stmae`, not a (hidden) subcommand.
    @Test func distWorkerIsNotAStmaeSubcommand() throws {
        let r = try runSTMAE(["dist-worker", "allreduce"], timeout: 60)
        #expect(r.status != 0 && r.stderr.contains("dist-worker"), "\(r.stderr)")
        #expect(hasProduct("stmae-dist-worker"), "swift build --build-tests builds Tests/DistWorker")
    }

    @Test func everyNamedFlagExists() throws {
        var known = Set<String>(), todo: [[String]] = [[]]
        while let args = todo.popLast() {
            let r = try runSTMAE(args + ["--help"], timeout: 60)
            #expect(r.status == 0, "\(args) --help: \(r.stderr)")
            known.formUnion(Self.flags(in: Array(r.stderr.utf8)))
            var inList = false
            for line in r.stderr.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("SUBCOMMANDS") { inList = true; continue }
                guard inList else { continue }
                if !line.hasPrefix(" ") && !line.isEmpty { inList = false; continue }
                let name = line.dropFirst(2).prefix { $0 != " " }
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let c = name.first, c.isLowercase, name != "help"
                else { continue }
                todo.append(args + [String(name)])
            }
        }
        #expect(
            known.contains("--batch_size_per_gpu") && known.contains("--layer_decay")
                && known.contains("--nproc_per_node"))
        func exists(_ f: String) -> Bool {
            known.contains(f) || Self.foreign.contains(f)
                || (f.hasPrefix("--no_") && known.contains("--" + f.dropFirst(5)))
        }
        let binary = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try productPath("stmae"))))
        let inBinary = Self.flags(in: binary).filter { !exists($0) }
        #expect(inBinary.isEmpty, "flags named by stmae's strings that no subcommand accepts: \(inBinary.sorted())")
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let inReadme = Self.flags(in: Array(readme.utf8)).filter { !exists($0) }
        #expect(inReadme.isEmpty, "flags the README names that no subcommand accepts: \(inReadme.sorted())")
    }
}
