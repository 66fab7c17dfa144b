import ArgumentParser

/// `stmae`: spatiotemporal masked autoencoders on libtorch.
@main
struct STMAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stmae",
        abstract: "Spatiotemporal masked autoencoders (video MAE) in Swift on libtorch.",
        subcommands: [PretrainCommand.self, FinetuneCommand.self, EvaluateCommand.self, LinprobeCommand.self, FinetuneImageCommand.self,
                      VisualizeCommand.self, Bench.self, Convert.self, Embed.self, Launch.self])

    static func main() {
        tuneAllocator()
        main(nil)
    }
}
