// Datasets: video file lists, clip sampling, augmentation and the threaded loader.
//
// - `VideoList`: scan folders / read and write `path, label` lists, `dataFrac` subsets.
// - `ClipSampling`: mae_st temporal sampling (random clip for training, evenly spaced views for testing).
// - `Augment`, `ClipPipeline`: random resized crop / flip / normalise (train) and short-side +
//   uniform crop (eval), producing Float32 `[3, T, H, W]` clips.
// - `VideoLoader`: deterministic, multi-threaded, distributed-aware batches `[B·R, 3, T, H, W]`.
// - `DefaultData`: the built-in synthetic data set used when no data is given.
//
// This layer has no engine dependency: it produces `[Float]` buffers only.
import Media

/// An error from the Datasets layer; the message names the file or directory concerned.
public struct DatasetError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
