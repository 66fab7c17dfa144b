import ArgumentParser
import Distributed
import Foundation
import NN
import Training

/// The subcommands over `FinetuneConfig` (`finetune`, `linprobe`, `finetune-image`, `evaluate`): pass-through
/// arguments parsed by `FinetuneConfig.flags` onto the subcommand's `defaults`; `--help` lists every flag with
/// the default it has there.
protocol FinetuneFamilyCommand: FlagCommand where Settings == FinetuneConfig {}

extension FinetuneFamilyCommand {
    /// The settings of this invocation, or nil after printing `--help`. With `--eval` (or for `evaluate`) the
    /// defaults are the `--resume` checkpoint's settings.
    func settings(evaluate: Bool = false) throws -> FinetuneConfig? {
        try settings { arguments in
            let flags = FinetuneConfig.flags
            let c = try flags.parse(arguments, onto: Self.defaults)
            if evaluate || c.evalOnly { return try flags.parse(arguments, onto: checkpointBase(resume: c.resume)) }
            guard !c.resume.isEmpty else { return c }
            // `--resume` alone continues the same run: the checkpoint's settings, flags given over them (logged)
            var base = try Checkpoint.loadSidecar(c.resume, as: FinetuneCheckpointState.self).state.config
            base.maxSteps = FinetuneConfig().maxSteps  // a limit of one invocation
            return try flags.resuming(arguments, saved: base, from: c.resume)
        }
    }
}

/// The settings saved with the `--resume` checkpoint (model size, clip sampling, images) as defaults for evaluation;
/// flags given on the command line override them.
func checkpointBase(resume: String) throws -> FinetuneConfig {
    guard !resume.isEmpty else { throw ValidationError("--resume CHECKPOINT is required for evaluation") }
    var base = try Checkpoint.loadSidecar(resume, as: FinetuneCheckpointState.self).state.config
    base.resume = resume; base.evalOnly = true; base.finetune = ""; base.maxSteps = 0
    base.numTemporalViews = FinetuneConfig().numTemporalViews; base.numSpatialCrops = FinetuneConfig().numSpatialCrops
    base.outputDir = base.outputDir + "/eval"
    return base
}

/// Runs fine-tuning (or, with `--eval`, evaluation) for a config; shared by the subcommands. Data parallel when
/// launched by `stmae launch`, torchrun or Slurm (mae_st `main_finetune` under DDP): each rank trains on its shard,
/// gradients averaged; rank 0 validates on everything — or, with `--dist_eval`, each rank on its shard — and writes
/// checkpoints and logs.
func runFinetune(_ c: FinetuneConfig?) throws {
    guard var c else { return }
    if c.evalOnly { return try runEvaluate(c) }
    try c.validate()
    installStopHandlers()
    let pg = try launchedGroup(&c, command: "finetune")
    let (rank, world) = (pg?.rank ?? 0, pg?.worldSize ?? 1)
    if let pg, !pg.isMain { try pg.barrier() }  // rank 0 first: it makes the built-in set and writes the lists
    let data = try FinetuneData(c, rank: rank, worldSize: world)
    if let pg, pg.isMain { try pg.barrier() }
    let kind = c.images ? "images" : "videos"
    RunLog.info(
        "data: \(data.trainCount) training, \(data.valCount) validation \(kind), \(data.numClasses) classes; "
            + "\(data.val.count) test view(s)"
            + (world > 1 ? "; rank \(rank) of \(world), validation \(data.valSharded ? "sharded" : "on rank 0")" : ""))
    let f = try Finetuner(c, numClasses: data.numClasses, classNames: data.classNames, worldSize: world, rank: rank)
    if let pg { try attachDataParallel(f, group: pg, shardedEval: data.valSharded) }
    let s = try f.run(train: data.train!, val: data.val)
    if s.bestEpoch >= 0 && rank == 0 {
        RunLog.info(
            String(format: "best val top-1 %.2f%% at epoch %d; checkpoints in %@", s.bestTop1, s.bestEpoch, c.outputDir)
        )
    }
    DataSummary([data.train!.loader] + data.val.map(\.loader)).report(to: f.log)
    pg?.afterStop()
    if let status = stoppedBySignalStatus { throw ExitCode(status) }  // saved; 130 after SIGINT
}

