// The threaded, deterministic, distributed-aware clip loader.
import Foundation
import Media

/// Loads batches of augmented clips on worker threads, in a fixed order.
///
/// Every sample's randomness comes from `ClipPipeline.rng(seed:epoch:slot:repeat:)`, so batches are
/// bit-identical across runs, worker counts and resumes (`startBatch`). Sampling follows
/// PyTorch's `DistributedSampler`: the epoch's permutation (seeded by `seed + epoch`) is padded to a
/// multiple of `worldSize` by repeating from its start, and rank `r` takes positions `r, r + worldSize, …`.
///
/// A video that cannot be decoded is replaced by the next sample index (up to `maxAttempts`
/// failing files per sample); each failing path is recorded once in `failures` and passed to `log`.
public final class VideoLoader: @unchecked Sendable {
    public let samples: [VideoSample]
    public let config: ClipConfig
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let numWorkers: Int
    public let prefetch: Int
    public let dropLast: Bool
    public let rank: Int
    public let worldSize: Int
    public let maxAttempts: Int
    let pipeline: ClipPipeline
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private let uniquePaths: Int
    private var failedPaths: [String: String] = [:]
    private var failureList: [(path: String, reason: String)] = []
    private var damage: [String: Int] = [:], damageOrder: [String] = []
    private var workersRunning = 0

    /// - Parameters:
    ///   - numWorkers: decoding threads; 0 decodes on the caller's thread.
    ///   - prefetch: batches decoded ahead of the consumer (default `2 · max(numWorkers, 1)`).
    ///   - log: receives one line per newly failing file; called from worker threads.
    public init(
        samples: [VideoSample], config: ClipConfig, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
        numWorkers: Int = 2, prefetch: Int? = nil, dropLast: Bool = true, rank: Int = 0, worldSize: Int = 1,
        maxAttempts: Int = 32, log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        guard !samples.isEmpty else { throw DatasetError("VideoLoader: no samples") }
        guard batchSize > 0, numWorkers >= 0, maxAttempts > 0 else {
            throw DatasetError("VideoLoader: batchSize and maxAttempts must be positive, numWorkers >= 0")
        }
        guard worldSize > 0, (0 ..< worldSize).contains(rank) else {
            throw DatasetError("VideoLoader: rank \(rank) out of range for worldSize \(worldSize)")
        }
        pipeline = try ClipPipeline(config: config)
        self.samples = samples
        self.config = config
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.numWorkers = numWorkers
        self.prefetch = max(prefetch ?? 2 * max(numWorkers, 1), 1)
        self.dropLast = dropLast
        self.rank = rank
        self.worldSize = worldSize
        self.maxAttempts = maxAttempts
        self.log = log
        uniquePaths = Set(samples.map(\.path)).count
    }

    // MARK: - Sampling

    /// Samples per rank per epoch: `⌈n / worldSize⌉`.
    public var samplesPerRank: Int { (samples.count + worldSize - 1) / worldSize }

    /// Batches per epoch for this rank.
    public var stepsPerEpoch: Int {
        dropLast ? samplesPerRank / batchSize : (samplesPerRank + batchSize - 1) / batchSize
    }

    /// The epoch's order over all ranks, padded to `samplesPerRank · worldSize` by repeating from the start.
    public func paddedPermutation(epoch: Int) -> [Int] {
        let n = samples.count
        var rng = SampleRNG(seed: seed &+ UInt64(bitPattern: Int64(epoch)))
        let order = shuffle ? rng.permutation(n) : Array(0 ..< n)
        return (0 ..< samplesPerRank * worldSize).map { order[$0 % n] }
    }

    /// This rank's sample indices for `epoch`, in order (`samplesPerRank` entries).
    public func indices(epoch: Int) -> [Int] {
        let padded = paddedPermutation(epoch: epoch)
        return stride(from: rank, to: padded.count, by: worldSize).map { padded[$0] }
    }

    // MARK: - Failures

    /// Files that failed to load, each once, in the order they were found.
    public var failures: [(path: String, reason: String)] { lock.withLock { failureList } }

    /// Worker threads currently alive (over all streams of this loader).
    public var activeWorkers: Int { lock.withLock { workersRunning } }

    func workerStarted() { lock.withLock { workersRunning += 1 } }
    func workerFinished() { lock.withLock { workersRunning -= 1 } }

    /// Files that decoded with damaged packets or frames (concealed by the decoder), with the most met in one read.
    public var decodeErrors: [(path: String, count: Int)] { lock.withLock { damageOrder.map { ($0, damage[$0]!) } } }

