import ArgumentParser
import Training

/// `stmae finetune`: mae_st `main_finetune` on videos (class folders or lists; default: the built-in synthetic set).
struct FinetuneCommand: FinetuneFamilyCommand {
    static let configuration = command(
        "finetune",
        "Fine-tune a video ViT classifier (layer-decay AdamW, mixup/cutmix, RandAugment, multi-view validation).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
}

extension FinetuneFamilyCommand {
    /// Fine-tunes with this invocation's settings (`--help` printed instead).
    func run() throws { try runFinetune(settings()) }
}
