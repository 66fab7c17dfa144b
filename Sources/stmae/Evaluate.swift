import ArgumentParser
import Training

/// `stmae evaluate`: multi-view testing of a fine-tuned checkpoint (`--resume`), per-class accuracy, confusion PNG.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate",
        abstract: "Evaluate a fine-tuned checkpoint: num_temporal_views × num_spatial_crops, softmax averaged per video.")
    @OptionGroup var options: FinetuneOptions
    func run() throws { try runEvaluate(options.config()) }
}
