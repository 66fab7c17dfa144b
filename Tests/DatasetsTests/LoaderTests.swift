import Foundation
import Media
import TestSupport
import Testing
import Datasets

@Suite struct LoaderTests {
    func loader(
        _ samples: [VideoSample] = Fixture.samples, config: ClipConfig = Fixture.config, batchSize: Int = 3,
        workers: Int, seed: UInt64 = 11, dropLast: Bool = false, rank: Int = 0, worldSize: Int = 1,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> VideoLoader {
        try VideoLoader(
            samples: samples, config: config, batchSize: batchSize, seed: seed, numWorkers: workers,
            prefetch: 2, dropLast: dropLast, rank: rank, worldSize: worldSize, log: log)
    }

    @Test func batchesAreIdenticalForAnyWorkerCountAndResume() throws {
        var config = Fixture.config
        config.repeatAug = 2
        let reference = try collect(loader(config: config, workers: 1), epoch: 1)
        let l = try loader(config: config, workers: 1)
        #expect(l.stepsPerEpoch == 6 && reference.count == 6)  // ⌈16 / 3⌉
        #expect(reference.map(\.index) == Array(0 ..< 6))
        #expect(reference[0].shape == [6, 3, 4, 16, 16] && reference[0].data.count == 6 * 3 * 4 * 16 * 16)
        #expect(reference[5].shape == [2, 3, 4, 16, 16])  // last, partial batch
        // Repeats are adjacent and share their video.
        #expect(reference[0].paths[0] == reference[0].paths[1] && reference[0].labels[2] == reference[0].labels[3])
        #expect(reference[0].sampleIndices.enumerated().allSatisfy { l.samples[$1].label == reference[0].labels[$0] })
        // Every sample appears once per epoch.
        #expect(Set(reference.flatMap(\.sampleIndices)).count == 16)

        for workers in [0, 2] {
            let other = try collect(loader(config: config, workers: workers), epoch: 1)
            #expect(other.map(\.data) == reference.map(\.data), "workers: \(workers)")
            #expect(other.map(\.paths) == reference.map(\.paths))
        }
        let resumed = try collect(loader(config: config, workers: 2), epoch: 1, startBatch: 4)
        #expect(resumed.map(\.index) == [4, 5])
        #expect(resumed.map(\.data) == reference[4...].map(\.data))
        // Another epoch or seed changes order and augmentation.
        #expect(try collect(loader(config: config, workers: 2), epoch: 2).map(\.data) != reference.map(\.data))
        #expect(try collect(loader(config: config, workers: 2, dropLast: true), epoch: 1).count == 5)
    }

    @Test func distributedRanksCoverThePaddedPermutationDisjointly() throws {
        let samples = (0 ..< 7).map { VideoSample(path: "/none/\($0).mp4", label: $0) }
        let r0 = try loader(samples, workers: 0, worldSize: 2),
            r1 = try loader(samples, workers: 0, rank: 1, worldSize: 2)
        let padded = r0.paddedPermutation(epoch: 3)
        #expect(padded.count == 8 && Array(padded.prefix(7)).sorted() == Array(0 ..< 7) && padded[7] == padded[0])
        #expect(r0.indices(epoch: 3) == [padded[0], padded[2], padded[4], padded[6]])
        #expect(r1.indices(epoch: 3) == [padded[1], padded[3], padded[5], padded[7]])
        #expect(r0.samplesPerRank == 4 && r0.stepsPerEpoch == 2)
        #expect(r0.paddedPermutation(epoch: 4) != padded)
        #expect(r1.paddedPermutation(epoch: 3) == padded)  // all ranks agree on the order

        // Three ranks over 7: 9 slots, positions 0 and 1 repeated; each slot taken by exactly one rank.
        let ranks = try (0 ..< 3).map { try loader(samples, workers: 0, rank: $0, worldSize: 3) }
        let p3 = ranks[0].paddedPermutation(epoch: 0)
        var taken: [Int] = Array(repeating: -1, count: 9)
        for (r, l) in ranks.enumerated() {
            for (i, index) in l.indices(epoch: 0).enumerated() {
                #expect(taken[r + 3 * i] == -1 && p3[r + 3 * i] == index)
                taken[r + 3 * i] = r
            }
        }
        #expect(!taken.contains(-1) && Array(p3[7...]) == Array(p3[..<2]))
        #expect(throws: DatasetError.self) { try loader(samples, workers: 0, rank: 2, worldSize: 2) }
    }

    @Test func unreadableFilesAreSkippedAndCounted() throws {
        let tmp = try TempDir("data")
        let good = Fixture.samples.prefix(5).map(\.path)
        let bad = try writeBadVideos(in: tmp.sub("bad"), from: good[0])
        // The truncated file is listed twice: still one failure.
        let samples = (good + bad + [bad[0]]).sorted().map { VideoSample(path: $0, label: 0) }
        let log = LogLines()
        let l = try loader(samples, batchSize: 3, workers: 2, log: { log.append($0) })
        var loaded: [String] = []
        for epoch in 0 ..< 2 {
            let batches = try collect(l, epoch: epoch)
            #expect(batches.map { $0.shape[0] } == [3, 3, 3])
            loaded += batches.flatMap(\.paths)
        }
        #expect(Set(loaded).isSubset(of: Set(good)) && Set(loaded).count == 5)
        let failures = l.failures
        #expect(failures.map(\.path).sorted() == bad.sorted())  // each once, despite two epochs
        #expect(failures.allSatisfy { !$0.reason.isEmpty })
        #expect(log.all.count == 3 && log.all.allSatisfy { $0.contains("skipping") })
    }

    /// Messages about image data sets say "image" (issue 24 item 5).
    @Test(.timeLimit(.minutes(1))) func unreadableImagesAreCalledImages() throws {
        let tmp = try TempDir()
        try FileManager.default.createDirectory(atPath: tmp.sub("img"), withIntermediateDirectories: true)
        let bad = (0 ..< 2).map { tmp.sub("img/bad\($0).png") }
        for p in bad { try Data("not a png".utf8).write(to: URL(fileURLWithPath: p)) }
        let log = LogLines()
        let l = try loader(
            bad.map { VideoSample(path: $0, label: 0) }, batchSize: 1, workers: 0, log: { log.append($0) })
        #expect { _ = try collect(l, epoch: 0) } throws: { "\($0)".contains("no readable images among 2 files") }
        #expect(log.all.count == 2 && log.all.allSatisfy { $0.contains("skipping unreadable image ") }, "\(log.all)")
    }

    @Test(.timeLimit(.minutes(1))) func allCorruptSetStopsWithClearError() throws {
        let tmp = try TempDir("data")
        let bad = try writeBadVideos(in: tmp.sub("bad"), from: Fixture.samples[0].path)
        let samples = bad.map { VideoSample(path: $0, label: 0) }
        for workers in [0, 2] {
            let l = try loader(samples, batchSize: 2, workers: workers)
            let message = Box()
            let finished = finishes(within: 20) {
                do {
                    _ = try collect(l, epoch: 0)
                } catch {
                    message.value = "\(error)"
                }
            }
            #expect(finished)
            #expect(message.value.contains("no readable videos among 3 files in \(tmp.sub("bad"))"), "\(message.value)")
            #expect(message.value.contains("first errors:"))
            #expect(l.failures.count == 3)
            // The for-in form ends and keeps the error.
            let stream = l.batches(epoch: 1)
            var count = 0
            for _ in stream { count += 1 }
            #expect(count == 0 && stream.error is DatasetError)
        }
    }

    @Test(.timeLimit(.minutes(1))) func breakingOutEarlyStopsWorkers() throws {
        let l = try loader(batchSize: 1, workers: 2)
        do {
            for batch in l.batches(epoch: 0) {
                #expect(batch.index == 0)
                break
            }
        }
        let stream = l.batches(epoch: 1)
        _ = try stream.nextBatch()
        stream.cancel(wait: true)
        #expect(try stream.nextBatch() == nil)
        let deadline = Date().addingTimeInterval(20)
        while l.activeWorkers > 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(l.activeWorkers == 0)
    }

    @Test func throughputOnBuiltInSizedClips() throws {
        // Same clip format as DefaultData (32 frames, 96 px, 10 fps), fewer files.
        let tmp = try TempDir("data")
        try SyntheticVideos.generate(
            root: tmp.path, trainPerClass: 3, valPerClass: 0, seed: 1,
            frames: DefaultData.frames, size: DefaultData.size, fps: DefaultData.fps)
        let samples = try VideoList.scan(dirs: [tmp.sub("train")])
        #expect(samples.count == 24 && Set(samples.map(\.label)) == Set(0 ..< 8))
        for workers in [1, 2] {
            let l = try VideoLoader(
                samples: samples, config: DefaultData.clipConfig(), batchSize: 8, seed: 0,
                numWorkers: workers)
            let start = Date()
            let clips = try collect(l, epoch: 0).reduce(0) { $0 + $1.shape[0] }
            let rate = Double(clips) / Date().timeIntervalSince(start)
            print(
                "VideoLoader throughput: \(String(format: "%.1f", rate)) clips/s with \(workers) worker(s) "
                    + "(16×64×64 clips from 96 px, 32-frame mp4)")
            #expect(clips == 24)
        }
    }
}

final class Box: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = ""
    var value: String {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
