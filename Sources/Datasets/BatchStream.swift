// Ordered delivery of batches produced by worker threads.
import Foundation

/// The batches of one epoch, in order, decoded ahead by the loader's workers.
///
/// Iterate with `while let batch = try stream.nextBatch()` to receive loading errors (such as a
/// data set with no readable video), or with `for batch in stream`, which ends early on an error
/// and leaves it in `error`. Releasing the stream or calling `cancel()` stops its workers.
public final class BatchStream: Sequence, IteratorProtocol {
    public let epoch: Int
    /// First and one-past-last batch index.
    public let startBatch: Int, endBatch: Int
    /// The error that ended a `for … in` iteration, if any.
    public private(set) var error: Error?
    private let state: PipelineState
    private let loader: VideoLoader

    init(loader: VideoLoader, epoch: Int, startBatch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.startBatch = startBatch
        endBatch = loader.stepsPerEpoch
        state = PipelineState(next: startBatch, end: endBatch, prefetch: loader.prefetch)
        let order = loader.indices(epoch: epoch)
        let produce: @Sendable (Int) -> Result<ClipBatch, Error> = { [loader] b in
            Result { try loader.makeBatch(b, order: order, epoch: epoch) }
        }
        state.produce = produce
        for w in 0 ..< Swift.min(loader.numWorkers, endBatch - startBatch) {
            loader.workerStarted()
            state.workerSpawned()
            let thread = Thread { [state, loader] in
                state.work()
                loader.workerFinished()
            }
            thread.name = "stmae.loader.\(w)"
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The next batch, nil after the last one.
    /// - Throws: the loading error of this batch (e.g. no readable video); the stream then ends.
    public func nextBatch() throws -> ClipBatch? {
        if loader.numWorkers == 0 {
            guard let b = state.claimInline() else { return nil }
            switch state.produce!(b) {
            case .success(let batch): return batch
            case .failure(let e): state.cancel(); throw e
            }
        }
        guard let result = state.take() else { return nil }
        switch result {
        case .success(let batch): return batch
        case .failure(let e): state.cancel(); throw e
        }
    }

    /// `IteratorProtocol`: the next batch, or nil at the end or on an error (see `error`).
    public func next() -> ClipBatch? {
        do {
            return try nextBatch()
        } catch {
            self.error = error
            return nil
        }
    }

    /// Stops the workers; they exit after finishing the batch they are decoding.
    /// With `wait`, returns once they have exited.
    public func cancel(wait: Bool = false) {
        state.cancel()
        if wait { state.waitForWorkers() }
    }
}

/// Shared between a stream and its workers: claims, results and cancellation under one condition.
final class PipelineState: @unchecked Sendable {
    private let condition = NSCondition()
    private var nextToClaim: Int
    private var nextToTake: Int
    private let end: Int
    private let prefetch: Int
    private var ready: [Int: Result<ClipBatch, Error>] = [:]
    private var stopped = false  // no more claims (error seen or cancelled)
    private var cancelled = false
    private var running = 0
    var produce: (@Sendable (Int) -> Result<ClipBatch, Error>)?

    init(next: Int, end: Int, prefetch: Int) {
        nextToClaim = next
        nextToTake = next
        self.end = end
        self.prefetch = prefetch
    }

    /// Worker loop: claim the next batch within the prefetch window, produce it, publish it.
    func work() {
        condition.lock()
        while !stopped && nextToClaim < end {
            guard nextToClaim < nextToTake + prefetch else {
                condition.wait()
                continue
            }
            let b = nextToClaim
            nextToClaim += 1
            condition.unlock()
            let result = produce!(b)
            condition.lock()
            if case .failure = result { stopped = true }
            if !cancelled { ready[b] = result }
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// The next result in order; nil at the end or after cancellation.
    func take() -> Result<ClipBatch, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if cancelled || nextToTake >= end { return nil }
            if let result = ready.removeValue(forKey: nextToTake) {
                nextToTake += 1
                condition.broadcast()
                return result
            }
            // Never claimed and never will be: an earlier batch failed and was already delivered.
            if stopped && nextToTake >= nextToClaim { return nil }
            condition.wait()
        }
    }

    /// For synchronous use (no workers): the next batch index to produce.
    func claimInline() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, nextToTake < end else { return nil }
        nextToTake += 1
        return nextToTake - 1
    }

    /// Counts a worker before its thread starts, so `waitForWorkers` cannot miss it.
    func workerSpawned() {
        condition.lock()
        running += 1
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        stopped = true
        ready.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    func waitForWorkers() {
        condition.lock()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}
