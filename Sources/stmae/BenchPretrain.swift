import ArgumentParser
import Foundation
import Models
import NN
import Torch
import Training

/// `stmae bench pretrain`: one MAE-ST training step (forward, backward, fused AdamW) of ViT-B 16×224, mask 0.9,
/// decoder 512×4, beside the PyTorch reference (reference/bench_pretrain.py). Each configuration runs in its own
/// process on both sides, so peak RSS is per configuration.
struct BenchPretrain: SettingsCommand {
    static let configuration = command(
        "pretrain", "MAE pre-training step s/step, peak RSS and MFU vs PyTorch eager (JSON lines).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []

    /// The MAE of `bench pretrain`: mask 0.9, decoder 512×4, 16 heads, t_patch 2.
    static func maeConfig(_ s: BenchPretrainSettings) throws -> MAEConfig {
        var c = try MAEConfig.named(s.model)
        (c.imgSize, c.numFrames, c.tPatchSize, c.predTDim, c.maskRatio) = (s.imgSize, s.numFrames, 2, s.numFrames, 0.9)
        (c.decoderEmbedDim, c.decoderDepth, c.decoderNumHeads) = (512, 4, 16)
        c.decoderMaskRatio = s.decoderMaskRatio
        return c
    }

    func run(_ s: BenchPretrainSettings) throws {
        if !s.single.isEmpty {
            let (b, bf16) = try parseSingle(s.single)
            s.applyKernels()
            return try printJSON(Self.measure(s, batch: b, bf16: bf16))
        }
        let (model, imgSize, numFrames, warmup, steps) = (s.model, s.imgSize, s.numFrames, s.warmup, s.steps)
        try compareSideBySide(
            batches: s.batches, precisions: s.precisions, reference: "bench_pretrain.py",
            skipReference: s.noReference, rounds: s.rounds,
            ownArgs: { b, p in
                [
                    "bench", "pretrain", "--model", model, "--img_size", "\(imgSize)",
                    "--num_frames", "\(numFrames)", "--warmup", "\(warmup)", "--steps", "\(steps)",
                    "--decoder_mask_ratio", "\(s.decoderMaskRatio)", "--single", "\(b),\(p)", "--device",
                    "\(s.device)"
                ]
                    + (s.weightCopies ? [] : ["--no_weight_copies"]) + s.kernelArgs
            },
            referenceArgs: { b, _ in
                [
                    "--model", model, "--batch", "\(b)", "--img_size", "\(imgSize)", "--num_frames", "\(numFrames)",
                    "--pred_t_dim", "\(numFrames)", "--warmup", "\(warmup)", "--steps", "\(steps)",
                    "--decoder_mask_ratio", "\(s.decoderMaskRatio)", "--device", "\(s.device)"
                ]
            })
    }

    /// Median s/step of one configuration in this process.
    static func measure(_ s: BenchPretrainSettings, batch: Int, bf16: Bool) throws -> [String: Any] {
        let (model, warmup, steps) = (s.model, s.warmup, s.steps)
        let trace = s.trace.isEmpty ? nil : s.trace
        let cfg = try maeConfig(s)
        let mae = try MaskedAutoencoderViT(cfg, generator: Generator(seed: 0))
        let device = s.device
        try mae.move(to: device)
        // mae_st's groups
        let opt = AdamW(paramGroups(mae.namedParameters(), weightDecay: 0.05), lr: 1e-4, betas: (0.9, 0.95))
        let x = try Tensor.randn([batch, 3, cfg.numFrames, cfg.imgSize, cfg.imgSize], device: device)
        let copies = bf16 && s.weightCopies && device == .cpu ? try BF16Weights(mae) : nil
        var times: [Double] = [], loss = 0.0
        for i in 0 ..< warmup + steps {
            if i == warmup, let trace { try Runtime.startTrace(trace) }
            let t0 = DispatchTime.now()
            let dn = cfg.decoderMaskRatio > 0 ? try mae.makeDecoderNoise(batch: batch).to(device) : nil
            let out = try withAutocast(device: device, enabled: bf16) {
                try mae(x, noise: mae.makeNoise(batch: batch).to(device), decoderNoise: dn)
            }
            try out.loss.backward()
            try optimizerStep(opt, clipGrad: 0, bf16Weights: copies, measureNorm: false)
            loss = device.holdsValues ? try out.loss.item() : .nan  // the read waits for the device's step
            if i >= warmup { times.append(seconds(since: t0)) }
        }
        if trace != nil { try Runtime.stopTrace() }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let secs = median(times), peak = try measurePeakGFLOPs(bf16: bf16, device: device)
        let mfu = maeTrainFlopsPerClip(cfg) * Double(batch) / secs / (peak * 1e9)
        return [
            "bench": "mae_pretrain_step", "impl": "stmae", "model": model, "batch": batch, "bf16": bf16,
            "s_per_step": secs,
            "peak_rss_mb": Double(usage.ru_maxrss) / 1024, "gemm_peak_gflops": peak, "mfu": mfu, "loss_last": loss,
            "threads": Runtime.numThreads, "weight_copies": (copies?.count ?? 0) > 0,
            "decoder_mask_ratio": s.decoderMaskRatio, "device": "\(device)"
        ].merging(s.kernelJSON(bf16: bf16)) { a, _ in a }
    }
}
