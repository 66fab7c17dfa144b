import ArgumentParser
import Training

/// `stmae finetune-image`: image class folders (JPEG/PNG), each image a static clip of `num_frames`.
struct FinetuneImageCommand: FinetuneFamilyCommand {
    static var defaults: FinetuneConfig {
        var b = FinetuneConfig()
        b.images = true; b.jitterScalesRelative = [0.08, 1.0]; b.jitterAspectRelative = [0.75, 4.0 / 3]
        b.outputDir = "output_finetune_image"
        return b
    }
    static let configuration = command(
        "finetune-image",
        "Fine-tune on image class folders (static clips): RandomResizedCrop + flip; "
            + "val resize(img_size+32) + centre crop.")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
}