    private func recordDecodeErrors(_ path: String, _ count: Int) {
        let isNew: Bool = lock.withLock {
            let isNew = damage[path] == nil
            if isNew { damageOrder.append(path) }
            damage[path] = max(damage[path] ?? 0, count)
            return isNew
        }
        if isNew { log("decode errors in \(path): \(count) damaged packet(s)/frame(s), concealed") }
    }

    private func knownFailure(_ index: Int) -> Bool { lock.withLock { failedPaths[samples[index].path] != nil } }

    private func recordFailure(_ index: Int, _ error: Error) {
        let reason = (error as? MediaError)?.reason ?? "\(error)"
        let path = samples[index].path
        let isNew: Bool = lock.withLock {
            guard failedPaths[path] == nil else { return false }
            failedPaths[path] = reason
            failureList.append((path, reason))
            return true
        }
        if isNew { log("skipping unreadable \(VideoList.isImage(path) ? "image" : "video") \(path): \(reason)") }
    }

    /// Directory shared by all sample paths (for messages).
    private var commonDirectory: String {
        let dirs = samples.map {
            ($0.path as NSString).deletingLastPathComponent.split(separator: "/", omittingEmptySubsequences: false)
        }
        var common = dirs[0]
        for d in dirs.dropFirst() {
            common = Array(zip(common, d).prefix { $0 == $1 }.map(\.0))
        }
        let joined = common.joined(separator: "/")
        return joined.isEmpty ? (samples[0].path.hasPrefix("/") ? "/" : ".") : joined
    }

    private func exhaustedError(from index: Int) -> DatasetError {
        let (count, first) = lock.withLock { (failedPaths.count, failureList.prefix(3)) }
        let what = samples.allSatisfy { VideoList.isImage($0.path) } ? "image" : "video"
        let errors = first.map { "\(($0.path as NSString).lastPathComponent): \($0.reason)" }.joined(separator: "; ")
        if count >= uniquePaths {
            return DatasetError(
                "no readable \(what)s among \(uniquePaths) files in \(commonDirectory); first errors: \(errors)")
        }
        return DatasetError(
            "no readable \(what) within \(maxAttempts) attempts from \(samples[index].path) "
                + "(\(count) of \(uniquePaths) files in \(commonDirectory) failed); first errors: \(errors)")
    }

    // MARK: - Batches

    /// Batches `startBatch ..< stepsPerEpoch` of `epoch`, decoded ahead on `numWorkers` threads.
    /// Stopping early is fine: releasing (or `cancel()`ing) the stream stops its workers.
    public func batches(epoch: Int, startBatch: Int = 0) -> BatchStream {
        BatchStream(loader: self, epoch: epoch, startBatch: min(max(startBatch, 0), stepsPerEpoch))
    }

    /// Decodes batch `b` of `order` (this rank's indices for `epoch`).
    func makeBatch(_ b: Int, order: [Int], epoch: Int) throws -> ClipBatch {
        let lo = b * batchSize, hi = min(lo + batchSize, order.count)
        let r = config.repeatAug, clipCount = config.clipCount, n = samples.count
        var data = [Float](repeating: 0, count: (hi - lo) * r * clipCount)
        var labels: [Int] = [], paths: [String] = [], loaded: [Int] = []
        try data.withUnsafeMutableBufferPointer { buffer in
            for (k, position) in (lo ..< hi).enumerated() {
                let slot = rank + position * worldSize
                let rngs = (0 ..< r).map { ClipPipeline.rng(seed: seed, epoch: epoch, slot: slot, repeat: $0) }
                let out = UnsafeMutableBufferPointer(rebasing: buffer[k * r * clipCount ..< (k + 1) * r * clipCount])
                var failures = 0, chosen: Int?
                for step in 0 ..< n {
                    if failures >= maxAttempts { break }
                    let candidate = (order[position] + step) % n
                    if knownFailure(candidate) { continue }
                    do {
                        let damaged = try pipeline.load(path: samples[candidate].path, rngs: rngs, into: out)
                        if damaged > 0 { recordDecodeErrors(samples[candidate].path, damaged) }
                        chosen = candidate
                        break
                    } catch {
                        recordFailure(candidate, error)
                        failures += 1
                    }
                }
                guard let index = chosen else { throw exhaustedError(from: order[position]) }
                for _ in 0 ..< r {
                    labels.append(samples[index].label)
                    paths.append(samples[index].path)
                    loaded.append(index)
                }
            }
        }
        return ClipBatch(
            data: data, shape: [(hi - lo) * r] + config.clipShape, index: b, labels: labels, paths: paths,
            sampleIndices: loaded)
    }
}