/// Multi-view evaluation of a checkpoint: prints top-1/top-5/per-class accuracy, writes eval.json and confusion.png.
func runEvaluate(_ c: FinetuneConfig) throws {
    var c = c
    c.evalOnly = true
    guard !c.resume.isEmpty else { throw ValidationError("--resume CHECKPOINT is required for evaluation") }
    try c.validate()
    // the classes the checkpoint was trained with label the evaluation folders
    let saved = try Checkpoint.loadSidecar(c.resume, as: FinetuneCheckpointState.self).state.classNames
    // under a launcher: rank 0 evaluates everything, or with --dist_eval each rank its shard (counts summed)
    let pg = try launchedGroup(&c, command: "evaluate")
    let rank = pg?.rank ?? 0
    let data = try FinetuneData(c, needTrain: false, classNames: saved, rank: rank, worldSize: pg?.worldSize ?? 1)
    if rank != 0 && !data.valSharded { return }
    guard !data.val.isEmpty else { throw ValidationError("--val_dir: no validation data to evaluate") }
    let f = try Finetuner(c, numClasses: data.numClasses, classNames: data.classNames)
    try requireFinite(f.model.stateDict(), source: "--resume \(c.resume)")  // no NaN accuracies from a diverged run
    if c.bf16 { try BF16Weights.convertForInference(f.model) }  // bf16 weights once instead of a cast per batch
    let t0 = Date()
    let sum = data.valSharded ? pg.map { g in { try g.allReduceSum($0) } } : nil
    let progress = ProgressLine("evaluate", total: data.val.map(\.batchesPerEpoch).reduce(0, +), unit: "batches")
    let r = try evaluateViews(
        f.model, feeds: data.val, numClasses: data.numClasses, bf16: c.bf16, fp16: c.fp16, device: c.device,
        sumOverRanks: sum, progress: progress)
    let secs = Date().timeIntervalSince(t0)
    guard rank == 0 else { return }
    progress.finish(data.val.map(\.batchesPerEpoch).reduce(0, +))
    print(
        String(
            format: "%d \(c.images ? "images" : "videos") × %d views: top-1 %.2f%%  top-5 %.2f%%  "
                + "mean class acc %.2f%%  loss %.4f  (%.1f s, %.1f clips/s)",
            r.count, r.views, r.top1, r.top5, r.meanClassAccuracy, r.loss, secs,
            Double(r.count * r.views) / max(secs, 1e-9)))
    RunLog.info("data: " + DataSummary(data.val.map(\.loader)).line)
    let width = data.classNames.map(\.count).max() ?? 0
    for (i, acc) in r.perClass.enumerated() {
        let name = data.classNames[i]
        print("  " + name + String(repeating: " ", count: width - name.count) + String(format: "  %6.2f%%", acc))
    }
    try FileManager.default.createDirectory(atPath: c.outputDir, withIntermediateDirectories: true)
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    struct Report: Encodable {
        let top1, top5, meanClassAccuracy, loss: Double; let perClass: [Double]; let classNames: [String];
        let result: EvalResult
    }
    let rep = Report(
        top1: r.top1, top5: r.top5, meanClassAccuracy: r.meanClassAccuracy, loss: r.loss.isFinite ? r.loss : -1,
        perClass: r.perClass.map { $0.isNaN ? -1 : $0 }, classNames: data.classNames, result: r)
    try atomicWrite(enc.encode(rep), to: c.outputDir + "/eval.json")
    // TensorBoard (and log.jsonl) in the log dir: the accuracies and the confusion matrix at the checkpoint's epoch
    let log = try RunLog(dir: c.logDirectory, lossTag: "loss")
    var record: [String: Any] = [
        "type": "eval", "step": f.state.epoch, "top1": r.top1, "top5": r.top5, "mean_class_acc": r.meanClassAccuracy
    ]
    if r.loss.isFinite { record["loss"] = r.loss }
    log.write(record)
    let fig = ConfusionPlot.figure(r, classNames: data.classNames, title: "evaluation")
    let png = try fig.write(png: c.outputDir + "/confusion.png")
    log.image("confusion", png: png, width: fig.width, height: fig.height, step: f.state.epoch)
    log.events?.flush()
    RunLog.info("wrote \(c.outputDir)/eval.json, confusion.png/.svg and TensorBoard events in \(c.logDirectory)")
}
