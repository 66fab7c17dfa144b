// The built-in data set used when no data is given.
import Foundation
import Media

/// Synthetic moving-shape videos (8 classes: shape × left/right motion), generated once.
///
/// Sized so that `stmae pretrain` with no arguments trains a tiny ViT in about two minutes on
/// two cores: 256 training and 64 validation clips of 32 frames, 96×96 at 10 fps. With the
/// suggested `clipConfig` (16 frames, sampling rate 4 at 30 fps → a 21-frame span, 64 px crops
/// from frames decoded at a 73 px short side) a clip needs little decoding.
public enum DefaultData {
    public static let trainPerClass = 32
    public static let valPerClass = 8
    public static let frames = 32
    public static let size = 96
    public static let fps = 10.0
    public static let seed: UInt64 = 0

    /// Class names in label order (also the sorted class-folder names, so `VideoList.scan` agrees).
    public static var classNames: [String] { SyntheticVideos.classNames.sorted() }

    /// A clip configuration suited to the built-in data.
    public static func clipConfig(train: Bool = true) -> ClipConfig {
        ClipConfig(numFrames: 16, samplingRate: 4, imgSize: 64, train: train)
    }

    /// Default location: `$STMAE_DATA` if set, else `~/.cache/stmae/synthetic`.
    public static var defaultRoot: String {
        if let env = ProcessInfo.processInfo.environment["STMAE_DATA"], !env.isEmpty { return env }
        return FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/stmae/synthetic"
    }

    /// Generates the data set under `root` unless it is already there (idempotent) and returns
    /// the split directories, each with one sub-folder per class.
    @discardableResult
    public static func ensure(root: String = defaultRoot) throws -> (train: String, val: String) {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw DatasetError("\(root): cannot create directory: \(error.localizedDescription)")
        }
        try SyntheticVideos.generate(
            root: root, trainPerClass: trainPerClass, valPerClass: valPerClass, seed: seed,
            frames: frames, size: size, fps: fps)
        return (root + "/train", root + "/val")
    }
}
