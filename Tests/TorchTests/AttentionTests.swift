import Foundation
import Testing
@testable import Torch

/// stmae's fused bf16 attention (Sources/CTorch/attention.cpp) against fp32 attention written out
/// (softmax(q kᵀ · scale) v) on the same bf16 inputs, forward and gradients. q, k, v are slices of one qkv tensor, as in
/// the models. Without AVX-512 BF16 the same calls run libtorch's SDPA and are checked the same way.
struct AttentionTests {
    static let cases: [(batch: Int, heads: Int, lq: Int, lk: Int, dim: Int)] = [
        (2, 3, 37, 37, 32), (1, 2, 50, 21, 64), (1, 2, 19, 33, 128), (1, 16, 157, 157, 32), (2, 1, 3, 1, 32),
    ]

    @Test(arguments: cases.indices) func matchesExplicitAttention(_ i: Int) throws {
        let c = Self.cases[i]
        let g = try Generator(seed: UInt64(i))
        // q from its own tensor when lq ≠ lk (cross-attention); k, v from a [B, Lk, 2, H, D] pair.
        let qLeaf = try (Tensor.randn([c.batch, c.lq, c.heads, c.dim], generator: g) * 2.0).to(.bfloat16).requiresGrad(true)
        let kvLeaf = try (Tensor.randn([c.batch, c.lk, 2, c.heads, c.dim], generator: g) * 2.0).to(.bfloat16).requiresGrad(true)
        func split(_ q: Tensor, _ kv: Tensor) throws -> (Tensor, Tensor, Tensor) {
            let kvh = try kv.permute(2, 0, 3, 1, 4)
            return (try q.transpose(1, 2), try kvh.select(dim: 0, index: 0), try kvh.select(dim: 0, index: 1))
        }
        let (q, k, v) = try split(qLeaf, kvLeaf)
        #expect(Runtime.fusedAttentionTakes(q, k, v) == Runtime.fusedAttentionAvailable)
        let out = try scaledDotProductAttention(q, k, v)
        #expect(out.dtype == .bfloat16 && out.shape == [c.batch, c.heads, c.lq, c.dim])
        let gradOut = try Tensor.randn(out.shape, generator: g).to(.bfloat16)
        try out.backward(gradient: gradOut)

        let q32 = try qLeaf.detach().to(.float32).requiresGrad(true), kv32 = try kvLeaf.detach().to(.float32).requiresGrad(true)
        let (rq, rk, rv) = try split(q32, kv32)
        let scores = try rq.matmul(rk.transpose(-1, -2)) * (1 / Double(c.dim).squareRoot())
        let ref = try softmax(scores, dim: -1).matmul(rv)
        try ref.backward(gradient: gradOut.to(.float32))
        // bf16 output rounding (2⁻⁹ relative) and bf16 probabilities in P·V: observed ≤ 4e-3.
        try expectClose(out, ref, tol: 1e-2, "output \(c)")
        // Gradients go through bf16 dP, dS and products of bf16 tensors: observed ≤ 1e-2.
        try expectClose(try #require(qLeaf.grad), try #require(q32.grad), tol: 3e-2, "dq \(c)")
        try expectClose(try #require(kvLeaf.grad), try #require(kv32.grad), tol: 3e-2, "dk, dv \(c)")
    }

    /// Inference (no grad) takes the same kernel and gives the same output as training mode.
    @Test func noGradMatchesGradMode() throws {
        let qkv = try Tensor.randn([1, 40, 3, 4, 32], generator: try Generator(seed: 9)).to(.bfloat16).permute(2, 0, 3, 1, 4)
        let (q, k, v) = (try qkv.select(dim: 0, index: 0), try qkv.select(dim: 0, index: 1), try qkv.select(dim: 0, index: 2))
        let a = try withNoGrad { try scaledDotProductAttention(q, k, v) }
        let leaf = try q.detach().requiresGrad(true)
        let b = try scaledDotProductAttention(leaf, k, v)
        try expectClose(a, b.detach(), tol: 0, "no-grad vs grad mode")
    }

    /// Head dims the kernel does not take (48) and fp32 run libtorch's SDPA.
    @Test func otherInputsFallBack() throws {
        let q = try Tensor.randn([1, 2, 8, 48]).to(.bfloat16), f = try Tensor.randn([1, 2, 8, 32])
        #expect(!Runtime.fusedAttentionTakes(q, q, q) && !Runtime.fusedAttentionTakes(f, f, f))
        #expect(try scaledDotProductAttention(q, q, q).shape == [1, 2, 8, 48])
    }
}
