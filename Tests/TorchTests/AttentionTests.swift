import Foundation
import Testing
@testable import Torch

/// stmae's fused attention kernels (Sources/CPUKernels/attention.cpp: bf16; attention_fp32.cpp: fp32) against attention
/// written out in fp32 (softmax(q kᵀ · scale) v) on the same inputs, forward and gradients. q, k, v are slices of
/// one qkv tensor, as in the models. bf16 on a CPU without AVX-512 BF16 runs the fp32 kernel on widened copies; where
/// the CPU lacks a kernel's instructions the same calls run libtorch's SDPA and are checked the same way. The kernels
/// are forced on (`Runtime.fusedAttention = .on`: also on CPUs where `.auto` prefers libtorch's), one test at a time.
@Suite(.serialized) struct AttentionTests {
    /// `body` with the fused kernels on wherever they take the inputs; the previous mode restored after.
    func withKernelsOn(_ body: () throws -> Void) rethrows {
        let was = Runtime.fusedAttention
        Runtime.fusedAttention = .on
        defer { Runtime.fusedAttention = was }
        try body()
    }

    static let cases: [(batch: Int, heads: Int, lq: Int, lk: Int, dim: Int)] = [
        (2, 3, 37, 37, 32), (1, 2, 50, 21, 64), (1, 2, 19, 33, 128), (1, 16, 157, 157, 32), (2, 1, 3, 1, 32),
        (1, 2, 45, 70, 80)
    ]
    static let dtypes: [DType] = [.bfloat16, .float32]

    @Test(arguments: cases.indices, dtypes) func matchesExplicitAttention(_ i: Int, _ dtype: DType) throws {
        try withKernelsOn { try matches(i, dtype) }
    }

