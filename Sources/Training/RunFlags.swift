/// The settings pre-training and fine-tuning share: clip sampling, the run settings of the upstream command lines
/// (mae_st `main_pretrain` / `main_finetune`, optimized-stmae `pretrain.py` / `finetune.py`, so that those lines run
/// verbatim) and the data-parallel ones (used under `stmae launch`, torchrun or Slurm).
public protocol RunSettings: PrecisionSettings {
    var pathToDataDir: String { get set }
    var pinMem: Bool { get set }
    var logDir: String { get set }
    var bf16: Bool { get set }
    var outputDir: String { get set }
    var distTimeout: Double { get set }
    var heartbeatTimeout: Double { get set }
    var distBackend: String { get set }
    var distributed: Bool { get set }
    var numFrames: Int { get set }
    var samplingRate: Int { get set }
    var targetFps: Double { get set }
    var imgSize: Int { get set }
    var shortSide: Int { get set }
    var repeatAug: Int { get set }
    var jitterScalesRelative: [Double] { get set }
    var jitterAspectRelative: [Double] { get set }
    var mean: [Double] { get set }
    var std: [Double] { get set }
    var numWorkers: Int { get set }
    var accumIter: Int { get set }
    var clipGrad: Double { get set }
}

extension PretrainConfig: RunSettings, FlagSettings {}
extension FinetuneConfig: RunSettings, FlagSettings {}

extension RunSettings {
    /// Where log.jsonl and the plots go: `--log_dir`, else `--output_dir`.
    public var logDirectory: String { logDir.isEmpty ? outputDir : logDir }
    /// `--heartbeat_timeout` as the process group takes it: nil = `STMAE_HEARTBEAT_TIMEOUT`, else 60 s.
    public var heartbeat: Double? { heartbeatTimeout < 0 ? nil : heartbeatTimeout }
}

extension ConfigFlag where Config: RunSettings {
    /// The flags of the clip-sampling settings, with their ranges; `shortSide` is the help of `--short_side`.
    static func clipSampling(shortSide: String) -> [ConfigFlag] {
        [
            .option("num_frames", \.numFrames, .above(0)),
            .option("sampling_rate", \.samplingRate, .above(0)),
            .option("target_fps", \.targetFps, .above(0)),
            .option("img_size", \.imgSize, .above(0), "crop size", aliases: ["input_size"]),
            .option("short_side", \.shortSide, .atLeast(0), shortSide),
            .option("repeat_aug", \.repeatAug, .above(0), "augmented clips per decoded video"),
            .option("jitter_scales_relative", \.jitterScalesRelative, .interval),
            .option("jitter_aspect_relative", \.jitterAspectRelative, .interval),
            .option("mean", \.mean, .count(3)),
            .option("std", \.std, .positives(3)),
            .option("num_workers", \.numWorkers, .atLeast(0))
        ]
    }

    /// `--path_to_data_dir` (help: which lists it holds), `--pin_mem`, `--log_dir`, `--no_env` (`--fp32`: with the
    /// precision flags, `ConfigFlag.precision`), `--dist_timeout`, `--heartbeat_timeout`, `--dist_backend`.
    static func run(lists: String) -> [ConfigFlag] {
        [
            .option(
                "path_to_data_dir", \.pathToDataDir,
                "mae_st: a folder holding \(lists) (`path label` lines, as "
                    + "mae_st's Kinetics reads them)"),
            .option(
                "pin_mem", \.pinMem,
                "page-locked host batches, copied to CUDA asynchronously (mae_st/optimized-stmae; no effect on CPU)"),
            .option(
                "log_dir", \.logDir, "where log.jsonl and the plots go (mae_st's TensorBoard dir; \"\" = output_dir)"),
            .noOp("no_env", "mae_st: skip its cluster environment set-up (stmae has none; accepted, no effect)"),
            .option(
                "dist_timeout", \.distTimeout, .above(0.0),
                "seconds before a collective or the rendezvous fails (data-parallel runs)"),
            .option(
                "heartbeat_timeout", \.heartbeatTimeout, Valid("-1 or ≥ 0") { $0 == -1 || $0 >= 0 },
                "seconds a rank may make no progress before the job stops naming it (0 = off; "
                    + "-1 = $STMAE_HEARTBEAT_TIMEOUT, else 60)"),
            .option(
                "dist_backend", \.distBackend, .oneOf(["auto", "gloo", "nccl"]),
                "c10d backend of data-parallel runs: auto (NCCL when the device is CUDA, else Gloo), gloo or nccl")
        ]
    }
}
