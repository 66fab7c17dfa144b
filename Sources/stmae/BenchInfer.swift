import ArgumentParser
import Foundation
import Models
import NN
import Torch
import Training

/// `stmae bench infer`: video ViT classifier inference (ViT-B/16, 16×224 → 1568 patch tokens + cls = 1569) under
/// no-grad, beside reference/bench_infer.py; each configuration in its own process on both sides.
struct BenchInfer: SettingsCommand {
    static let configuration = command(
        "infer", "Classifier inference s/step and peak RSS vs PyTorch eager (JSON lines).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
    func run(_ s: BenchInferSettings) throws {
        if !s.single.isEmpty {
            let (b, bf16) = try parseSingle(s.single)
            s.applyKernels()
            return try printJSON(Self.measure(s, batch: b, bf16: bf16))
        }
        let (model, warmup, steps) = (s.model, s.warmup, s.steps)
        try compareSideBySide(
            batches: s.batches, precisions: s.precisions, reference: "bench_infer.py",
            skipReference: s.noReference, rounds: s.rounds,
            ownArgs: { b, p in
                [
                    "bench", "infer", "--model", model, "--warmup", "\(warmup)", "--steps", "\(steps)",
                    "--single", "\(b),\(p)"
                ]
                    + (s.weightCopies ? [] : ["--no_weight_copies"]) + s.kernelArgs
            },
            referenceArgs: { b, _ in
                ["--model", model, "--batch", "\(b)", "--warmup", "\(warmup)", "--steps", "\(steps)"]
            })
    }

    static func measure(_ s: BenchInferSettings, batch: Int, bf16: Bool) throws -> [String: Any] {
        let (model, warmup, steps, weightCopies) = (s.model, s.warmup, s.steps, s.weightCopies)
        let cfg = try ViTConfig.named(model)
        let vit = try VisionTransformer(cfg, generator: Generator(seed: 0))
        vit.eval()
        // bf16 weights once, not a cast per call
        let converted = bf16 && weightCopies ? try BF16Weights.convertForInference(vit) : 0
        let x = try Tensor.randn([batch, 3, cfg.numFrames, cfg.imgSize, cfg.imgSize])
        var times: [Double] = []
        try withNoGrad {
            for i in 0 ..< warmup + steps {
                let t0 = DispatchTime.now()
                _ = try withAutocast(enabled: bf16) { try vit(x) }.to(.float32).sum().item()
                if i >= warmup {
                    times.append(seconds(since: t0))
                }
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let tokens =
            (cfg.numFrames / cfg.tPatchSize) * (cfg.imgSize / cfg.patchSize) * (cfg.imgSize / cfg.patchSize)
            + (cfg.clsEmbed ? 1 : 0)
        return [
            "bench": "vit_inference", "impl": "stmae", "model": model, "batch": batch, "bf16": bf16, "tokens": tokens,
            "s_per_step": median(times), "peak_rss_mb": Double(usage.ru_maxrss) / 1024,
            "threads": Runtime.numThreads,
            "weight_copies": converted > 0
        ].merging(s.kernelJSON(bf16: bf16)) { a, _ in a }
    }
}
