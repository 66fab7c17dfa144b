import Foundation
import Torch

/// A TensorBoard event file, `events.out.tfevents.<time>.<host>` in `dir` (what `SummaryWriter` writes and
/// TensorBoard's `EventAccumulator` reads). Records are buffered in memory and written at `flush` (every epoch
/// record, every 5 s of logging, on `deinit`), so the training loop pays only for encoding. A new file per run:
/// a resumed run's file sorts after the earlier ones (its time is bumped past theirs), and its steps continue.
public final class EventWriter {
    public let path: String
    private let handle: FileHandle
    private var buffer = Data()
    private var lastFlush = Date()

    public init(dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var time = Int(Date().timeIntervalSince1970)
        let prefix = "events.out.tfevents."
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in existing where name.hasPrefix(prefix) {
            if let t = Int(name.dropFirst(prefix.count).prefix { $0 != "." }), t >= time { time = t + 1 }
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        path = dir + "/" + prefix + "\(time).\(host)"
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let h = FileHandle(forWritingAtPath: path)
        else { throw TorchError("--log_dir \(dir): cannot create the TensorBoard event file \(path)") }
        handle = h
        append(TensorBoardEvent.fileVersion(wallTime: Date().timeIntervalSince1970))
        flush()
    }

    deinit {
        flush()
        try? handle.close()
    }

    /// `add_scalar(tag, value, step)`.
    public func scalar(_ tag: String, _ value: Double, step: Int) {
        append(TensorBoardEvent.scalar(tag, Float(value), step: Int64(step), wallTime: Date().timeIntervalSince1970))
    }

    /// `add_image(tag, png, step)`: an encoded PNG of `width` × `height` RGB pixels.
    public func image(_ tag: String, png: Data, width: Int, height: Int, step: Int) {
        append(
            TensorBoardEvent.image(
                tag, png: png, width: width, height: height, step: Int64(step),
                wallTime: Date().timeIntervalSince1970))
        flush()
    }

    /// Writes the buffered records to the file.
    public func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(buffer)
        buffer.removeAll(keepingCapacity: true)
        lastFlush = Date()
    }

    /// Flushes when 5 s have passed since the last write (called per log record).
    func flushIfDue() { if Date().timeIntervalSince(lastFlush) >= 5 { flush() } }

    private func append(_ event: Data) { buffer.append(tfRecord(event)) }
}

/// The TensorBoard scalars of one log.jsonl record, as mae_st logs them plus by-step copies:
/// - `step` records: `lossTag` (mae_st `engine_pretrain.train_one_epoch`: "train_loss"; `engine_finetune`: "loss")
///   and "lr" against `epoch_1000x`, and every other number as "step/<key>" against the global step;
/// - `epoch` records: every number as "epoch/<key>" against the epoch, and the validation as mae_st
///   `main_finetune` does ("perf/test_acc1", "perf/test_acc5", "perf/test_loss" against the epoch);
/// - `image` records: none (the picture is its own event);
/// - any other type: every number as "<type>/<key>" against its `step` (else 0).
/// The keys naming the x value (epoch, batch, step, epoch_1000x) are not scalars; -1 validation values mean
/// "no validation" and non-finite values are left out.
public func tensorBoardScalars(_ record: [String: Any], lossTag: String) -> [(tag: String, value: Double, x: Int)] {
    guard let type = record["type"] as? String, type != "image" else { return [] }
    func num(_ k: String) -> Double? {
        guard let v = record[k], !(v is Bool), let n = v as? NSNumber else { return nil }
        return n.doubleValue
    }
    let axes: Set<String> = ["epoch", "batch", "step", "epoch_1000x"]
    var out: [(String, Double, Int)] = []
    let x = Int(type == "epoch" ? num("epoch") ?? 0 : num("step") ?? 0)
    for key in record.keys.sorted() where !axes.contains(key) {
        guard let v = num(key), v.isFinite, !(key.hasPrefix("val_") && v < 0) else { continue }
        out.append(("\(type)/\(key)", v, x))
    }
    if type == "step", let e1000 = num("epoch_1000x") {
        if let loss = num("loss"), loss.isFinite { out.append((lossTag, loss, Int(e1000))) }
        if let lr = num("lr") { out.append(("lr", lr, Int(e1000))) }
    }
    if type == "epoch" {
        for (key, tag) in [
            ("val_top1", "perf/test_acc1"), ("val_top5", "perf/test_acc5"), ("val_loss", "perf/test_loss")
        ] {
            if let v = num(key), v >= 0, v.isFinite { out.append((tag, v, x)) }
        }
    }
    return out
}

/// mae_st's TensorBoard x-axis (`engine_pretrain.train_one_epoch`):
/// `int((data_iter_step / len(data_loader) + epoch) * 1000 * repeat_aug)`.
public func epoch1000x(batch: Int, batchesPerEpoch: Int, epoch: Int, repeatAug: Int = 1) -> Int {
    Int((Double(batch) / Double(max(batchesPerEpoch, 1)) + Double(epoch)) * 1000 * Double(repeatAug))
}
