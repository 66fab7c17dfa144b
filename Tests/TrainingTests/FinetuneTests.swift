import Foundation
import Testing
import TestSupport
import Datasets
import Media
import Models
import Torch
@testable import Training

/// A small config on the built-in synthetic videos (4 frames of 32 px, ViT 64×2, patch 8).
func tinyFinetuneConfig(_ dir: String) throws -> FinetuneConfig {
    let d = try DefaultData.ensure()
    var c = FinetuneConfig()
    c.trainDir = d.train; c.valDir = d.val; c.flipProb = 0  // left/right motion classes
    c.numFrames = 4; c.samplingRate = 4; c.imgSize = 32; c.shortSide = 36; c.patchSize = 8
    c.embedDim = 64; c.depth = 2; c.numHeads = 2
    c.batchSize = 16; c.epochs = 4; c.blr = 0.02; c.warmupEpochs = 0.5; c.dropPathRate = 0; c.layerDecay = 1
    c.numWorkers = 2; c.outputDir = dir; c.logEvery = 1000; c.seed = 0
    // One intra-op thread: on 2 busy cores libtorch's default pool is several times slower for this tiny model.
    c.threads = 1
    return c
}

/// Decodes through the real loader once (augmented clips of epoch 0), then replays those batches from memory in a
/// per-epoch shuffled order, so a test can afford many optimizer steps without re-decoding videos.
final class CachedFeed: ClipFeed {
    let inner: ClipFeed
    var cache: [ClipBatch] = []
    init(_ inner: ClipFeed) { self.inner = inner }
    var batchesPerEpoch: Int { inner.batchesPerEpoch }
    func batches(epoch: Int, startBatch: Int) throws -> FeedIterator {
        if cache.isEmpty {
            try inner.forEach(epoch: 0, startBatch: 0) {
                cache.append($0); return true
            }
        }
        var rng = SampleRNG(epoch, 77)
        let order = epoch == 0 ? Array(cache.indices) : rng.permutation(cache.count)
        let cached = cache
        return FeedIterator(
            (startBatch ..< cached.count).lazy.map { i in
                var b = cached[order[i]]
                b.index = i
                return b
            })
    }
}

