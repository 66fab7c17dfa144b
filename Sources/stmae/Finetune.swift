import ArgumentParser
import Training

/// `stmae finetune`: mae_st `main_finetune` on videos (class folders or lists; default: the built-in synthetic set).
struct FinetuneCommand: FinetuneFamilyCommand {
    static let base = FinetuneConfig()
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract:
            "Fine-tune a video ViT classifier (layer-decay AdamW, mixup/cutmix, RandAugment, multi-view validation).",
        discussion: discussion(), helpNames: [])
    @Argument(parsing: .captureForPassthrough, help: "--flag value … (see the list below)")
    var arguments: [String] = []
    func run() throws { try runFinetune(settings()) }
}
