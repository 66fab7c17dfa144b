// One batch type and one feed protocol for pre-training, fine-tuning, evaluation and embedding.

/// One batch of clips. Repeats of a video are adjacent (mae_st `repeat_aug`), so `labels`, `paths` and
/// `sampleIndices` have one entry per clip (`N = B · repeatAug`) — or none where the source has no such thing
/// (pre-training feeds without labels, in-memory clips without files).
public struct ClipBatch: Sendable {
    /// Contiguous Float32 `[N, 3, T, H, W]` (normalised).
    public var data: [Float]
    /// `[N, 3, T, H, W]`.
    public var shape: [Int]
    /// Batch number within the epoch (for this rank).
    public var index: Int
    /// Class per clip (`[N]`).
    public var labels: [Int]
    /// Source file per clip (`[N]`).
    public var paths: [String]
    /// The video each clip comes from (`[N]`, indices into the loader's samples, after replacing failures):
    /// multi-view testing averages a video's views by it.
    public var sampleIndices: [Int]

    public init(
        data: [Float], shape: [Int], index: Int, labels: [Int] = [], paths: [String] = [],
        sampleIndices: [Int] = []
    ) {
        self.data = data; self.shape = shape; self.index = index
        self.labels = labels; self.paths = paths; self.sampleIndices = sampleIndices
    }
}

/// A deterministic source of batches: the same (epoch, batch index) always gives the same clips.
/// `VideoFeed` (Training) serves videos and images through `VideoLoader`; tests feed tensors from memory.
public protocol ClipFeed {
    var batchesPerEpoch: Int { get }
    /// Batches `startBatch ..< batchesPerEpoch` of `epoch`, in order.
    func batches(epoch: Int, startBatch: Int) throws -> FeedIterator
}

extension ClipFeed {
    /// Calls `body` with batches `startBatch ..< batchesPerEpoch` in order until it returns false; loading errors
    /// throw. Stopping early releases the iterator (a loader's workers stop).
    public func forEach(epoch: Int, startBatch: Int = 0, _ body: (ClipBatch) throws -> Bool) throws {
        let it = try batches(epoch: epoch, startBatch: startBatch)
        while let batch = try it.next() {
            guard try body(batch) else { return }
        }
    }
}

/// Pulls batches one at a time; `next()` throws loading errors (e.g. a data set with no readable video).
public struct FeedIterator {
    let pull: () throws -> ClipBatch?
    public init(_ pull: @escaping () throws -> ClipBatch?) { self.pull = pull }
    /// Iterates a sequence that cannot fail.
    public init<S: Sequence>(_ s: S) where S.Element == ClipBatch {
        var it = s.makeIterator()
        pull = { it.next() }
    }
    public func next() throws -> ClipBatch? { try pull() }
}
