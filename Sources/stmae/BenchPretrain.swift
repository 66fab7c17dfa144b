import ArgumentParser
import Foundation
import Models
import NN
import Torch
import Training

/// `stmae bench pretrain`: one MAE-ST training step (forward, backward, fused AdamW) of ViT-B 16×224, mask 0.9,
/// decoder 512×4, beside the PyTorch reference (reference/bench_pretrain.py). Each configuration runs in its own
/// process on both sides, so peak RSS is per configuration.
struct BenchPretrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pretrain",
        abstract: "MAE pre-training step s/step, peak RSS and MFU vs PyTorch eager (JSON lines).")

    @Option(help: ArgumentHelp(ModelCatalog.names(family: .maeST).joined(separator: ", ") + ".")) var model = "mae_vit_base_patch16"
    @Option(parsing: .upToNextOption, help: "Batch sizes.") var batches: [Int] = [1, 2]
    @Option(parsing: .upToNextOption, help: "Precisions: fp32, bf16.") var precisions: [String] = ["fp32", "bf16"]
    @Option(help: "Image size.") var imgSize = 224
    @Option(help: "Frames.") var numFrames = 16
    @Option(help: "Dual masking: share of the masked tokens the decoder skips (both sides).") var decoderMaskRatio = 0.0
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(help: "Timed steps (median reported).") var steps = 5
    @Flag(help: "Skip the PyTorch reference.") var noReference = false
    @Option(help: "Alternate stmae and PyTorch this many times per configuration; medians and the median ratio are printed.")
    var rounds = 1
    @Flag(inversion: .prefixedNo, help: "bf16: matmuls on bf16 weight copies refreshed after each step (as `stmae pretrain`; none with --bf16-linear openblas, which rounds the fp32 weights at use).")
    var weightCopies = true
    @OptionGroup var kernels: KernelOptions
    @Option(help: .hidden) var single: String?
    @Option(help: "With --single: write a Chrome trace of the timed steps (every op, CPU time) to this file.") var trace: String?

    func settings(batch: Int) throws -> MAEConfig {
        var c = try MAEConfig.named(model)
        (c.imgSize, c.numFrames, c.tPatchSize, c.predTDim, c.maskRatio) = (imgSize, numFrames, 2, numFrames, 0.9)
        (c.decoderEmbedDim, c.decoderDepth, c.decoderNumHeads) = (512, 4, 16)
        c.decoderMaskRatio = decoderMaskRatio
        return c
    }

    func run() throws {
        if let single {
            let (b, bf16) = try parseSingle(single)
            kernels.apply()
            return try printJSON(measure(batch: b, bf16: bf16))
        }
        try compareSideBySide(batches: batches, precisions: precisions, reference: "bench_pretrain.py", skipReference: noReference, rounds: rounds,
            ownArgs: { b, p in ["bench", "pretrain", "--model", model, "--img-size", "\(imgSize)", "--num-frames", "\(numFrames)",
                                "--warmup", "\(warmup)", "--steps", "\(steps)", "--decoder-mask-ratio", "\(decoderMaskRatio)", "--single", "\(b),\(p)"] + (weightCopies ? [] : ["--no-weight-copies"]) + kernels.childArgs },
            referenceArgs: { b, _ in ["--model", model, "--batch", "\(b)", "--img_size", "\(imgSize)", "--num_frames", "\(numFrames)",
                                      "--pred_t_dim", "\(numFrames)", "--warmup", "\(warmup)", "--steps", "\(steps)",
                                      "--decoder_mask_ratio", "\(decoderMaskRatio)"] })
    }

    /// Median s/step of one configuration in this process.
    func measure(batch: Int, bf16: Bool) throws -> [String: Any] {
        let cfg = try settings(batch: batch)
        let mae = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 0))
        let opt = AdamW(paramGroups(mae.namedParameters(), weightDecay: 0.05), lr: 1e-4, betas: (0.9, 0.95))  // mae_st's groups
        let x = try Tensor.randn([batch, 3, cfg.numFrames, cfg.imgSize, cfg.imgSize])
        let copies = bf16 && weightCopies ? try BF16Weights(mae) : nil
        var times: [Double] = [], loss = 0.0
        for i in 0 ..< warmup + steps {
            if i == warmup, let trace { try Runtime.startTrace(trace) }
            let t0 = DispatchTime.now()
            let dn = cfg.decoderMaskRatio > 0 ? try mae.makeDecoderNoise(batch: batch) : nil
            let out = try withAutocast(enabled: bf16) { try mae(x, noise: mae.makeNoise(batch: batch), decoderNoise: dn) }
            try out.loss.backward()
            try optimizerStep(opt, clipGrad: 0, bf16Weights: copies)
            loss = try out.loss.item()
            if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9) }
        }
        if trace != nil { try Runtime.stopTrace() }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let s = median(times), peak = try measurePeakGFLOPs(bf16: bf16)
        let mfu = maeTrainFlopsPerClip(cfg) * Double(batch) / s / (peak * 1e9)
        return ["bench": "mae_pretrain_step", "impl": "stmae", "model": model, "batch": batch, "bf16": bf16, "s_per_step": s,
                "peak_rss_mb": Double(usage.ru_maxrss) / 1024, "gemm_peak_gflops": peak, "mfu": mfu, "loss_last": loss,
                "threads": Runtime.numThreads, "weight_copies": (copies?.count ?? 0) > 0,
                "decoder_mask_ratio": decoderMaskRatio].merging(kernels.json(bf16: bf16)) { a, _ in a }
    }
}
