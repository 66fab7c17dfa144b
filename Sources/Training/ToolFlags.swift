import Models
import Torch

/// The settings of the tool subcommands (`convert`, `embed`, `visualize`, `launch`), one struct each with its flag
/// table: the defaults live in the struct, `--help` shows them from it (as `PretrainConfig.flags`). 0 / "" / none
/// means "what the checkpoint records" where the help says so.

/// `stmae convert IN OUT [--flag value …]`.
public struct ConvertSettings: FlagSettings, ModelSettingsFlags, Equatable, Sendable {
    /// IN and OUT: the two words before the flags (or `--input` / `--output`).
    public var input = "", output = ""
    public var to = ""
    public var numHeads = 0, imgSize = 0, numFrames = 0, normEps = 0.0
    public var mean: [Double] = [], std: [Double] = []
    public var labels = ""
    public var force = false
    public init() {}

    public static let flags = ConfigFlags<ConvertSettings>(
        [
            .option(
                "input", \.input,
                "IN (also the first word): a .pth/.pt/.bin, .safetensors, stmae .json or Hugging Face directory"),
            .option(
                "output", \.output, "OUT (also the second word): .pth, .safetensors, or a directory (Hugging Face)"),
            .option(
                "to", \.to, .oneOf(["", "pth", "pt", "torch", "safetensors", "hf", "huggingface"]),
                "output format: pth, safetensors or hf (\"\" = from OUT's extension)")
        ] + ConfigFlag.modelSettings(recordedIn: "IN", headsRequired: "to Hugging Face") + [
            .option(
                "mean", \.mean,
                "input mean, 3 values (none = recorded in IN, else ImageNet's for Hugging Face output)"),
            .option(
                "std", \.std, .allPositive,
                "input std, 3 values (none = recorded in IN, else ImageNet's for Hugging Face output)"),
            .option(
                "labels", \.labels,
                "class names, one per line (Hugging Face id2label; default: the checkpoint's class list)"),
            .option("force", \.force, "replace an existing OUT")
        ])

    /// `IN OUT --flag value …`: the leading words are IN and OUT, the rest flags.
    public static func parse(commandLine args: [String]) throws -> ConvertSettings {
        let words = Array(args.prefix { !$0.hasPrefix("--") })
        guard words.count <= 2 else {
            throw ConfigError("unexpected argument '\(words[2])' (expected `stmae convert IN OUT [--flag value …]`)")
        }
        let named = zip(["--input", "--output"], words).flatMap { [$0, $1] }
        return try parse(named + args.dropFirst(words.count))
    }

    public func checkCombination() throws {
        guard !input.isEmpty, !output.isEmpty else {
            throw ConfigError("expected `stmae convert IN OUT [--flag value …]`")
        }
        try checkThreeValues(mean: mean, std: std)
    }
}

/// The model settings a tool reads from a checkpoint (`ModelSettings`), given as flags: 0 = what the checkpoint
/// records.
public protocol ModelSettingsFlags {
    var numHeads: Int { get set }
    var imgSize: Int { get set }
    var numFrames: Int { get set }
    var normEps: Double { get set }
}

extension ConfigFlag where Config: ModelSettingsFlags {
    /// `--num_heads`, `--img_size`, `--num_frames`, `--norm_eps` (0 = recorded in `recordedIn`; the heads are required
    /// for other than the standard sizes `headsRequired`).
    static func modelSettings(recordedIn source: String, headsRequired: String = "") -> [ConfigFlag] {
        [
            .option(
                "num_heads", \.numHeads, .atLeast(0),
                "attention heads (0 = recorded in \(source), else the standard size's; required for other sizes"
                    + (headsRequired.isEmpty ? ")" : " \(headsRequired))")),
            .option(
                "img_size", \.imgSize, .atLeast(0),
                "input size (0 = recorded in \(source) or fixed by learned positions, else 224)",
                aliases: ["input_size"]),
            .option(
                "num_frames", \.numFrames, .atLeast(0),
                "frames (0 = recorded in \(source) or fixed by learned positions, else 16)"),
            .option(
                "norm_eps", \.normEps, .atLeast(0),
                "block LayerNorm eps (0 = recorded in \(source), else mae_st's 1e-6; VideoMAE: 1e-12)")
        ]
    }
}

/// `--mean` / `--std`: none or 3 values each.
func checkThreeValues(mean: [Double], std: [Double]) throws {
    for (flag, v) in [("--mean", mean), ("--std", std)] where !v.isEmpty && v.count != 3 {
        throw ConfigError("\(flag): expected 3 values, got \(v.count)")
    }
}

/// `stmae embed --checkpoint CKPT --data DIR|CSV --output OUT`.
public struct EmbedSettings: FlagSettings, ModelSettingsFlags, PrecisionSettings, Equatable, Sendable {
    public var checkpoint = "", data = "", output = ""
    public var device = Device.preferred
    public var bf16 = false, fp16 = false
    public var pool = "mean"
    public var numHeads = 0, imgSize = 0, numFrames = 0, normEps = 0.0
    public var samplingRate = 4
    public var targetFps = 30.0
    public var mean: [Double] = [], std: [Double] = []
    public var batchSize = 8, numWorkers = 2
    public var force = false
    public init() {}

