import ArgumentParser
import Foundation
import Models
import NN
import Torch

/// `stmae bench infer`: video ViT classifier inference (ViT-B/16, 16×224 → 1568 patch tokens + cls = 1569) under
/// no-grad, beside reference/bench_infer.py; each configuration in its own process on both sides.
struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer",
        abstract: "Classifier inference s/step and peak RSS vs PyTorch eager (JSON lines).")

    @Option(help: ArgumentHelp(ModelCatalog.entries.filter(\.isViT).map(\.name).joined(separator: ", ") + ".")) var model = "vit_base_patch16"
    @Option(parsing: .upToNextOption, help: "Batch sizes.") var batches: [Int] = [1]
    @Option(parsing: .upToNextOption, help: "Precisions: fp32, bf16.") var precisions: [String] = ["fp32"]
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(help: "Timed steps (median reported).") var steps = 5
    @Flag(help: "Skip the PyTorch reference.") var noReference = false
    @Flag(inversion: .prefixedNo, help: "bf16: Linear weights converted to bf16 once (as `stmae evaluate --bf16`) instead of cast per call.")
    var weightCopies = true
    @OptionGroup var kernels: KernelOptions
    @Option(help: "Alternate stmae and PyTorch this many times per configuration; medians and the median ratio are printed.")
    var rounds = 1
    @Option(help: .hidden) var single: String?

    func run() throws {
        if let single {
            let (b, bf16) = try parseSingle(single)
            kernels.apply()
            return try printJSON(measure(batch: b, bf16: bf16))
        }
        try compareSideBySide(batches: batches, precisions: precisions, reference: "bench_infer.py", skipReference: noReference, rounds: rounds,
            ownArgs: { b, p in ["bench", "infer", "--model", model, "--warmup", "\(warmup)", "--steps", "\(steps)", "--single", "\(b),\(p)"] + (weightCopies ? [] : ["--no-weight-copies"]) + kernels.childArgs },
            referenceArgs: { b, _ in ["--model", model, "--batch", "\(b)", "--warmup", "\(warmup)", "--steps", "\(steps)"] })
    }

    func measure(batch: Int, bf16: Bool) throws -> [String: Any] {
        let cfg = try ViTConfig.named(model)
        let vit = try VisionTransformer(cfg, generator: Generator(seed: 0))
        vit.eval()
        let converted = bf16 && weightCopies ? try BF16Weights.convertForInference(vit) : 0  // bf16 weights once, not a cast per call
        let x = try Tensor.randn([batch, 3, cfg.numFrames, cfg.imgSize, cfg.imgSize])
        var times: [Double] = []
        try withNoGrad {
            for i in 0 ..< warmup + steps {
                let t0 = DispatchTime.now()
                _ = try withAutocast(enabled: bf16) { try vit(x) }.to(.float32).sum().item()
                if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9) }
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let tokens = (cfg.numFrames / cfg.tPatchSize) * (cfg.imgSize / cfg.patchSize) * (cfg.imgSize / cfg.patchSize) + (cfg.clsEmbed ? 1 : 0)
        return ["bench": "vit_inference", "impl": "stmae", "model": model, "batch": batch, "bf16": bf16, "tokens": tokens,
                "s_per_step": median(times), "peak_rss_mb": Double(usage.ru_maxrss) / 1024, "threads": Runtime.numThreads, "weight_copies": converted > 0].merging(kernels.json(bf16: bf16)) { a, _ in a }
    }
}
