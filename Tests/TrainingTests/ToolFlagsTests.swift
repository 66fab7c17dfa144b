import Foundation
import Models
import NN
import Testing
import TestSupport
import Torch
@testable import Training

/// The tool subcommands (`convert`, `embed`, `visualize`, `launch`, `bench …`) on the one flag mechanism: a settings
/// struct per command, a `ConfigFlags` table with a range for every numeric flag, `--help` listing every flag with its
/// default, values checked before any work with the flag's name.
struct ToolFlagsTests {
    /// (subcommand words, the table's flags with their defaults, a parse over the defaults that validates).
    struct Table {
        let command: [String]
        let flags: [(name: String, shown: String)]
        /// The settings struct's stored properties, snake-cased.
        let fields: [String]
        let parse: ([String]) throws -> Void
        init<S: FlagSettings>(_ command: [String], _: S.Type) {
            self.command = command
            flags = S.flags.fields.map { ($0.name, $0.show(S())) }
            fields = Mirror(reflecting: S()).children.compactMap { $0.label.map(snakeCase) }
            parse = { _ = try S.parse($0) }
        }
    }

    static let tables = [
        Table(["convert"], ConvertSettings.self), Table(["embed"], EmbedSettings.self),
        Table(["visualize"], VisualizeSettings.self), Table(["launch"], LaunchSettings.self),
        Table(["bench", "engine"], BenchEngineSettings.self), Table(["bench", "pretrain"], BenchPretrainSettings.self),
        Table(["bench", "infer"], BenchInferSettings.self), Table(["bench", "loader"], BenchLoaderSettings.self),
        Table(["bench", "attention"], BenchAttentionSettings.self),
        Table(["bench", "linear"], BenchLinearSettings.self)
    ]

    /// One flag per setting: every stored property of a settings struct is a flag of its table, and no two flags
    /// write one property.
    @Test func everySettingIsAFlag() {
        for t in Self.tables {
            #expect(t.fields.sorted() == t.flags.map(\.name).sorted(), "\(t.command)")
        }
    }

    /// Every flag whose default is a number (or a list of integers) rejects a large negative value, naming the flag —
    /// i.e. every numeric flag has a range (`--mean` is any number by design).
    @Test func everyNumericFlagHasARange() {
        for t in Self.tables {
            for f in t.flags where f.name != "mean" {
                let words = f.shown.split(separator: " ").map(String.init)
                guard !words.isEmpty, words.allSatisfy({ Double($0) != nil }) else { continue }
                let bad = words.allSatisfy { Int($0) != nil } ? "-999999999" : "-1e30"
                // the struct's other required values, so that only the flag under test is wrong
                let required =
                    t.command == ["convert"]
                    ? ["--input", "a", "--output", "b"]
                    : t.command == ["embed"]
                        ? ["--checkpoint", "c", "--data", "d", "--output", "o.npy"]
                        : t.command == ["visualize"] ? ["--video", "v.mp4"] : []
                do {
                    try t.parse(required + ["--\(f.name)", bad])
                    Issue.record("\(t.command) --\(f.name) \(bad) was accepted")
                } catch {
                    #expect("\(error)".contains("--\(f.name) must be"), "\(t.command): \(error)")
                }
            }
        }
    }

    /// `--help` of each subcommand lists every flag of its table with the default.
    @Test func helpListsEveryFlagWithItsDefault() throws {
        for t in Self.tables {
            let r = try runSTMAE(t.command + ["--help"], timeout: 60)
            #expect(r.status == 0, "\(t.command): \(r.stderr)")
            let text = r.stderr.replacingOccurrences(of: "\n", with: " ")  // long lines are wrapped
            for f in t.flags {
                let line = "  --\(f.name)" + (f.shown.isEmpty ? "" : " " + f.shown)
                #expect(text.contains(line), "\(t.command): \(line)")
            }
        }
    }

    /// Bad values stop the command before any work (no checkpoint read, no process started), naming the flag; a
    /// negative value follows a space; the spellings of before (`--img-size`) still work.
    @Test func badValuesNameTheFlagBeforeAnyWork() throws {
        let embed = ["embed", "--checkpoint", "/nonexistent.pth", "--data", "/nonexistent", "--output", "/tmp/e.npy"]
        let cases: [([String], String)] = [
            (embed + ["--batch_size", "0"], "--batch_size must be > 0, got 0"),
            (embed + ["--num_workers", "-1"], "--num_workers must be ≥ 0, got -1"),
            (["embed", "--data", "/nonexistent", "--output", "/tmp/e.npy"], "--checkpoint is required"),
            (
                ["visualize", "--video", "/nonexistent.mp4", "--checkpoint", "/nonexistent.json", "--seed", "-1"],
                "--seed must be ≥ 0, got -1"
            ),
            (
                ["visualize", "--video", "/x.mp4", "--temporal_index", "2", "--num_temporal_views", "2"],
                "--temporal_index must be <"
            ),
            (["visualize", "--video", "/x.mp4", "--denorm", "both"], "--denorm must be visible or own, got both"),
            (["convert", "/nonexistent.pth", "/tmp/o.pth", "--num_heads", "-3"], "--num_heads must be ≥ 0, got -3"),
            (["convert", "/nonexistent.pth", "/tmp/o", "--to", "onnx"], "--to must be pth or"),
            (["launch", "--nproc_per_node", "0", "--", "pretrain"], "--nproc_per_node must be in [1, 1024], got 0"),
            (
                ["launch", "--nnodes", "2", "--node_rank", "2", "--", "pretrain"],
                "--node_rank must be < --nnodes (2), got 2"
            ),
            (["launch", "--nproc_per_node", "2"], "nothing to run"),
            (["bench", "pretrain", "--img-size", "0", "--single", "1,fp32"], "--img_size must be > 0, got 0"),
            (["bench", "pretrain", "--steps", "0"], "--steps must be > 0, got 0"),
            (["bench", "infer", "--batches", "1", "-2"], "--batches must be one or more values, each > 0"),
            (["bench", "infer", "--precisions", "fp32", "fp16"], "--precisions must be each fp32 or bf16"),
            (["bench", "loader", "--batch", "0"], "--batch must be > 0, got 0"),
            (["bench", "linear", "--rounds", "0"], "--rounds must be > 0, got 0"),
            (["bench", "--depth", "0"], "--depth must be > 0, got 0")  // engine, the default benchmark
        ]
        for (args, message) in cases {
            let r = try runSTMAE(args, timeout: 60)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    /// `launch` parses its own flags and forwards everything after `--` untouched (here to `convert`, whose error
    /// comes back through the launcher's exit status).
    @Test func launchForwardsTheCommand() throws {
        let port = 29_000 + Int.random(in: 0 ..< 900)
        let r = try runSTMAE(
            [
                "launch", "--nproc_per_node", "1", "--master_port", "\(port)", "--",
                "convert", "/nonexistent/in.pth", "/tmp/out.pth", "--num_heads", "3"
            ], timeout: 60)
        #expect(r.status != 0 && r.stderr.contains("IN '/nonexistent/in.pth': no such file"), "\(r.stderr)")
    }
}
