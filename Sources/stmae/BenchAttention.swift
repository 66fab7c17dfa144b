import ArgumentParser
import Foundation
import Torch

/// `stmae bench attention`: bf16 attention alone, stmae's fused kernel against libtorch's flash kernel (what PyTorch's
/// `scaled_dot_product_attention` runs on CPU), alternated in one process. q, k, v are slices of one qkv tensor, as in
/// the models.
struct BenchAttention: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attention",
        abstract: "bf16 attention forward and forward+backward: fused kernel vs libtorch flash (JSON lines).")

    @Option(parsing: .upToNextOption, help: "Shapes B,H,L,D (defaults: MAE decoder, ViT-B on 1569 tokens, MAE encoder).")
    var shapes: [String] = ["1,16,1569,32", "1,12,1569,64", "1,12,157,64"]
    @Option(help: "Timed calls per round (median reported).") var steps = 5
    @Option(help: "Rounds alternating the two kernels; the median of the per-round ratios is printed.") var rounds = 3

    func run() throws {
        guard Runtime.fusedAttentionAvailable else {
            throw ValidationError("this CPU has no AVX-512 BF16: the fused attention kernel is not used here")
        }
        for text in shapes {
            let s = text.split(separator: ",").compactMap { Int($0) }
            guard s.count == 4, s.allSatisfy({ $0 > 0 }) else { throw ValidationError("--shapes: expected B,H,L,D, got '\(text)'") }
            let (b, h, l, d) = (s[0], s[1], s[2], s[3])
            let qkv = try Tensor.randn([b, l, 3, h, d]).to(.bfloat16).requiresGrad(true)
            let heads = try qkv.permute(2, 0, 3, 1, 4)
            let (q, k, v) = (try heads.select(dim: 0, index: 0), try heads.select(dim: 0, index: 1), try heads.select(dim: 0, index: 2))
            let grad = try Tensor.randn([b, h, l, d]).to(.bfloat16)
            func time(_ body: () throws -> Void) throws -> Double {
                try body()
                var ts: [Double] = []
                for _ in 0..<steps {
                    let t0 = DispatchTime.now()
                    try body()
                    ts.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
                }
                return median(ts)
            }
            let forward = { _ = try withNoGrad { try scaledDotProductAttention(q, k, v) } }
            let training = { try scaledDotProductAttention(q, k, v).backward(gradient: grad); try qkv.setGrad(nil) }
            var fused: [[Double]] = [], flash: [[Double]] = []
            let was = Runtime.fusedAttention
            defer { Runtime.fusedAttention = was }
            for _ in 0..<rounds {
                for on in [true, false] {
                    Runtime.fusedAttention = on
                    let t = [try time(forward), try time(training)]
                    if on { fused.append(t) } else { flash.append(t) }
                }
            }
            let flops = 4.0 * Double(b * h * l * l * d)  // forward: two L×L×D products per head
            let fwd = (median(fused.map { $0[0] }), median(flash.map { $0[0] }))
            let both = (median(fused.map { $0[1] }), median(flash.map { $0[1] }))
            printJSON(["bench": "attention_bf16", "shape": s, "threads": Runtime.numThreads, "rounds": rounds,
                       "fused_forward_s": fwd.0, "flash_forward_s": fwd.1, "forward_ratio": median(zip(flash, fused).map { $0[0] / $1[0] }),
                       "fused_forward_gflops": flops / fwd.0 / 1e9, "flash_forward_gflops": flops / fwd.1 / 1e9,
                       "fused_train_s": both.0, "flash_train_s": both.1, "train_ratio": median(zip(flash, fused).map { $0[1] / $1[1] }),
                       "fused_train_gflops": 3.5 * flops / both.0 / 1e9, "flash_train_gflops": 3.5 * flops / both.1 / 1e9])
        }
    }
}
