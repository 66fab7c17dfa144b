import ArgumentParser
import Training

/// `stmae linprobe`: frozen pre-trained encoder, plain linear head on the pooled features (no BatchNorm).
struct LinprobeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "linprobe",
        abstract: "Linear probing: frozen encoder, a plain linear head on pooled features (AdamW, no weight decay).")
    @OptionGroup var options: FinetuneOptions
    func run() throws {
        var base = FinetuneConfig()
        // MAE linprobe: no mixup/smoothing/drop path, larger base lr, no weight decay, no layer decay.
        base.linearProbe = true; base.smoothing = 0; base.dropPathRate = 0; base.dropout = 0; base.blr = 0.1
        base.weightDecay = 0; base.layerDecay = 1; base.outputDir = "output_linprobe"
        try runFinetune(options.config(base))
    }
}
