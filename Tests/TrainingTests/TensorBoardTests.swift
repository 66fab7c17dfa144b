import Foundation
import Testing
import TestSupport
import Torch
@testable import Training

/// TensorBoard event files, checked with TensorBoard's own reader (`EventAccumulator`, reference/read_tfevents.py)
/// against the run's log.jsonl: every scalar (tag, x value, float32 value, in order) and every image.
@Suite(.serialized) struct TensorBoardTests {
    @Test func crc32cAndFraming() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)  // the CRC-32C check value
        #expect(CRC32C.checksum([UInt8]()) == 0)
        let crc = CRC32C.checksum(Array("abc".utf8))
        #expect(CRC32C.masked(Array("abc".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        let r = [UInt8](tfRecord(Data([1, 2, 3])))
        #expect(r.count == 8 + 4 + 3 + 4 && r[0] == 3 && r[1 ..< 8].allSatisfy { $0 == 0 } && r[12 ..< 15] == [1, 2, 3])
        var w = ProtoWriter()
        w.int(2, 300)  // key 0x10, varint 300 = ac 02
        w.string(1, "hi")
        #expect([UInt8](w.data) == [0x10, 0xAC, 0x02, 0x0A, 0x02, 0x68, 0x69])
    }

    /// The scalars and images log.jsonl says were logged: tag → [(x, value)] and tag → [(step, width, height)].
    /// `batchesPerEpoch` nil: the records' `epoch_1000x` is taken as logged (not recomputed).
    static func expected(_ dir: String, lossTag: String, batchesPerEpoch: Int?, repeatAug: Int)
        throws -> (scalars: [String: [[Double]]], images: [String: [[Int]]])
    {
        var scalars: [String: [[Double]]] = [:], images: [String: [[Int]]] = [:]
        var lastStep = 0  // the global step so far: where a record without its own step belongs
        func add(_ tag: String, _ x: Int, _ v: Double) {
            scalars[tag, default: []].append([Double(x), Double(Float(v))])
        }
        let lines = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        for line in lines {
            let r = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let type = try #require(r["type"] as? String)
            let nums = r.compactMapValues { $0 as? NSNumber }.mapValues(\.doubleValue)
            if type == "image" {
                images[r["tag"] as! String, default: []].append(
                    [r["step"] as! Int, r["width"] as! Int, r["height"] as! Int])
                continue
            }
            let x = Int(type == "epoch" ? nums["epoch"]! : nums["step"] ?? Double(lastStep))
            if type != "eval", let step = nums["step"] { lastStep = Int(step) }
            for (k, v) in nums.sorted(by: { $0.key < $1.key })
            where !["epoch", "batch", "step", "epoch_1000x"].contains(k) && !(k.hasPrefix("val_") && v < 0) {
                add("\(type)/\(k)", x, v)
            }
            if type == "step" {
                // mae_st engine_pretrain.train_one_epoch: int((data_iter_step / len(data_loader) + epoch) * 1000 * r)
                var e1000 = Int(nums["epoch_1000x"]!)
                if let batchesPerEpoch {
                    e1000 = Int((nums["batch"]! / Double(batchesPerEpoch) + nums["epoch"]!) * 1000 * Double(repeatAug))
                    #expect(Int(nums["epoch_1000x"]!) == e1000)
                }
                add(lossTag, e1000, nums["loss"]!)
                add("lr", e1000, nums["lr"]!)
                #expect(nums["grad_norm"]! > 0)
            }
            if type == "epoch" {
                for (k, tag) in [
                    ("val_top1", "perf/test_acc1"), ("val_top5", "perf/test_acc5"), ("val_loss", "perf/test_loss")
                ]
                where (nums[k] ?? -1) >= 0 { add(tag, x, nums[k]!) }
            }
        }
        return (scalars, images)
    }

    /// Reads `dir` with TensorBoard and compares it with log.jsonl; returns the reader's output.
    @discardableResult
    static func check(_ dir: String, lossTag: String, batchesPerEpoch: Int?, repeatAug: Int = 1, files: Int)
        throws -> [String: Any]
    {
        let out = try runPython([packageRoot + "/reference/read_tfevents.py", dir])
        let tb = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let scalars = try #require(tb["scalars"] as? [String: [[Double]]])
        let images = try #require(tb["images"] as? [String: [[Int]]])
        let want = try expected(dir, lossTag: lossTag, batchesPerEpoch: batchesPerEpoch, repeatAug: repeatAug)
        #expect(Set(scalars.keys) == Set(want.scalars.keys))
        // Event files hold float32. log.jsonl's decimal text (Foundation writes ~15 significant digits) can fall on
        // the other side of a float32 rounding tie (a mean of two float32 losses often is one): within one ulp.
        for (tag, events) in want.scalars {
            let got = scalars[tag] ?? []
            #expect(got.map { $0[0] } == events.map { $0[0] }, "\(tag): x values")
            for (g, w) in zip(got, events) {
                #expect(abs(Float(g[1]) - Float(w[1])) <= Float(w[1]).ulp, "\(tag) at \(w[0]): \(g[1]) vs \(w[1])")
            }
        }
        #expect(Set(images.keys) == Set(want.images.keys))
        for (tag, events) in want.images {
            #expect(images[tag]?.map { Array($0.prefix(3)) } == events, "\(tag)")
            #expect(images[tag]?.allSatisfy { $0[3] > 1000 } == true, "\(tag): PNG bytes")
        }
        #expect(tb["png"] as? Bool == true && tb["files"] as? Int == files)
        return tb
    }

    /// The event file comes with the first event: a writer that logs nothing leaves no file (a run that stops before
    /// its first step, a trainer built only to be checked); one scalar makes a file TensorBoard reads.
    @Test func eventFileIsCreatedAtTheFirstEvent() throws {
        let tmp = try TempDir("tb-lazy"), dir = tmp.path
        func eventFiles() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("events.out.tfevents.") }
        }
        do {
            let w = try EventWriter(dir: dir)
            w.flush()
            w.close()
            #expect(w.path == nil)
        }
        do { _ = try EventWriter(dir: dir) }  // released without a close
        do { _ = try RunLog(dir: dir, lossTag: "loss") }
        #expect(try eventFiles().isEmpty)
        let w = try EventWriter(dir: dir)
        w.scalar("x", 2.5, step: 7)
        #expect(try eventFiles().isEmpty)  // buffered until a flush
        w.close()
        w.scalar("x", 9, step: 8)  // after close: dropped
        #expect(try eventFiles() == [(w.path! as NSString).lastPathComponent])
        let out = try runPython([packageRoot + "/reference/read_tfevents.py", dir])
        let tb = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect((tb["scalars"] as? [String: [[Double]]])?["x"] == [[7, 2.5]] && tb["files"] as? Int == 1)
    }

    /// A tiny pre-training stopped after 4 steps and resumed: two event files whose curves continue each other.
    @Test func pretrainEventsMatchTheLogAndContinueAfterResume() throws {
        let tmp = try TempDir("tb-pre"), dir = tmp.path
        let feed = RandomFeed(batchesPerEpoch: 6, shape: [2, 3, 4, 32, 32])
        var c = tinyConfig(dir)
        c.repeatAug = 2  // epoch_1000x carries mae_st's repeat_aug factor
        c.maxSteps = 4
        _ = try Pretrainer(c).run(feed: feed)
        c.maxSteps = 0; c.resume = dir + "/checkpoint-last.json"
        let trainer = try Pretrainer(c)
        let s = try trainer.run(feed: feed)
        #expect(s.step == 6)
        DataSummary([]).report(to: trainer.log)  // the end-of-run summary, a record without its own step
        let tb = try Self.check(dir, lossTag: "train_loss", batchesPerEpoch: 6, repeatAug: 2, files: 2)
        let scalars = tb["scalars"] as! [String: [[Double]]]
        // the summary sits at the last training step (not at 0); the data-wait share is a per-step scalar
        #expect(scalars["data/skipped"] == [[6, 0]] && scalars["data/damaged_files"]?.map { $0[0] } == [6])
        #expect(scalars["step/data_wait_share"]?.map { Int($0[0]) } == Array(1 ... 6))
        #expect(scalars["step/loss"]?.map { Int($0[0]) } == Array(1 ... 6))  // the steps go on across the files
        // batches 1, 3, 5 of 6 per epoch end a step: int((b / 6 + epoch) · 1000 · 2)
        #expect(scalars["train_loss"]?.map { Int($0[0]) } == [333, 1000, 1666, 2333, 3000, 3666])
        #expect(scalars["throughput/clips_per_s"]?.count == 2 && scalars["throughput/mfu"]?.count == 2)
        #expect((tb["images"] as! [String: [[Int]]])["reconstruction"]?.map { $0[0] } == [0, 1])
        for f in ["loss_curve.png", "loss_curve.svg", "reconstruction.png", "reconstruction.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f)")
        }
    }

    /// A tiny fine-tuning with validation: mae_st's "loss"/"lr" and "perf/test_acc*" curves and a confusion matrix
    /// per validation.
    @Test func finetuneEventsMatchTheLog() throws {
        let tmp = try TempDir("tb-ft"), dir = tmp.path
        var c = try tinyFinetuneConfig(dir)
        c.epochs = 2; c.batchSize = 4; c.accumIter = 2
        let feed = ToyLabeledFeed(batchesPerEpoch: 4, shape: [4, 3, 4, 32, 32], classes: 3)
        let f = try Finetuner(c, numClasses: 3, classNames: ["left", "right", "still"])
        _ = try f.run(train: feed, val: [feed])
        let tb = try Self.check(dir, lossTag: "loss", batchesPerEpoch: 4, repeatAug: c.repeatAug, files: 1)
        let scalars = tb["scalars"] as! [String: [[Double]]]
        #expect(scalars["perf/test_acc1"]?.map { Int($0[0]) } == [0, 1] && scalars["loss"]?.count == 4)
        #expect((tb["images"] as! [String: [[Int]]])["confusion_val"]?.count == 2)
        let svg = try String(contentsOfFile: dir + "/confusion_val.svg", encoding: .utf8)
        #expect(svg.contains("still") && svg.contains("true class"))
    }
}
