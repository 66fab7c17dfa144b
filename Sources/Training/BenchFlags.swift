import Models
import Torch

/// The settings of `stmae bench …`, one struct per benchmark with its flag table (defaults in the struct).

/// Parsed by `name` (openblas, onednn, libtorch).
extension LinearBackend: FlagValue {
    public static func parse(_ words: [String], flag: String) throws -> LinearBackend {
        guard words.count == 1, let b = LinearBackend(name: words[0]) else {
            let names = allCases.map(\.name).joined(separator: ", ")
            throw ConfigError("\(flag): expected \(names), got '\(words.joined(separator: " "))'")
        }
        return b
    }
    public var shown: String { name }
}

/// The engine's own kernels, switchable for A/B runs of `bench pretrain` and `bench infer`.
public protocol KernelSettings {
    var fusedAttention: Bool { get set }
    /// "" = the CPU's default.
    var fp32Linear: String { get set }
    var bf16Linear: String { get set }
}

extension KernelSettings {
    /// Sets the process-wide switches.
    public func applyKernels() {
        Runtime.fusedAttention = fusedAttention ? .auto : .off
        if let b = LinearBackend(name: fp32Linear) { Runtime.fp32Linear = b }
        if let b = LinearBackend(name: bf16Linear) { Runtime.bf16Linear = b }
    }

    /// The flags that pass these settings on to a child `--single` run.
    public var kernelArgs: [String] {
        (fusedAttention ? [] : ["--no_fused_attention"]) + (fp32Linear.isEmpty ? [] : ["--fp32_linear", fp32Linear])
            + (bf16Linear.isEmpty ? [] : ["--bf16_linear", bf16Linear])
    }

    /// JSON fields: which kernels a run in `bf16` (or fp32) took, read after `applyKernels()`.
    public func kernelJSON(bf16: Bool) -> [String: Any] {
        // bf16 without AVX-512 BF16 runs the fp32 kernel on widened copies.
        func used(_ d: DType) -> Bool {
            switch Runtime.fusedAttention {
            case .on: return Runtime.fusedAttentionAvailable(d)
            case .auto: return Runtime.fusedAttentionPreferred(d)
            case .off: return false
            }
        }
        return [
            "fused_attention": used(.float32) || bf16 && used(.bfloat16),
            "linear": (bf16 ? Runtime.bf16Linear : Runtime.fp32Linear).name
        ]
    }
}

extension ConfigFlag where Config: KernelSettings {
    static var kernels: [ConfigFlag] {
        [
            .option(
                "fused_attention", \.fusedAttention,
                "attention in stmae's fused kernels (bf16: head dims "
                    + "32/64/128 on AVX-512 BF16 CPUs, and 32/64/80/128 widened to fp32 on other AVX2/FMA CPUs; fp32: "
                    + "32/64/80/128 on AVX2/FMA) where they beat libtorch's flash kernel (not fp32 on AMX CPUs); "
                    + "false: libtorch's always"),
            .option(
                "fp32_linear", \.fp32Linear, .oneOf(["", "openblas", "onednn", "libtorch"]),
                "GEMM library of "
                    + "fp32 linears: openblas (all three products), onednn (forward and input gradient; weight "
                    + "gradient on MKL) or libtorch (MKL); \"\" = onednn on AVX-512 CPUs, openblas on others"),
            // libtorch's bf16 linear is oneDNN's: it is named `libtorch`
            .option(
                "bf16_linear", \.bf16Linear, .oneOf(["", "libtorch", "openblas"]),
                "GEMM library of bf16 "
                    + "linears: libtorch (oneDNN's bf16 GEMM) or openblas (fp32 sgemm on the bf16 values widened, "
                    + "rounded to bf16); \"\" = libtorch on CPUs with AVX-512 BF16 or AMX, openblas on others")
        ]
    }
}

extension ConfigFlag {
    /// Timing flags every side-by-side benchmark shares.
    static func timing(_ warmup: WritableKeyPath<Config, Int>, _ steps: WritableKeyPath<Config, Int>) -> [ConfigFlag] {
        [
            .option("warmup", warmup, .atLeast(0), "warm-up steps (not timed)"),
            .option("steps", steps, .above(0), "timed steps (median reported)")
        ]
    }
}

let precisionHelp = "fp32, bf16 (bf16 needs AVX-512 BF16/AMX to be fast; elsewhere it is emulated)"
let roundsHelp =
    "alternate stmae and PyTorch this many times per configuration; medians and the median ratio are "
    + "printed"

/// `stmae bench engine`: the ViT-B block stack forward+backward.
public struct BenchEngineSettings: FlagSettings, Sendable {
    public var shapes = ["4,160,768", "1,1568,768"]
    public var depth = 12, heads = 12, warmup = 2, steps = 5
    public var precisions = ["fp32", "bf16"]
    public var noReference = false
    public init() {}
    public static let flags = ConfigFlags<BenchEngineSettings>(
        [
            .option("shapes", \.shapes, "shapes N,L,D to run"),
            .option("depth", \.depth, .above(0), "transformer depth"),
            .option("heads", \.heads, .above(0), "attention heads")
        ] + ConfigFlag.timing(\.warmup, \.steps) + [
            .option("precisions", \.precisions, .each(oneOf: ["fp32", "bf16"]), precisionHelp),
            .option("no_reference", \.noReference, "skip the PyTorch reference")
        ])
}