    func matches(_ i: Int, _ dtype: DType) throws {
        let c = Self.cases[i]
        let g = try Generator(seed: UInt64(i))
        // q from its own tensor when lq ≠ lk (cross-attention); k, v from a [B, Lk, 2, H, D] pair.
        let qLeaf = try (Tensor.randn([c.batch, c.lq, c.heads, c.dim], generator: g) * 2.0).to(dtype).requiresGrad(true)
        let kvLeaf = try (Tensor.randn([c.batch, c.lk, 2, c.heads, c.dim], generator: g) * 2.0).to(dtype).requiresGrad(
            true)
        func split(_ q: Tensor, _ kv: Tensor) throws -> (Tensor, Tensor, Tensor) {
            let kvh = try kv.permute(2, 0, 3, 1, 4)
            return (try q.transpose(1, 2), try kvh.select(dim: 0, index: 0), try kvh.select(dim: 0, index: 1))
        }
        let (q, k, v) = try split(qLeaf, kvLeaf)
        // bf16 without AVX-512 BF16: the fp32 kernel on widened copies, which takes head dim 80 too.
        let native = Runtime.fusedAttentionAvailable(dtype)
        let kernel =
            dtype == .bfloat16 && !native
            ? Runtime.fusedAttentionAvailable(.float32) : native && (dtype == .float32 || c.dim != 80)
        #expect(Runtime.fusedAttentionTakes(q, k, v) == kernel)
        let out = try scaledDotProductAttention(q, k, v)
        #expect(out.dtype == dtype && out.shape == [c.batch, c.heads, c.lq, c.dim])
        let gradOut = try Tensor.randn(out.shape, generator: g).to(dtype)
        try out.backward(gradient: gradOut)

        let q64 = try qLeaf.detach().to(.float64).requiresGrad(true),
            kv64 = try kvLeaf.detach().to(.float64).requiresGrad(true)
        let (rq, rk, rv) = try split(q64, kv64)
        let scores = try rq.matmul(rk.transpose(-1, -2)) * (1 / Double(c.dim).squareRoot())
        let ref = try softmax(scores, dim: -1).matmul(rv)
        try ref.backward(gradient: gradOut.to(.float64))
        // bf16: output rounding (2⁻⁹ relative) and bf16 probabilities in P·V, observed ≤ 4e-3; gradients go
        // through bf16 dP, dS and products of bf16 tensors, observed ≤ 1e-2. fp32: observed ≤ 2e-6 (2^x polynomial:
        // 2e-7).
        let (outTol, gradTol) = dtype == .bfloat16 ? (1e-2, 3e-2) : (1e-5, 1e-5)
        try expectClose(out, ref, tol: outTol, "output \(c) \(dtype)")
        try expectClose(try #require(qLeaf.grad), try #require(q64.grad), tol: gradTol, "dq \(c) \(dtype)")
        try expectClose(try #require(kvLeaf.grad), try #require(kv64.grad), tol: gradTol, "dk, dv \(c) \(dtype)")
    }

    /// Inference (no grad) takes the same kernel and gives the same output as training mode.
    @Test(arguments: dtypes) func noGradMatchesGradMode(_ dtype: DType) throws {
        try withKernelsOn { try noGradMatches(dtype) }
    }

    func noGradMatches(_ dtype: DType) throws {
        let qkv = try Tensor.randn([1, 40, 3, 4, 32], generator: try Generator(seed: 9)).to(dtype).permute(
            2, 0, 3, 1, 4)
        let (q, k, v) = (
            try qkv.select(dim: 0, index: 0), try qkv.select(dim: 0, index: 1), try qkv.select(dim: 0, index: 2)
        )
        let a = try withNoGrad { try scaledDotProductAttention(q, k, v) }
        let leaf = try q.detach().requiresGrad(true)
        let b = try scaledDotProductAttention(leaf, k, v)
        try expectClose(a, b.detach(), tol: 0, "no-grad vs grad mode")
    }

    /// Head dims the kernels do not take (48), fp64 and a strided last dim run libtorch's SDPA.
    @Test func otherInputsFallBack() throws { try withKernelsOn { try fallBack() } }

    func fallBack() throws {
        let q = try Tensor.randn([1, 2, 8, 48]).to(.bfloat16), f = try Tensor.randn([1, 2, 8, 48]),
            d = try Tensor.randn([1, 2, 8, 32]).to(.float64)
        let strided = try Tensor.randn([1, 2, 32, 8]).transpose(2, 3)
        for x in [q, f, d, strided] { #expect(!Runtime.fusedAttentionTakes(x, x, x), "\(x.dtype) \(x.shape)") }
        #expect(try scaledDotProductAttention(q, q, q).shape == [1, 2, 8, 48])
        try expectClose(
            try scaledDotProductAttention(strided, strided, strided),
            try scaledDotProductAttention(strided.contiguous(), strided.contiguous(), strided.contiguous()), tol: 1e-5,
            "strided")
    }

    /// `.auto` (the default) runs the fused kernel where it is preferred on this CPU (not fp32 on AMX CPUs, where
    /// libtorch's flash kernel is faster); `.off` never.
    @Test func autoFollowsThePreference() throws {
        let was = Runtime.fusedAttention
        defer { Runtime.fusedAttention = was }
        #expect(was == .auto)
        for dtype in Self.dtypes {
            let x = try Tensor.randn([1, 2, 8, 32]).to(dtype)
            Runtime.fusedAttention = .auto
            let widened = dtype == .bfloat16 && !Runtime.fusedAttentionAvailable(.bfloat16)
            #expect(Runtime.fusedAttentionTakes(x, x, x) == Runtime.fusedAttentionPreferred(widened ? .float32 : dtype))
            Runtime.fusedAttention = .off
            #expect(!Runtime.fusedAttentionTakes(x, x, x))
        }
        let amx = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.contains(" amx_bf16") ?? false
        #expect(Runtime.fusedAttentionPreferred(.float32) == (Runtime.fusedAttentionAvailable(.float32) && !amx))
        #expect(Runtime.fusedAttentionPreferred(.bfloat16) == Runtime.fusedAttentionAvailable(.bfloat16))
    }
}
