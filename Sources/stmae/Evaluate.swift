import ArgumentParser
import Training

/// The settings saved with the `--resume` checkpoint (model size, clip sampling, images) as defaults for evaluation;
/// flags given on the command line override them.
func checkpointBase(_ o: FinetuneOptions) throws -> FinetuneConfig {
    guard let resume = o.resume else { throw ValidationError("--resume CHECKPOINT is required for evaluation") }
    var base = try Checkpoint.loadSidecar(resume, as: FinetuneCheckpointState.self).state.config
    base.resume = resume; base.evalOnly = true; base.finetune = ""; base.maxSteps = 0
    base.numTemporalViews = FinetuneConfig().numTemporalViews; base.numSpatialCrops = FinetuneConfig().numSpatialCrops
    base.outputDir = base.outputDir + "/eval"
    return base
}

/// `stmae evaluate`: multi-view testing of a fine-tuned checkpoint (`--resume`), per-class accuracy, confusion PNG.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate",
        abstract: "Evaluate a fine-tuned checkpoint: num_temporal_views × num_spatial_crops, softmax averaged per video.")
    @OptionGroup var options: FinetuneOptions
    func run() throws { try runEvaluate(options.config(try checkpointBase(options))) }
}