struct FinetuneTests {
    /// The training folders fix the class list: a validation folder with a subset of the classes keeps training's
    /// indices (it was relabelled by its own sorted list), an unknown class and an absurd label are errors, and
    /// evaluation labels by the list a checkpoint saved.
    @Test func labelsFollowTheTrainingClasses() throws {
        let tmp = try TempDir("labels"), root = tmp.path
        let fm = FileManager.default
        for (dir, files) in [("train/ant", 2), ("train/bee", 2), ("train/cat", 2), ("val/cat", 3), ("odd/dog", 1)] {
            try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
            for i in 0 ..< files { _ = fm.createFile(atPath: root + "/\(dir)/\(i).mp4", contents: Data()) }
        }
        var c = FinetuneConfig()
        c.trainDir = root + "/train"; c.valDir = root + "/val"; c.numWorkers = 0; c.batchSize = 2
        c.outputDir = root + "/out"  // the lists FinetuneData writes: not into the repository's ./output_finetune
        let data = try FinetuneData(c, log: { _ in })
        #expect(data.classNames == ["ant", "bee", "cat"] && data.numClasses == 3)
        #expect(try data.val[0].loader.samples.map(\.label) == [2, 2, 2], "val/cat is class 2 of training, not 0")
        c.valDir = root + "/odd"
        #expect { try FinetuneData(c, log: { _ in }) } throws: {
            "\($0)".contains("--val_dir") && "\($0)".contains("'dog' is not one of the 3 training classes")
        }
        var e = c
        e.valDir = root + "/val"; e.trainDir = ""
        let ev = try FinetuneData(e, needTrain: false, classNames: ["ant", "bee", "cat"], log: { _ in })
        #expect(try ev.val[0].loader.samples.map(\.label) == [2, 2, 2] && ev.numClasses == 3)
        let list = root + "/list.csv"
        try "\(root)/train/ant/0.mp4, 0\n\(root)/train/bee/0.mp4, 100000000\n".write(
            toFile: list, atomically: true, encoding: .utf8)
        var l = FinetuneConfig()
        l.trainDir = list; l.numWorkers = 0; l.batchSize = 1; l.outputDir = root + "/out"
        #expect { try FinetuneData(l, log: { _ in }) } throws: {
            "\($0)".contains("label 100000000") && "\($0)".contains("--num_classes")
        }
    }

    /// mae_st `Kinetics.__getitem__` (test mode): one centre crop after resizing the short side to
    /// `train_jitter_scales[0]` (256 at 224), three crops after resizing it to the crop size.
    @Test func evalViewShortSideFollowsMaeSt() throws {
        var c = FinetuneConfig()
        c.imgSize = 224
        c.numSpatialCrops = 1
        #expect(try c.clipConfig(train: false).evalShortSide == 256)
        c.shortSide = 288
        #expect(try c.clipConfig(train: false).evalShortSide == 288)
        c.numSpatialCrops = 3
        #expect(try c.clipConfig(train: false, spatialIndex: 0).evalShortSide == 224)
        c.images = true
        // finetune-image: resize(img_size + 32), centre crop
        #expect(try c.clipConfig(train: false).evalShortSide == 256)
    }

    /// Hand-computed: video 0 has views [.6 .4], [.1 .9], [.3 .7] → mean [.333 .667] → class 1 (the single first
    /// view says 0).
    @Test func multiViewAveragesSoftmaxPerVideo() throws {
        var a = ViewAggregator(numClasses: 2)
        a.add(probs: [0.6, 0.4, 0.8, 0.2], samples: [0, 1], labels: [1, 0])
        a.add(probs: [0.1, 0.9, 0.7, 0.3], samples: [0, 1], labels: [1, 0])
        a.add(probs: [0.3, 0.7, 0.2, 0.8], samples: [0, 1], labels: [1, 0])
        let avg = a.averaged
        #expect(abs(avg[0]![1] - 2.0 / 3) < 1e-6 && abs(avg[1]![0] - 1.7 / 3) < 1e-6)
        let r = a.result()
        #expect(r.count == 2 && r.views == 3 && r.correct1 == 2 && r.top1 == 100)
        #expect(r.confusion == [[1, 0], [0, 1]])
        // One view only: video 0 is wrong.
        var b = ViewAggregator(numClasses: 3)
        b.add(probs: [0.6, 0.4, 0, 0.1, 0.2, 0.7], samples: [0, 1], labels: [1, 1])
        let rb = b.result()
        #expect(
            rb.top1 == 0 && rb.top5 == 100 && rb.confusion[1] == [1, 0, 1] && rb.perClass[1] == 0
                && rb.perClass[0].isNaN)
        let tmp = try TempDir("confusion"), dir = tmp.path
        try ConfusionPlot.write(rb, classNames: ["ant", "bee", "cat"], to: dir + "/c.png")
        let img = try Image.load(path: dir + "/c.png")
        #expect(img.width > 3 * 56 && img.height > 3 * 56)
        let svg = try String(contentsOfFile: dir + "/c.svg", encoding: .utf8)
        #expect(svg.contains("bee") && svg.contains("predicted class") && svg.contains("top-1 0.0% of 2"))
    }

    /// From scratch on the built-in 8-class videos: validation top-1 clearly above chance (12.5 %).
    @Test func tinyFinetuneLearnsBuiltInData() throws {
        let tmp = try TempDir("ft"), dir = tmp.path
        var c = try tinyFinetuneConfig(dir)
        c.epochs = 16; c.warmupEpochs = 2; c.blr = 0.03
        let threads = Runtime.numThreads
        defer { try? Runtime.setNumThreads(threads) }
        let data = try FinetuneData(c)
        #expect(data.numClasses == 8 && data.trainCount == 256 && data.valCount == 64)
        let f = try Finetuner(c, numClasses: data.numClasses)
        let t0 = Date()
        let s = try f.run(train: CachedFeed(data.train!), val: data.val.map { CachedFeed($0) })
        let secs = Date().timeIntervalSince(t0)
        print(
            String(
                format: "tiny fine-tune: %d epochs in %.1f s (%.1f s/epoch); val top-1 per epoch %@; best %.1f%%",
                c.epochs, secs, secs / Double(c.epochs),
                s.valTop1.map { String(format: "%.1f", $0) }.joined(separator: " "), s.bestTop1))
        #expect(s.bestTop1 >= 30, "best top-1 \(s.bestTop1) % (chance 12.5 %)")
        let first = s.lossHistory.prefix(4).reduce(0, +) / 4, last = s.lossHistory.suffix(4).reduce(0, +) / 4
        #expect(last < first, "loss \(first) → \(last)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        for name in [
            "checkpoint-best.json", "checkpoint-best.safetensors", "checkpoint-last.optim.safetensors",
            "confusion_val.png", "loss_curve.png", "log.jsonl"
        ] {
            #expect(files.contains(name), "\(name) missing")
        }
        #expect(!files.contains { $0.contains(".tmp") })

        // --eval of the best checkpoint with 2 temporal views × 3 crops reproduces a sensible accuracy.
        var e = c
        e.resume = dir + "/checkpoint-best.json"; e.evalOnly = true; e.numTemporalViews = 2; e.numSpatialCrops = 3
        let ev = try FinetuneData(e, needTrain: false)
        #expect(ev.val.count == 6)
        let g = try Finetuner(e, numClasses: 8)
        let r = try evaluateViews(g.model, feeds: ev.val, numClasses: 8, bf16: false)
        #expect(r.count == 64 && r.views == 6 && r.top1 >= 25, "multi-view top-1 \(r.top1)")
        print(String(format: "2×3-view evaluation of the best checkpoint: top-1 %.1f%%, top-5 %.1f%%", r.top1, r.top5))
    }

    /// Linear probe: only head.* changes; the encoder is frozen. Resume continues at the saved position.
    @Test func linearProbeTrainsOnlyTheHeadAndResumes() throws {
        let tmp = try TempDir("lp"), dir = tmp.path
        let threads = Runtime.numThreads
        defer { try? Runtime.setNumThreads(threads) }
        var c = try tinyFinetuneConfig(dir)
        c.linearProbe = true; c.epochs = 2; c.maxSteps = 5; c.weightDecay = 0
        let data = try FinetuneData(c)
        let f = try Finetuner(c, numClasses: 8)
        let before = Dictionary(uniqueKeysWithValues: try f.model.stateDict().map { ($0.0, try $0.1.clone()) })
        let s = try f.run(train: data.train!, val: data.val)
        #expect(s.step == 5 && s.epoch == 0 && s.nextBatch == 5)
        for (k, v) in try f.model.stateDict() {
            let changed = try (v - before[k]!).abs().sum().item() > 0
            #expect(changed == k.hasPrefix("head."), "\(k) changed: \(changed)")
        }
        c.maxSteps = 0; c.resume = dir + "/checkpoint-last.json"
        let g = try Finetuner(c, numClasses: 8)
        #expect(g.state.step == 5 && g.state.nextBatch == 5)
        #expect(try (g.model.head.weight - f.model.head.weight).abs().sum().item() == 0)
        let s2 = try g.run(train: data.train!, val: [])
        #expect(s2.epoch == 2 && s2.step == 2 * data.train!.batchesPerEpoch)
    }

    @Test func badSettingsNameTheFlag() throws {
        let tmp = try TempDir("bad"), dir = tmp.path
        let base = try tinyFinetuneConfig(dir)
        let cases: [(WritableKeyPath<FinetuneConfig, Double>, Double, String)] = [
            (\.layerDecay, 1.5, "--layer_decay"), (\.smoothing, 1, "--smoothing"), (\.mixupProb, 2, "--mixup_prob"),
            (\.reprob, -1, "--reprob"), (\.dropPathRate, 1, "--drop_path_rate"), (\.fracRetained, 0, "--frac_retained"),
            (\.clipGrad, -1, "--clip_grad"), (\.mixup, -0.5, "--mixup"), (\.dropout, 1.2, "--dropout")
        ]
        for (path, value, flag) in cases {
            var c = base
            c[keyPath: path] = value
            #expect { try Finetuner(c, numClasses: 8) } throws: { "\($0)".contains(flag) }
        }
        var c = base; c.randAug = true; c.aa = "rand-q3"
        #expect { try c.validate() } throws: { "\($0)".contains("--aa") && "\($0)".contains("rand-q3") }
        c = base; c.mixup = 0.8; c.batchSize = 7
        #expect { try c.validate() } throws: { "\($0)".contains("--batch_size") && "\($0)".contains("even") }
        c = base; c.numSpatialCrops = 2
        #expect { try c.validate() } throws: { "\($0)".contains("--num_spatial_crops") }
        c = base; c.trainDir = "/nonexistent/train"
        #expect { try FinetuneData(c) } throws: {
            "\($0)".contains("--train_dir") && "\($0)".contains("/nonexistent/train")
        }
        c = base; c.numClasses = 3
        #expect { try FinetuneData(c) } throws: { "\($0)".contains("--num_classes") }
        c = base; c.finetune = "/nonexistent/mae.pth"
        #expect { try Finetuner(c, numClasses: 8) } throws: { "\($0)".contains("--finetune") }
        c = base; c.resume = "/nonexistent/ck.json"
        #expect { try Finetuner(c, numClasses: 8) } throws: { "\($0)".contains("/nonexistent/ck.json") }
        c = base; c.model = "resnet50"
        #expect { try Finetuner(c, numClasses: 8) } throws: { "\($0)".contains("resnet50") }
        c = base; c.embedDim = 60; c.numHeads = 8
        #expect { try Finetuner(c, numClasses: 8) } throws: { "\($0)".contains("--num_heads") }
    }
}
