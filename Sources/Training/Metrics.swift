import Foundation
import Models
import Torch

/// JSON-lines log (`log.jsonl` in the output dir) and the progress line; with `lossTag`, every record also becomes
/// TensorBoard scalars (`tensorBoardScalars`) in an event file beside it (`EventWriter`).
public final class RunLog {
    let handle: FileHandle?
    /// The TensorBoard event file (nil: none, or logging disabled).
    public let events: EventWriter?
    let lossTag: String
    /// The global step of the run so far: the latest `step` a record carried (a resumed run's trainer sets it to
    /// the checkpoint's). Records without their own step (an end-of-run data summary) go to TensorBoard at it.
    public var step = 0
    /// `lossTag`: the TensorBoard tag of the training loss ("train_loss" as mae_st pre-training, "loss" as its
    /// fine-tuning); nil writes no event file.
    public init(dir: String, enabled: Bool = true, lossTag: String? = nil) throws {
        self.lossTag = lossTag ?? "loss"
        guard enabled else { handle = nil; events = nil; return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/log.jsonl"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TorchError("cannot open \(path) for writing") }
        h.seekToEndOfFile()
        handle = h
        events = lossTag == nil ? nil : try EventWriter(dir: dir)
    }
    public func write(_ record: [String: Any]) {
        guard let handle, let d = try? JSONSerialization.data(withJSONObject: jsonSafe(record), options: [.sortedKeys])
        else {
            return
        }
        handle.write(d + Data("\n".utf8))
        let type = record["type"] as? String
        if type != "image", type != "eval", let n = record["step"] as? NSNumber, !(record["step"] is Bool) {
            step = n.intValue
        }
        guard let events else { return }
        for s in tensorBoardScalars(record, lossTag: lossTag, step: step) { events.scalar(s.tag, s.value, step: s.x) }
        // the per-step records every 5 s; anything else (epoch ends, summaries) at once
        if type == "step" || type == "throughput" { events.flushIfDue() } else { events.flush() }
    }
    /// A picture for TensorBoard (`tag` at `step`, an encoded PNG), also noted in log.jsonl as an `image` record
    /// (type, tag, step, file) so the two can be checked against each other.
    public func image(_ tag: String, png: Data, width: Int, height: Int, step: Int, file: String = "") {
        guard handle != nil else { return }
        write(["type": "image", "tag": tag, "step": step, "width": width, "height": height, "file": file])
        events?.image(tag, png: png, width: width, height: height, step: step)
    }
    /// A status line to stderr (`\r`-updated on a terminal, one line per call otherwise).
    public static func progress(_ s: String, final: Bool = false) {
        let tty = isatty(STDERR_FILENO) != 0
        let text = tty ? "\r\u{1B}[K" + s + (final ? "\n" : "") : s + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
    public static func info(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}

/// Matmul FLOPs of one MAE training step per clip (forward + backward ≈ 3× forward).
public func maeTrainFlopsPerClip(_ c: MAEConfig) -> Double {
    let p = Double(c.patchSize), d = Double(c.embedDim), dd = Double(c.decoderEmbedDim), r = c.mlpRatio
    let sTokens = Double((c.imgSize / c.patchSize) * (c.imgSize / c.patchSize)),
        tTokens = Double(c.numFrames / c.tPatchSize)
    let l = sTokens * tTokens
    let kept = Double(
        MaskType(rawValue: c.maskType)?.numKept(ratio: c.maskRatio, tGrid: Int(tTokens), sGrid: Int(sTokens)) ?? Int(l))
    let cls = c.clsEmbed ? 1.0 : 0
    func block(_ n: Double, _ dim: Double) -> Double { 2 * n * (4 + 2 * r) * dim * dim + 4 * n * n * dim }
    let u = Double(c.tPatchSize * c.predTDim / c.numFrames)
    var f = 2 * l * 3 * Double(c.tPatchSize) * p * p * d  // patch embedding (all tokens)
    f += Double(c.depth) * block(kept + cls, d) + 2 * kept * d * dd  // encoder, decoder_embed
    // decoder over every token, or (dual masking) the visible ones and the decoded share of the masked ones
    let decoded = c.decoderMaskRatio > 0 ? Double(max(1, Int((l - kept) * (1 - c.decoderMaskRatio)))) : l - kept
    f += Double(c.decoderDepth) * block(kept + decoded + cls, dd)
    f += 2 * (c.decoderMaskRatio > 0 ? decoded : l) * dd * u * p * p * 3  // decoder_pred
    return 3 * f
}

/// Measured GEMM rate (GFLOP/s) for MFU: a 1536³ `linear` in the training dtype (so fp32 takes the same GEMM library
/// as the model's linears, see `Runtime.fp32Linear`), the best of 5 (a shared machine only ever slows it down), on
/// `device` (NaN on meta: no time to measure).
public func measurePeakGFLOPs(bf16: Bool, device: Device = .cpu) throws -> Double {
    guard device.holdsValues else { return .nan }
    let n = 1536
    let a = try Tensor.randn([n, n], device: device).to(bf16 ? .bfloat16 : .float32),
        b = try Tensor.randn([n, n], device: device).to(bf16 ? .bfloat16 : .float32)
    // CUDA runs asynchronously: reading one value waits for the GEMM
    let run = { () throws in
        let y = try linear(a, weight: b); if device != .cpu { _ = try y.sum().item() }
    }
    try run()
    var best = Double.infinity
    for _ in 0 ..< 5 {
        let t0 = DispatchTime.now()
        try run()
        best = min(best, seconds(since: t0))
    }
    return 2 * Double(n * n * n) / best / 1e9
}

/// Wall-clock seconds since `t0`.
public func seconds(since t0: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9
}
