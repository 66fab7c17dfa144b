import ArgumentParser
import Foundation
import NN
import Torch
import Training

/// `stmae bench …`: benchmarks printed as JSON lines, each beside the PyTorch reference run in the same invocation.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (JSON lines: s/step medians and the ratio against PyTorch eager).",
        subcommands: [
            BenchEngine.self, BenchPretrain.self, BenchInfer.self, BenchLoader.self, BenchAttention.self,
            BenchLinear.self
        ], defaultSubcommand: BenchEngine.self)
}

struct BenchEngine: SettingsCommand {
    static let configuration = command(
        "engine", "ViT-B block stack (12×768, 12 heads, MLP 3072) forward+backward, fp32 and bf16 autocast.")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
    func run(_ s: BenchEngineSettings) throws {
        let shapes = try parseShapes(s.shapes, dims: 3, format: "N,L,D")
        for (shapeText, shape) in zip(s.shapes, shapes) {
            for bf16 in s.precisions.map({ $0 == "bf16" }) {
                let ours = try Self.benchStack(s, shape: shape, bf16: bf16)
                var line: [String: Any] = [
                    "bench": "engine_block_stack", "impl": "stmae", "shape": shape, "bf16": bf16,
                    "depth": s.depth, "s_per_step": ours, "threads": Runtime.numThreads
                ]
                if !s.noReference {
                    let args =
                        [
                            "--shape", shapeText, "--depth", "\(s.depth)", "--heads", "\(s.heads)",
                            "--warmup", "\(s.warmup)", "--steps", "\(s.steps)"
                        ] + (bf16 ? ["--bf16"] : [])
                    let ref = try runReference("bench_engine.py", args)
                    if let r = ref["s_per_step"] as? Double {
                        line["pytorch_s_per_step"] = r
                        line["ratio_vs_pytorch"] = r / ours
                    }
                }
                printJSON(line)
            }
        }
    }

    /// Median seconds of forward + backward through `depth` blocks.
    static func benchStack(_ s: BenchEngineSettings, shape: [Int], bf16: Bool) throws -> Double {
        let blocks = try (0 ..< s.depth).map { _ in try Block(dim: shape[2], heads: s.heads) }
        let x = try Tensor.randn(shape)
        var times: [Double] = []
        for i in 0 ..< (s.warmup + s.steps) {
            let t0 = DispatchTime.now()
            let y = try withAutocast(enabled: bf16) { try blocks.reduce(x) { try $1($0) } }
            let loss = try y.to(.float32).pow(2).mean()
            for b in blocks { try b.zeroGrad() }
            try loss.backward()
            if i >= s.warmup { times.append(seconds(since: t0)) }
        }
        return median(times)
    }
}

/// `--shapes` values as positive integers, `dims` per comma-separated value (`format` names them in the error).
func parseShapes(_ texts: [String], dims: Int, format: String) throws -> [[Int]] {
    try texts.map { text in
        let s = text.split(separator: ",").compactMap { Int($0) }
        guard s.count == dims, s.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--shapes: expected \(format), got '\(text)'")
        }
        return s
    }
}

/// Median seconds of `steps` calls of `body`, after one untimed call.
func medianTime(steps: Int, _ body: () throws -> Void) throws -> Double {
    try body()
    var ts: [Double] = []
    for _ in 0 ..< steps {
        let t0 = DispatchTime.now()
        try body()
        ts.append(seconds(since: t0))
    }
    return median(ts)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func printJSON(_ obj: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(stdout)
}

/// The package root: found upward from the executable (…/.build/release/stmae) or the working directory.
func packageRoot() -> URL? {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for start in [exe.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)] {
        var dir = start
        for _ in 0 ..< 6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("reference/st_io.py").path) {
                return dir
            }
            dir = dir.deletingLastPathComponent()
        }
    }
    return nil
}

