import ArgumentParser
import Training

/// `stmae linprobe`: frozen pre-trained encoder, plain linear head on the pooled features (no BatchNorm).
struct LinprobeCommand: FinetuneFamilyCommand {
    /// MAE linprobe: no mixup/smoothing/drop path, larger base lr, no weight decay, no layer decay.
    static var defaults: FinetuneConfig {
        var b = FinetuneConfig()
        b.linearProbe = true; b.smoothing = 0; b.dropPathRate = 0; b.dropout = 0; b.blr = 0.1
        b.weightDecay = 0; b.layerDecay = 1; b.outputDir = "output_linprobe"
        return b
    }
    static let configuration = command(
        "linprobe", "Linear probing: frozen encoder, a plain linear head on pooled features (AdamW, no weight decay).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
}
