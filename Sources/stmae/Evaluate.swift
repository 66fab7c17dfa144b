import ArgumentParser
import Training

/// `stmae evaluate`: multi-view testing of a fine-tuned checkpoint (`--resume`), per-class accuracy, confusion PNG.
/// Defaults are the checkpoint's settings; flags override them.
struct EvaluateCommand: FinetuneFamilyCommand {
    static let configuration = command(
        "evaluate",
        "Evaluate a fine-tuned checkpoint: num_temporal_views × num_spatial_crops, softmax averaged per video.",
        intro: "Defaults are the --resume checkpoint's settings (flags override them); below, a new run's.")
    @Argument(parsing: .captureForPassthrough, help: "--resume CHECKPOINT --flag value … (see the list below)")
    var arguments: [String] = []
    func run() throws {
        guard let c = try settings(evaluate: true) else { return }
        try runEvaluate(c)
    }
}
