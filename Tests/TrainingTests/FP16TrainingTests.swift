import Foundation
import NN
import Testing
import TestSupport
import Torch
@testable import Training

/// `--fp16` on the CPU: float16 autocast with the loss scaler, its state in checkpoints and log.jsonl.
struct FP16TrainingTests {
    /// A stopped fp16 run saves the scaler's scale and growth tracker; `--resume` restores them and repeats the
    /// uninterrupted run's losses.
    @Test func scalerStateIsSavedAndResumed() throws {
        let feed = RandomFeed(batchesPerEpoch: 4, shape: [2, 3, 4, 32, 32])
        let t1 = try TempDir("fp16-full"), t2 = try TempDir("fp16-resume")
        var c = tinyConfig(t1.path)
        (c.fp16, c.accumIter, c.epochs, c.device) = (true, 1, 1, .cpu)
        let fullRun = try Pretrainer(c)
        let full = try fullRun.run(feed: feed)
        #expect(full.step == 4 && full.lossHistory.allSatisfy(\.isFinite))
        #expect(try fullRun.scaler?.state() == GradScalerState(scale: 65536, growthTracker: 4))
        let log = try String(contentsOfFile: t1.path + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(log.filter { $0.contains("\"loss_scale\":65536") && $0.contains("\"data_wait_share\":") }.count == 4)

        c.outputDir = t2.path
        c.maxSteps = 3
        _ = try Pretrainer(c).run(feed: feed)
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: t2.path + "/checkpoint-last.json"))) as! [String: Any]
        let saved = json["gradScaler"] as? [String: Any]
        #expect(saved?["scale"] as? Double == 65536 && saved?["growth_tracker"] as? Int == 3, "\(json)")
        c.maxSteps = 0
        c.resume = t2.path + "/checkpoint-last.json"
        let resumed = try Pretrainer(c)
        #expect(try resumed.scaler?.state() == GradScalerState(scale: 65536, growthTracker: 3))
        let rest = try resumed.run(feed: feed)
        #expect(rest.lossHistory == full.lossHistory, "resumed \(rest.lossHistory) vs \(full.lossHistory)")
        #expect(try resumed.scaler?.state() == GradScalerState(scale: 65536, growthTracker: 4))
    }

    /// Fine-tuning in fp16: the scaler's state is in the fine-tuning checkpoint and comes back with `--resume`.
    @Test func finetuneKeepsTheScalerState() throws {
        let tmp = try TempDir("fp16-ft")
        var c = try tinyFinetuneConfig(tmp.path)
        (c.fp16, c.batchSize, c.epochs, c.device, c.mixup, c.cutmix) = (true, 4, 1, .cpu, 0, 0)
        let f = try Finetuner(c, numClasses: 8)
        let state = try f.run(train: LabelledFeed(batchesPerEpoch: 3, shape: [4, 3, 4, 32, 32], classes: 8), val: [])
        #expect(state.step == 3 && state.lossHistory.allSatisfy(\.isFinite))
        #expect(try f.scaler?.state() == GradScalerState(scale: 65536, growthTracker: 3))
        c.resume = tmp.path + "/checkpoint-last.json"
        let g = try Finetuner(c, numClasses: 8)
        #expect(try g.scaler?.state() == GradScalerState(scale: 65536, growthTracker: 3))
    }
}