    public static let flags = ConfigFlags<EmbedSettings>(
        [
            .option("checkpoint", \.checkpoint, "required: .pth, .safetensors, stmae .json or Hugging Face directory"),
            .option(
                "data", \.data,
                "required: videos, a folder (scanned recursively, class = sub-folder, labelled by the "
                    + "checkpoint's class list when it records one) or a CSV/list file of 'path, label'",
                aliases: ["path_to_data_dir"]),
            .option("output", \.output, "required: output file (.safetensors, .npy or .npz)"),
            .option("pool", \.pool, .oneOf(["mean", "cls"]), "pooling for MAE encoders: mean or cls")
        ] + ConfigFlag.modelSettings(recordedIn: "the checkpoint") + [
            .option("sampling_rate", \.samplingRate, .above(0), "frame stride at --target_fps (mae_st sampling_rate)"),
            .option("target_fps", \.targetFps, .above(0), "frame rate the sampling rate refers to"),
            .option(
                "mean", \.mean, "per-channel mean, 3 values (none = recorded in the checkpoint, else Kinetics 0.45)"),
            .option(
                "std", \.std, .allPositive,
                "per-channel std, 3 values (none = recorded in the checkpoint, else 0.225)"),
            .option("batch_size", \.batchSize, .above(0), "clips per batch"),
            .option("num_workers", \.numWorkers, .atLeast(0), "decoding threads")
        ] + ConfigFlag.precision(training: false) + [
            .option("force", \.force, "replace an existing output")
        ])

    public func checkCombination() throws {
        for (flag, v) in [("--checkpoint", checkpoint), ("--data", data), ("--output", output)] where v.isEmpty {
            throw ConfigError("\(flag) is required")
        }
        guard [".safetensors", ".npy", ".npz"].contains(where: output.hasSuffix) else {
            throw ConfigError("--output '\(output)': expected a .safetensors, .npy or .npz path")
        }
        try checkThreeValues(mean: mean, std: std)
    }
}

/// `stmae visualize`: an MAE's reconstruction of a clip, or (`--attention`) a TimeSformer / ViViT's attention.
public struct VisualizeSettings: FlagSettings, DeviceSettings, Equatable, Sendable {
    public var checkpoint = ""
    public var device = Device.preferred
    public var attention = false
    public var model = "timesformer_base_patch16_224"
    public var imageInit = ""
    public var alpha = 0.5
    public var video = ""
    public var output = "reconstruction.gif"
    public var maskRatio = 0.0
    public var seed = 0
    public var temporalIndex = 0, numTemporalViews = 1
    public var denorm = "visible"
    public var fps = 4.0
    public init() {}

    public static let flags = ConfigFlags<VisualizeSettings>([
        .option(
            "checkpoint", \.checkpoint,
            "an stmae pre-training checkpoint (.json or .safetensors); with --attention: an stmae "
                + "finetune checkpoint (.json) of a TimeSformer/ViViT, or model weights (.safetensors)"),
        .option("attention", \.attention, "draw the last block's attention (cls→patches) of --model instead"),
        .option(
            "model", \.model,
            "with --attention: "
                + ModelCatalog.entries.filter(\.hasAttentionMap).map(\.name).joined(separator: ", ")),
        .option(
            "image_init", \.imageInit,
            "with --attention: initialise --model from an image ViT (safetensors, timm/HF keys)"),
        .option("alpha", \.alpha, .within(0 ... 1), "with --attention: overlay opacity"),
        .option("video", \.video, "required: the video to show"),
        .option("output", \.output, "output .png (grid) or .gif (animation)"),
        .option("mask_ratio", \.maskRatio, .within(0 ..< 1), "mask ratio (0 = the checkpoint's)"),
        .option("seed", \.seed, .atLeast(0), "seed of the mask noise"),
        .option("temporal_index", \.temporalIndex, .atLeast(0), "which of --num_temporal_views clips to show"),
        .option("num_temporal_views", \.numTemporalViews, .above(0), "evenly spaced clips over the video"),
        .option(
            "denorm", \.denorm, .oneOf(["visible", "own"]),
            "norm_pix_loss de-normalisation: visible (patch stats the encoder saw) or own"),
        .option("fps", \.fps, .above(0), "GIF frame rate"),
        ConfigFlag<VisualizeSettings>.device
    ])

    public func checkCombination() throws {
        guard !video.isEmpty else { throw ConfigError("--video is required") }
        guard temporalIndex < numTemporalViews else {
            throw ConfigError(
                "--temporal_index must be < --num_temporal_views (\(numTemporalViews)), "
                    + "got \(temporalIndex)")
        }
    }
}

/// `stmae launch [--flag value …] -- <stmae args>`: torchrun's flags for one host (or one node of several).
public struct LaunchSettings: FlagSettings, Equatable, Sendable {
    public var nprocPerNode = 1
    public var nnodes = 1
    public var nodeRank = 0
    public var masterAddr = "127.0.0.1"
    public var masterPort = 29500
    public var grace = 5.0
    public init() {}

    public static let flags = ConfigFlags<LaunchSettings>([
        .option("nproc_per_node", \.nprocPerNode, .within(1 ... 1024), "processes on this node"),
        .option("nnodes", \.nnodes, .above(0), "number of nodes"),
        .option("node_rank", \.nodeRank, .atLeast(0), "this node's index (0 serves the rendezvous)"),
        .option("master_addr", \.masterAddr, "rendezvous host (rank 0's node)"),
        .option("master_port", \.masterPort, .within(1 ... 65535), "rendezvous port"),
        .option("grace", \.grace, .atLeast(0), "seconds between SIGTERM and SIGKILL when stopping children")
    ])

    public func checkCombination() throws {
        guard nodeRank < nnodes else {
            throw ConfigError("--node_rank must be < --nnodes (\(nnodes)), got \(nodeRank)")
        }
    }

    /// The flags (before `--`) and the command each process runs (after it).
    public static func split(_ args: [String]) throws -> (flags: [String], command: [String]) {
        guard let i = args.firstIndex(of: "--"), i + 1 < args.count else {
            throw ConfigError("nothing to run: expected `stmae launch --nproc_per_node N -- <command> …`")
        }
        return (Array(args[..<i]), Array(args[(i + 1)...]))
    }
}
