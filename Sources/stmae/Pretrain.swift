import ArgumentParser
import Distributed
import Foundation
import Training

/// `stmae pretrain`: MAE-ST pre-training (mae_st `main_pretrain.py` / optimized-stmae `pretrain.py` flags).
struct PretrainCommand: FlagCommand {
    typealias Settings = PretrainConfig
    static let configuration = command(
        "pretrain", "Pre-train a video MAE (MAE-ST) by masked reconstruction, or MaskFeat by HOG prediction.",
        intro: "mae_st / optimized-stmae flag spellings.")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []

    func run() throws {
        guard var config = try settings(parse: resumableSettings) else { return }
        installStopHandlers()
        // Data parallel when launched by `stmae launch`, torchrun or Slurm; rank 0 prepares the video list first.
        let pg = try launchedGroup(&config, command: "pretrain")
        if let pg, !pg.isMain { try pg.barrier() }
        let samples = try pretrainSamples(config)
        if let pg, pg.isMain { try pg.barrier() }
        let feed = try VideoFeed(config, samples: samples, rank: pg?.rank ?? 0, worldSize: pg?.worldSize ?? 1)
        let source = config.dataDirs.isEmpty ? "built-in synthetic set" : config.dataDirs.joined(separator: " ")
        RunLog.info(
            "data: \(samples.count) videos (\(source)), "
                + "\(feed.batchesPerEpoch) batches of \(config.batchSizePerGpu)×\(config.repeatAug) clips per epoch")
        let trainer = try Pretrainer(config, worldSize: pg?.worldSize ?? 1, rank: pg?.rank ?? 0)
        if let pg { try attachDataParallel(trainer, group: pg) }
        let state = try trainer.run(feed: feed)
        let failed = feed.failures
        if !failed.isEmpty {
            RunLog.info("skipped \(failed.count) unreadable video(s):")
            for f in failed.prefix(20) { RunLog.info("  \(f.path): \(f.reason)") }
        }
        DataSummary([feed.loader]).report(to: trainer.log)
        RunLog.info(
            "done: \(state.step) steps; outputs in \(config.outputDir) (log.jsonl, loss_curve.png, checkpoints)")
        pg?.afterStop()
        if let status = stoppedBySignalStatus { throw ExitCode(status) }  // saved; 130 after SIGINT
    }
}

/// The flags over the defaults, or with `--resume CHECKPOINT` over the settings the checkpoint was trained with, so
/// that `--resume` alone continues the same run (data, model, schedule, output); flags given override and are logged.
/// `--max_steps` limits one invocation and is not inherited. Every value is validated before any work.
func resumableSettings(_ args: [String]) throws -> PretrainConfig {
    let flags = PretrainConfig.flags
    let first = try flags.parse(args, onto: PretrainConfig())
    guard !first.resume.isEmpty else {
        try first.validate()
        return first
    }
    var base: PretrainConfig
    do { base = try Checkpoint.load(first.resume).state.config } catch {
        throw ValidationError("--resume \(first.resume): \(error)")
    }
    base.maxSteps = PretrainConfig().maxSteps
    let resumed = try flags.resuming(args, saved: base, from: first.resume)
    try resumed.validate()
    return resumed
}
