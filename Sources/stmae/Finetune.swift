import ArgumentParser
import Training

/// `stmae finetune`: mae_st `main_finetune` on videos (class folders or lists; default: the built-in synthetic set).
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune",
        abstract: "Fine-tune a video ViT classifier (layer-decay AdamW, mixup/cutmix, RandAugment, multi-view validation).")
    @OptionGroup var options: FinetuneOptions
    func run() throws { try runFinetune(options.config(options.evalOnly ? try checkpointBase(options) : FinetuneConfig())) }
}
