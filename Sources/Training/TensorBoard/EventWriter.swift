import Foundation
import Torch

/// A TensorBoard event file, `events.out.tfevents.<time>.<host>` in `dir` (what `SummaryWriter` writes and
/// TensorBoard's `EventAccumulator` reads). Records are buffered in memory and written at `flush` (every epoch
/// record, every 5 s of logging, on `close` / `deinit`), so the training loop pays only for encoding. The file is
/// created at the first event (its `file_version` header written then): a run that logs nothing leaves no file.
/// A new file per run: a resumed run's file sorts after the earlier ones (its time is bumped past theirs), and its
/// steps continue.
public final class EventWriter {
    public let dir: String
    /// The event file's path, chosen at the first event (nil until then: nothing written).
    public private(set) var path: String?
    private var handle: FileHandle?
    private var buffer = Data()
    private var lastFlush = Date()
    private var closed = false

    /// Checks that `dir` can hold the event file (creating it); the file itself comes with the first event.
    public init(dir: String) throws {
        self.dir = dir
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw TorchError("--log_dir \(dir): cannot create the directory for TensorBoard events: \(error)")
        }
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw TorchError("--log_dir \(dir): cannot write TensorBoard event files there")
        }
    }

    deinit { close() }

    /// Writes what is buffered and closes the file; later events are dropped.
    public func close() {
        guard !closed else { return }
        flush()
        closed = true
        try? handle?.close()
        handle = nil
    }

    /// Opens `events.out.tfevents.<time>.<host>` with its `file_version` record (nil: it cannot be created, the
    /// events are dropped with one message).
    private func open() -> FileHandle? {
        if let handle { return handle }
        guard path == nil else { return nil }  // tried and failed before
        var time = Int(Date().timeIntervalSince1970)
        let prefix = "events.out.tfevents."
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in existing where name.hasPrefix(prefix) {
            if let t = Int(name.dropFirst(prefix.count).prefix { $0 != "." }), t >= time { time = t + 1 }
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let p = dir + "/" + prefix + "\(time).\(host)"
        path = p
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: p, contents: nil), let h = FileHandle(forWritingAtPath: p) else {
            RunLog.info("--log_dir \(dir): cannot create the TensorBoard event file \(p); no TensorBoard events")
            return nil
        }
        h.write(tfRecord(TensorBoardEvent.fileVersion(wallTime: Date().timeIntervalSince1970)))
        handle = h
        return h
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

    /// Writes the buffered records to the file (creating it at the first).
    public func flush() {
        guard !buffer.isEmpty, !closed else { return }
        open()?.write(buffer)
        buffer.removeAll(keepingCapacity: true)
        lastFlush = Date()
    }

    /// Flushes when 5 s have passed since the last write (called per log record).
    func flushIfDue() { if Date().timeIntervalSince(lastFlush) >= 5 { flush() } }

    private func append(_ event: Data) {
        guard !closed else { return }
        buffer.append(tfRecord(event))
    }
}

/// The TensorBoard scalars of one log.jsonl record, as mae_st logs them plus by-step copies:
/// - `step` records: `lossTag` (mae_st `engine_pretrain.train_one_epoch`: "train_loss"; `engine_finetune`: "loss")
///   and "lr" against `epoch_1000x`, and every other number as "step/<key>" against the global step;
/// - `epoch` records: every number as "epoch/<key>" against the epoch, and the validation as mae_st
///   `main_finetune` does ("perf/test_acc1", "perf/test_acc5", "perf/test_loss" against the epoch);
/// - `image` records: none (the picture is its own event);
/// - any other type: every number as "<type>/<key>" against its `step`, else against `step` (the run's global step
///   when the record was written: an end-of-run summary sits at the last training step, not at 0).
/// The keys naming the x value (epoch, batch, step, epoch_1000x) are not scalars; -1 validation values mean
/// "no validation" and non-finite values are left out.
public func tensorBoardScalars(_ record: [String: Any], lossTag: String, step: Int = 0)
    -> [(tag: String, value: Double, x: Int)]
{
    guard let type = record["type"] as? String, type != "image" else { return [] }
    func num(_ k: String) -> Double? {
        guard let v = record[k], !(v is Bool), let n = v as? NSNumber else { return nil }
        return n.doubleValue
    }
    let axes: Set<String> = ["epoch", "batch", "step", "epoch_1000x"]
    var out: [(String, Double, Int)] = []
    let x = type == "epoch" ? Int(num("epoch") ?? 0) : num("step").map { Int($0) } ?? step
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