/// `stmae bench pretrain`: one MAE-ST training step beside reference/bench_pretrain.py.
public struct BenchPretrainSettings: FlagSettings, KernelSettings, DeviceSettings, Sendable {
    public var model = "mae_vit_base_patch16"
    public var device = Device.preferred
    public var batches = [1, 2]
    public var precisions = ["fp32", "bf16"]
    public var imgSize = 224, numFrames = 16
    public var decoderMaskRatio = 0.0
    public var warmup = 2, steps = 5
    public var noReference = false
    public var rounds = 1
    public var weightCopies = true
    public var fusedAttention = true, fp32Linear = "", bf16Linear = ""
    public var single = "", trace = ""
    public init() {}
    public static let flags = ConfigFlags<BenchPretrainSettings>(
        [
            .option("model", \.model, ModelCatalog.names(family: .maeST).joined(separator: ", ")),
            ConfigFlag<BenchPretrainSettings>.device,
            .option("batches", \.batches, .each(.above(0)), "batch sizes"),
            .option("precisions", \.precisions, .each(oneOf: ["fp32", "bf16"]), precisionHelp),
            .option("img_size", \.imgSize, .above(0), "image size", aliases: ["input_size"]),
            .option("num_frames", \.numFrames, .above(0), "frames"),
            .option(
                "decoder_mask_ratio", \.decoderMaskRatio, .within(0 ..< 1),
                "dual masking: share of the masked tokens the decoder skips (both sides)")
        ] + ConfigFlag.timing(\.warmup, \.steps) + [
            .option("no_reference", \.noReference, "skip the PyTorch reference"),
            .option("rounds", \.rounds, .above(0), roundsHelp),
            .option(
                "weight_copies", \.weightCopies,
                "bf16: matmuls on bf16 weight copies refreshed after each step (as `stmae "
                    + "pretrain`; none with --bf16_linear openblas, which rounds the fp32 weights at use)")
        ] + ConfigFlag.kernels + [
            .option(
                "single", \.single, "BATCH,fp32|bf16: one configuration in this process (what the comparison runs)"),
            .option(
                "trace", \.trace,
                "with --single: write a Chrome trace of the timed steps (every op, CPU time) to this file")
        ])
}

/// `stmae bench infer`: video ViT classifier inference beside reference/bench_infer.py.
public struct BenchInferSettings: FlagSettings, KernelSettings, Sendable {
    public var model = "vit_base_patch16"
    public var batches = [1]
    public var precisions = ["fp32"]
    public var warmup = 2, steps = 5
    public var noReference = false
    public var weightCopies = true
    public var fusedAttention = true, fp32Linear = "", bf16Linear = ""
    public var rounds = 1
    public var single = ""
    public init() {}
    public static let flags = ConfigFlags<BenchInferSettings>(
        [
            .option("model", \.model, ModelCatalog.entries.filter(\.isViT).map(\.name).joined(separator: ", ")),
            .option("batches", \.batches, .each(.above(0)), "batch sizes"),
            .option("precisions", \.precisions, .each(oneOf: ["fp32", "bf16"]), precisionHelp)
        ] + ConfigFlag.timing(\.warmup, \.steps) + [
            .option("no_reference", \.noReference, "skip the PyTorch reference"),
            .option(
                "weight_copies", \.weightCopies,
                "bf16: Linear weights converted to bf16 once (as `stmae evaluate --bf16`) instead of cast per call")
        ] + ConfigFlag.kernels + [
            .option("rounds", \.rounds, .above(0), roundsHelp),
            .option("single", \.single, "BATCH,fp32|bf16: one configuration in this process (what the comparison runs)")
        ])
}

/// `stmae bench loader`: clips/s of the threaded video loader on the built-in data set.
public struct BenchLoaderSettings: FlagSettings, Sendable {
    public var workers = [1, 2]
    public var batch = 4, batches = 48
    public init() {}
    public static let flags = ConfigFlags<BenchLoaderSettings>([
        .option("workers", \.workers, .each(.atLeast(0)), "worker thread counts to measure"),
        .option("batch", \.batch, .above(0), "videos per batch (× repeat_aug clips)"),
        .option("batches", \.batches, .above(0), "batches to load per measurement")
    ])
}

/// `stmae bench attention`: stmae's fused attention kernels against libtorch's flash kernel.
public struct BenchAttentionSettings: FlagSettings, Sendable {
    public var shapes = ["1,16,1569,32", "1,12,1569,64", "1,12,157,64"]
    public var precisions: [String] = []
    public var steps = 5, rounds = 3
    public init() {}
    public static let flags = ConfigFlags<BenchAttentionSettings>([
        .option("shapes", \.shapes, "shapes B,H,L,D (defaults: MAE decoder, ViT-B on 1569 tokens, MAE encoder)"),
        .option("precisions", \.precisions, "bf16 (AVX-512 BF16 CPUs), fp32 (AVX2/FMA); none = those this CPU runs"),
        .option("steps", \.steps, .above(0), "timed calls per round (median reported)"),
        .option(
            "rounds", \.rounds, .above(0),
            "rounds alternating the two kernels; the median of the per-round ratios is printed")
    ])
}

/// `stmae bench linear`: fp32 `linear` on each GEMM library.
public struct BenchLinearSettings: FlagSettings, Sendable {
    public var shapes = [
        "1568,512,1536", "1568,512,2048", "1568,2048,512", "157,768,2304", "157,768,3072",
        "157,3072,768", "1569,768,2304", "1569,3072,768"
    ]
    public var backends = LinearBackend.allCases
    public var steps = 5, rounds = 3
    public init() {}
    public static let flags = ConfigFlags<BenchLinearSettings>([
        .option(
            "shapes", \.shapes,
            "shapes M,K,N: tokens, in, out features (defaults: MAE decoder, encoder, ViT-B on 1569 tokens)"),
        .option("backends", \.backends, "backends to compare"),
        .option("steps", \.steps, .above(0), "timed calls per round (median reported)"),
        .option("rounds", \.rounds, .above(0), "rounds alternating the backends")
    ])
}
