import ArgumentParser
import Training

/// `stmae finetune-image`: image class folders (JPEG/PNG), each image a static clip of `num_frames`.
struct FinetuneImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune-image",
        abstract: "Fine-tune on image class folders (static clips): RandomResizedCrop + flip; val resize(img_size+32) + centre crop.")
    @OptionGroup var options: FinetuneOptions
    func run() throws {
        var base = FinetuneConfig()
        base.images = true; base.jitterScalesRelative = [0.08, 1.0]; base.jitterAspectRelative = [0.75, 4.0 / 3]
        base.outputDir = "output_finetune_image"
        try runFinetune(options.config(base))
    }
}
