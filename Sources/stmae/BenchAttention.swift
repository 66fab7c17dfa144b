import ArgumentParser
import Foundation
import Torch
import Training

/// `stmae bench attention`: attention alone, stmae's fused kernels against libtorch's flash kernel (what PyTorch's
/// `scaled_dot_product_attention` runs on CPU), alternated in one process. q, k, v are slices of one qkv tensor, as in
/// the models.
struct BenchAttention: SettingsCommand {
    static let configuration = command(
        "attention", "Attention forward and forward+backward: fused kernels vs libtorch flash (JSON lines).")
    @Argument(parsing: .captureForPassthrough, help: flagsHelp) var arguments: [String] = []
    func run(_ s: BenchAttentionSettings) throws {
        let all: [(String, DType, String)] = [("bf16", .bfloat16, "AVX-512 BF16"), ("fp32", .float32, "AVX2 and FMA")]
        for p in s.precisions where !all.contains(where: { $0.0 == p }) {
            throw ValidationError("--precisions: expected bf16 or fp32, got '\(p)'")
        }
        let parsed = try parseShapes(s.shapes, dims: 4, format: "B,H,L,D")
        let chosen =
            s.precisions.isEmpty
            ? all.filter { Runtime.fusedAttentionAvailable($0.1) }
            : all.filter { s.precisions.contains($0.0) }
        for (name, dtype, needs) in chosen where !Runtime.fusedAttentionAvailable(dtype) {
            throw ValidationError("this CPU has no \(needs): the fused \(name) attention kernel is not used here")
        }
        guard !chosen.isEmpty else {
            throw ValidationError("this CPU has neither AVX-512 BF16 nor AVX2/FMA: no fused attention kernel runs here")
        }
        for (name, dtype, _) in chosen {
            for shape in parsed {
                try Self.compare(shape: shape, precision: name, dtype: dtype, steps: s.steps, rounds: s.rounds)
            }
        }
    }

    static func compare(shape s: [Int], precision: String, dtype: DType, steps: Int, rounds: Int) throws {
        let (b, h, l, d) = (s[0], s[1], s[2], s[3])
        let qkv = try Tensor.randn([b, l, 3, h, d]).to(dtype).requiresGrad(true)
        let heads = try qkv.permute(2, 0, 3, 1, 4)
        let (q, k, v) = (
            try heads.select(dim: 0, index: 0), try heads.select(dim: 0, index: 1), try heads.select(dim: 0, index: 2)
        )
        let grad = try Tensor.randn([b, h, l, d]).to(dtype)
        let forward = { _ = try withNoGrad { try scaledDotProductAttention(q, k, v) } }
        let training = {
            try scaledDotProductAttention(q, k, v).backward(gradient: grad); try qkv.setGrad(nil)
        }
        var fused: [[Double]] = [], flash: [[Double]] = []
        let was = Runtime.fusedAttention
        defer { Runtime.fusedAttention = was }
        for _ in 0 ..< rounds {
            for on in [true, false] {
                Runtime.fusedAttention = on ? .on : .off
                let t = [try medianTime(steps: steps, forward), try medianTime(steps: steps, training)]
                if on { fused.append(t) } else { flash.append(t) }
            }
        }
        let flops = 4.0 * Double(b * h * l * l * d)  // forward: two L×L×D products per head
        let fwd = (median(fused.map { $0[0] }), median(flash.map { $0[0] }))
        let both = (median(fused.map { $0[1] }), median(flash.map { $0[1] }))
        printJSON([
            "bench": "attention_\(precision)", "shape": s, "threads": Runtime.numThreads, "rounds": rounds,
            "fused_forward_s": fwd.0, "flash_forward_s": fwd.1,
            "forward_ratio": median(zip(flash, fused).map { $0[0] / $1[0] }),
            "fused_forward_gflops": flops / fwd.0 / 1e9, "flash_forward_gflops": flops / fwd.1 / 1e9,
            "fused_train_s": both.0, "flash_train_s": both.1,
            "train_ratio": median(zip(flash, fused).map { $0[1] / $1[1] }),
            "fused_train_gflops": 3.5 * flops / both.0 / 1e9, "flash_train_gflops": 3.5 * flops / both.1 / 1e9
        ])
    }
}
