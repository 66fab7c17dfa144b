import ArgumentParser

/// `stmae`: spatiotemporal masked autoencoders on libtorch.
@main
struct STMAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stmae",
        abstract: "Spatiotemporal masked autoencoders (video MAE) in Swift on libtorch.",
        subcommands: [Bench.self, FinetuneCommand.self, EvaluateCommand.self, LinprobeCommand.self, FinetuneImageCommand.self])
}
