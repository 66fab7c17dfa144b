/// The clip-sampling settings that pre-training and fine-tuning share (`PretrainConfig`, `FinetuneConfig`).
public protocol ClipSettings {
    var numFrames: Int { get set }
    var samplingRate: Int { get set }
    var targetFps: Double { get set }
    var imgSize: Int { get set }
    var shortSide: Int { get set }
    var repeatAug: Int { get set }
    var jitterScalesRelative: [Double] { get set }
    var jitterAspectRelative: [Double] { get set }
    var mean: [Double] { get set }
    var std: [Double] { get set }
    var numWorkers: Int { get set }
}

extension PretrainConfig: ClipSettings {}
extension FinetuneConfig: ClipSettings {}

extension ConfigFlag where Config: ClipSettings {
    /// The flags of the clip-sampling settings, with their ranges; `shortSide` is the help of `--short_side`.
    static func clipSampling(shortSide: String) -> [ConfigFlag] {
        [
            .option("num_frames", \.numFrames, .above(0)),
            .option("sampling_rate", \.samplingRate, .above(0)),
            .option("target_fps", \.targetFps, .above(0)),
            .option("img_size", \.imgSize, .above(0), "crop size", aliases: ["input_size"]),
            .option("short_side", \.shortSide, .atLeast(0), shortSide),
            .option("repeat_aug", \.repeatAug, .above(0), "augmented clips per decoded video"),
            .option("jitter_scales_relative", \.jitterScalesRelative, .interval),
            .option("jitter_aspect_relative", \.jitterAspectRelative, .interval),
            .option("mean", \.mean, .count(3)),
            .option("std", \.std, .positives(3)),
            .option("num_workers", \.numWorkers, .atLeast(0))
        ]
    }
}
