import ArgumentParser
import Training

/// `stmae finetune-image`: image class folders (JPEG/PNG), each image a static clip of `num_frames`.
struct FinetuneImageCommand: FinetuneFamilyCommand {
    static var base: FinetuneConfig {
        var b = FinetuneConfig()
        b.images = true; b.jitterScalesRelative = [0.08, 1.0]; b.jitterAspectRelative = [0.75, 4.0 / 3]
        b.outputDir = "output_finetune_image"
        return b
    }
    static let configuration = CommandConfiguration(
        commandName: "finetune-image",
        abstract:
            "Fine-tune on image class folders (static clips): RandomResizedCrop + flip; val resize(img_size+32) + centre crop.",
        discussion: discussion(), helpNames: [])
    @Argument(parsing: .captureForPassthrough, help: "--flag value … (see the list below)") var arguments: [String] = []
    func run() throws { try runFinetune(settings()) }
}
