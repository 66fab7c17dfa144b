import ArgumentParser
import Distributed

/// `stmae`: spatiotemporal masked autoencoders on libtorch.
@main
struct STMAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stmae",
        abstract: "Spatiotemporal masked autoencoders (video MAE) in Swift on libtorch.",
        subcommands: [
            PretrainCommand.self, FinetuneCommand.self, EvaluateCommand.self, LinprobeCommand.self,
            FinetuneImageCommand.self,
            VisualizeCommand.self, Bench.self, Convert.self, Embed.self, Launch.self
        ])

    static func main() {
        Launcher.bindToLauncher()  // a rank of `stmae launch` dies with it
        tuneAllocator()
        main(nil)
    }
}