/// For every (batch, precision; both validated by the flag tables): this executable's measurement in a child process
/// (`ownArgs`), then the PyTorch script's (`referenceArgs`), `rounds` times alternately (a shared machine drifts: each
/// round's ratio compares two neighbouring runs), printed as one JSON line: the medians, `pytorch_s_per_step`,
/// `pytorch_peak_rss_mb`, `ratio_vs_pytorch` (median of the rounds' ratios) and `ratios`.
func compareSideBySide(
    batches: [Int], precisions: [String], reference script: String, skipReference: Bool, rounds: Int = 1,
    ownArgs: (Int, String) -> [String], referenceArgs: (Int, String) -> [String]
) throws {
    // one unit per child run (this executable's, then the reference's), on stderr beside the JSON on stdout
    let progress = ProgressLine(
        "bench", total: batches.count * precisions.count * rounds * (skipReference ? 1 : 2), unit: "runs")
    var runs = 0
    for batch in batches {
        for precision in precisions {
            var line: [String: Any] = [:]
            var own: [Double] = [], ref: [Double] = [], ratios: [Double] = [], rss: [Double] = [], refRSS: [Double] = []
            for _ in 0 ..< rounds {
                progress.update(runs, detail: "batch \(batch) \(precision)")
                line = try runSelf(ownArgs(batch, precision))
                runs += 1
                own.append(line["s_per_step"] as? Double ?? .nan); rss.append(line["peak_rss_mb"] as? Double ?? .nan)
                guard !skipReference else { continue }
                let r = try runReference(
                    script, referenceArgs(batch, precision) + (precision == "bf16" ? ["--bf16"] : []))
                ref.append(r["s_per_step"] as? Double ?? .nan); refRSS.append(r["peak_rss_mb"] as? Double ?? .nan)
                ratios.append(ref.last! / own.last!)
                runs += 1
            }
            line["s_per_step"] = median(own)
            line["peak_rss_mb"] = rss.max()
            if !skipReference {
                line["pytorch_s_per_step"] = median(ref)
                line["pytorch_peak_rss_mb"] = refRSS.max()
                line["ratio_vs_pytorch"] = median(ratios)
                if rounds > 1 { line["ratios"] = ratios.map { ($0 * 1000).rounded() / 1000 }; line["rounds"] = rounds }
            }
            progress.finish(runs, detail: "batch \(batch) \(precision)")
            printJSON(line)
        }
    }
}

/// `--single BATCH,fp32|bf16` of the per-configuration child processes.
func parseSingle(_ single: String) throws -> (batch: Int, bf16: Bool) {
    let parts = single.split(separator: ",")
    guard parts.count == 2, let b = Int(parts[0]), ["fp32", "bf16"].contains(parts[1]) else {
        throw ValidationError("--single: expected BATCH,fp32|bf16, got '\(single)'")
    }
    return (b, parts[1] == "bf16")
}

/// Runs `reference/<script>` with the project's torch (`.torch/`) and returns its last JSON line.
func runReference(_ script: String, _ args: [String]) throws -> [String: Any] {
    guard let root = packageRoot() else {
        throw ValidationError("cannot find the stmae checkout (reference/) for the PyTorch run")
    }
    var env = ProcessInfo.processInfo.environment
    env["PYTHONPATH"] = [root.appendingPathComponent(".torch").path, root.appendingPathComponent("reference").path]
        .joined(separator: ":")
    return try runJSON(
        URL(fileURLWithPath: "/usr/bin/env"),
        ["python3", root.appendingPathComponent("reference/\(script)").path] + args,
        environment: env, what: "reference \(script)")
}

/// Runs this executable with `args` (one benchmark configuration per process) and returns its last JSON line.
func runSelf(_ args: [String]) throws -> [String: Any] {
    try runJSON(
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath(), args,
        what: "stmae \(args.joined(separator: " "))")
}

/// Runs a program and parses the last line it prints as a JSON object.
func runJSON(_ executable: URL, _ args: [String], environment: [String: String]? = nil, what: String) throws -> [String:
    Any]
{
    let p = Process()
    p.executableURL = executable
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw ValidationError("\(what) exited with \(p.terminationStatus)") }
    let last = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    guard let obj = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else {
        throw ValidationError("\(what) printed no JSON")
    }
    return obj
}
