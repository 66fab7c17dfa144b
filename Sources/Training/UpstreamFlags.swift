/// The run settings pre-training and fine-tuning share with the upstream command lines (mae_st `main_pretrain` /
/// `main_finetune`, optimized-stmae `pretrain.py` / `finetune.py`), so that those lines run verbatim.
public protocol UpstreamRunSettings: PrecisionSettings {
    var pathToDataDir: String { get set }
    var pinMem: Bool { get set }
    var logDir: String { get set }
    var bf16: Bool { get set }
    var outputDir: String { get set }
}

extension PretrainConfig: UpstreamRunSettings {}
extension FinetuneConfig: UpstreamRunSettings {}

extension UpstreamRunSettings {
    /// Where log.jsonl and the plots go: `--log_dir`, else `--output_dir`.
    public var logDirectory: String { logDir.isEmpty ? outputDir : logDir }
}

extension ConfigFlag where Config: UpstreamRunSettings {
    /// `--path_to_data_dir` (help: which lists it holds), `--pin_mem`, `--log_dir`, `--no_env` (`--fp32`: with the
    /// precision flags, `ConfigFlag.precision`).
    static func upstreamRun(lists: String) -> [ConfigFlag] {
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
            .noOp("no_env", "mae_st: skip its cluster environment set-up (stmae has none; accepted, no effect)")
        ]
    }
}
