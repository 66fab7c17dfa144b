import ArgumentParser
import Training

/// `stmae finetune`: mae_st `main_finetune` on videos (class folders or lists; default: the built-in synthetic set).
struct FinetuneCommand: FinetuneFamilyCommand {
    static let base = FinetuneConfig()
    static let configuration = command(
        "finetune",
        "Fine-tune a video ViT classifier (layer-decay AdamW, mixup/cutmix, RandAugment, multi-view validation).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
}

extension FinetuneFamilyCommand {
    /// The configuration of a fine-tuning command: its name, abstract and `--help` text (`intro`, then every flag with
    /// its default; ArgumentParser's help off).
    static func command(_ name: String, _ abstract: String, intro: String = "") -> CommandConfiguration {
        CommandConfiguration(commandName: name, abstract: abstract, discussion: intro + discussion(), helpNames: [])
    }

    /// Fine-tunes with this invocation's settings (`--help` printed instead).
    func run() throws { try runFinetune(settings()) }
}
