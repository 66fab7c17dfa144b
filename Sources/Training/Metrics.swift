import Foundation
import Models
import Torch

/// JSON-lines log (`log.jsonl` in the output dir) and the progress line.
public final class RunLog {
    let handle: FileHandle?
    public init(dir: String, enabled: Bool = true) throws {
        guard enabled else { handle = nil; return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/log.jsonl"
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else { throw TorchError("cannot open \(path) for writing") }
        h.seekToEndOfFile()
        handle = h
    }
    public func write(_ record: [String: Any]) {
        guard let handle, let d = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) else { return }
        handle.write(d + Data("\n".utf8))
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
    let sTokens = Double((c.imgSize / c.patchSize) * (c.imgSize / c.patchSize)), tTokens = Double(c.numFrames / c.tPatchSize)
    let l = sTokens * tTokens
    let kept = Double(MaskType(rawValue: c.maskType)?.numKept(ratio: c.maskRatio, tGrid: Int(tTokens), sGrid: Int(sTokens)) ?? Int(l))
    let cls = c.clsEmbed ? 1.0 : 0
    func block(_ n: Double, _ dim: Double) -> Double { 2 * n * (4 + 2 * r) * dim * dim + 4 * n * n * dim }
    let u = Double(c.tPatchSize * c.predTDim / c.numFrames)
    var f = 2 * l * 3 * Double(c.tPatchSize) * p * p * d                 // patch embedding (all tokens)
    f += Double(c.depth) * block(kept + cls, d) + 2 * kept * d * dd     // encoder, decoder_embed
    f += Double(c.decoderDepth) * block(l + cls, dd) + 2 * l * dd * u * p * p * 3  // decoder, decoder_pred
    return 3 * f
}

/// Measured GEMM rate (GFLOP/s) for MFU: a 1536³ matmul in the training dtype, median of 3.
public func measurePeakGFLOPs(bf16: Bool) throws -> Double {
    let n = 1536
    let a = try Tensor.randn([n, n]).to(bf16 ? .bfloat16 : .float32), b = try Tensor.randn([n, n]).to(bf16 ? .bfloat16 : .float32)
    _ = try a.matmul(b)
    var times: [Double] = []
    for _ in 0..<3 {
        let t0 = DispatchTime.now()
        _ = try a.matmul(b)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
    }
    return 2 * Double(n * n * n) / times.sorted()[1] / 1e9
}
