import Datasets
import Foundation
import Models
import Testing
import TestSupport
import Torch
@testable import Training

/// Same flags, same run: every random draw of fine-tuning (clip sampling and augmentation, random erasing, a fresh
/// head, drop path, mixup / cutmix) comes from `--seed`, whatever else runs in the process, however the loader's
/// threads are timed, and across `--resume`.
struct FinetuneSeedTests {
    /// A tiny run with every source of randomness on, starting from weights whose head has another class count.
    func config(_ dir: String, seed: Int = 0, workers: Int = 2) throws -> FinetuneConfig {
        var c = try tinyFinetuneConfig(dir)
        c.valDir = ""; c.epochs = 2; c.batchSize = 4; c.maxSteps = 3; c.warmupEpochs = 0
        c.dropPathRate = 0.5; c.mixup = 0.8; c.cutmix = 1.0; c.reprob = 0.5; c.flipProb = 0.5
        c.numWorkers = workers; c.seed = seed
        c.finetune = Self.pretrained
        return c
    }

    /// A ViT of `tinyFinetuneConfig`'s size with a 5-class head (written once): the run's head is drawn fresh.
    static let pretrained: String = {
        let path = NSTemporaryDirectory() + "stmae-seed-pretrained-\(getpid()).safetensors"
        let c = try! tinyFinetuneConfig("")
        let vit = try! VisionTransformer(classifierConfig(c, numClasses: 5), generator: Generator(seed: 9))
        try! TensorFile.save(vit.namedTensors(), to: path)
        return path
    }()

    /// The loss of every optimizer step of a run of `c` (its own output directory).
    func losses(_ c: FinetuneConfig) throws -> [Double] {
        let data = try FinetuneData(c, log: { _ in })
        return try Finetuner(c, numClasses: data.numClasses).run(train: data.train!, val: []).lossHistory
    }

    @Test func sameSeedGivesTheSameRun() throws {
        let tmp = try TempDir("seed-same"), root = tmp.path
        // two runs at once: neither may move the other's random streams
        var concurrent: [Result<[Double], Error>] = Array(repeating: .success([]), count: 2)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = Result { try losses(config(root + "/run\(i)")) }
            lock.withLock { concurrent[i] = r }
        }
        let a = try concurrent[0].get(), b = try concurrent[1].get()
        #expect(a.count == 3 && a == b, "same seed, runs side by side: \(a) vs \(b)")
        // decoding on the caller's thread instead of 2 workers: the same clips, so the same run
        let inline = try losses(config(root + "/inline", workers: 0))
        #expect(inline == a, "2 loader workers \(a) vs none \(inline)")
        let other = try losses(config(root + "/seed1", seed: 1))
        #expect(other.count == 3 && other[0] != a[0], "seed 1 gives the seed-0 run: \(other)")
    }

    @Test func resumeContinuesTheSameRun() throws {
        let tmp = try TempDir("seed-resume"), root = tmp.path
        let full = try losses(config(root + "/full"))
        var first = try config(root + "/part")
        first.maxSteps = 1
        #expect(try losses(first) == Array(full.prefix(1)))
        var rest = first
        rest.maxSteps = 2; rest.resume = first.outputDir + "/checkpoint-last.json"
        let resumed = try losses(rest)
        #expect(resumed == full, "resumed after step 1: \(resumed) vs uninterrupted \(full)")
    }
}
