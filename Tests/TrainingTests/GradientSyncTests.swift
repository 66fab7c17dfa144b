import Datasets
import Foundation
import NN
import Testing
import TestSupport
import Torch
@testable import Training

/// Records what an engine asks of its `GradientSync`; its "mean over ranks" doubles, so the logged loss shows it.
final class RecordingSync: GradientSync {
    var events: [String] = []
    var isLocal: Bool { false }
    func beforeBackward(_ loss: Tensor, willStep: Bool) throws {
        events.append(willStep ? "backward+step" : "backward")
    }
    func syncGradients() throws { events.append("sync") }
    func reduceMean(_ value: Double) throws -> Double { events.append("mean"); return 2 * value }
}

/// Pre-training and fine-tuning drive data parallelism through the same `GradientSync`: every backward announced
/// (the one before an optimizer step marked), gradients synced once per step, the logged loss averaged over ranks.
struct GradientSyncTests {
    let window = ["backward", "backward+step", "sync", "mean"]

    @Test func pretrainEngineUsesTheSync() throws {
        let tmp = try TempDir("sync-pt"), dir = tmp.path
        var c = tinyConfig(dir)
        c.epochs = 1; c.maxSteps = 2  // accum_iter 2: two windows of two micro-batches
        let feed = RandomFeed(batchesPerEpoch: 6, shape: [2, 3, 4, 32, 32])
        let local = try Pretrainer(c).run(feed: feed)
        let trainer = try Pretrainer(c), sync = RecordingSync()
        trainer.gradientSync = sync
        let synced = try trainer.run(feed: feed)
        #expect(sync.events == window + window)
        #expect(synced.lossHistory == local.lossHistory.map { 2 * $0 })
    }

    @Test func finetuneEngineUsesTheSync() throws {
        let tmp = try TempDir("sync-ft"), dir = tmp.path
        var c = familyFinetuneConfig("vit_tiny", dir)
        c.accumIter = 2; c.maxSteps = 2
        let feed = ToyLabeledFeed(batchesPerEpoch: 6, shape: [4, 3, 4, 16, 16], classes: 3)
        let local = try Finetuner(c, numClasses: 3).run(train: feed, val: [])
        let tuner = try Finetuner(c, numClasses: 3), sync = RecordingSync()
        tuner.gradientSync = sync
        let synced = try tuner.run(train: feed, val: [])
        #expect(sync.events == window + window)
        #expect(synced.lossHistory == local.lossHistory.map { 2 * $0 })
    }
}
