import Foundation
import Testing
@testable import Torch

/// fp32 `linear` on oneDNN's matmul (Sources/CTorch/linear.cpp) against x·wᵀ + b written with `matmul` (MKL), forward
/// and the three gradients, which are also checked against their formulas (dx = g·w, dw = gᵀ·x, db = Σ g).
struct LinearTests {
    static let cases: [(shape: [Int], out: Int, bias: Bool)] = [([2, 37, 48], 24, true), ([157, 768], 3, false), ([1, 3, 5, 64], 96, true)]

    @Test(arguments: cases.indices) func matchesMatmul(_ i: Int) throws {
        let c = Self.cases[i], k = c.shape.last!
        let g = try Generator(seed: UInt64(i))
        let x = try Tensor.randn(c.shape, generator: g).requiresGrad(true)
        let w = try (Tensor.randn([c.out, k], generator: g) * 0.1).requiresGrad(true)
        let b = c.bias ? try Tensor.randn([c.out], generator: g).requiresGrad(true) : nil
        #expect(Runtime.oneDNNLinearTakes(x, weight: w, bias: b) == Runtime.oneDNNLinear)
        let y = try linear(x, weight: w, bias: b)
        let gy = try Tensor.randn(y.shape, generator: g)
        try y.backward(gradient: gy)

        let (x2, w2) = (try x.detach().requiresGrad(true), try w.detach().requiresGrad(true))
        let b2 = try b.map { try $0.detach().requiresGrad(true) }
        var ref = try x2.matmul(w2.transpose(0, 1))
        if let b2 { ref = try ref + b2 }
        try ref.backward(gradient: gy)
        try expectClose(y, ref, tol: 1e-5, "output \(c)")
        try expectClose(try #require(x.grad), try #require(x2.grad), tol: 1e-5, "dx \(c)")
        try expectClose(try #require(w.grad), try #require(w2.grad), tol: 1e-5, "dw \(c)")
        if let b, let b2 { try expectClose(try #require(b.grad), try #require(b2.grad), tol: 1e-5, "db \(c)") }

        let g2 = try gy.reshape([-1, c.out]), xf = try x.detach().reshape([-1, k])
        try expectClose(try #require(x.grad).reshape([-1, k]), try g2.matmul(w.detach()), tol: 1e-5, "dx formula \(c)")
        try expectClose(try #require(w.grad), try g2.transpose(0, 1).matmul(xf), tol: 1e-5, "dw formula \(c)")
    }

    /// oneDNN must read the weight's current values: an in-place update (as the optimizer's) changes the output.
    @Test func followsInPlaceWeightUpdates() throws {
        let g = try Generator(seed: 7)
        let x = try Tensor.randn([64, 32], generator: g), w = try Tensor.randn([16, 32], generator: g)
        let a = try withNoGrad { try linear(x, weight: w) }
        try withNoGrad { try w.mul_(2) }
        let b = try withNoGrad { try linear(x, weight: w) }
        try expectClose(b, a * 2.0, tol: 1e-6, "after w *= 2")
    }

    /// Only the input needs a gradient (a frozen layer), or only the weight (the patch embedding's input).
    @Test func partialGradients() throws {
        let g = try Generator(seed: 8)
        let x = try Tensor.randn([10, 12], generator: g), w = try Tensor.randn([6, 12], generator: g)
        let xg = try x.detach().requiresGrad(true)
        try linear(xg, weight: w).sum().backward()
        try expectClose(try #require(xg.grad), try Tensor.ones([10, 6]).matmul(w), tol: 1e-5, "dx only")
        let wg = try w.detach().requiresGrad(true)
        try linear(x, weight: wg).sum().backward()
        try expectClose(try #require(wg.grad), try Tensor.ones([6, 10]).matmul(x), tol: 1e-5, "dw only")
    }

    /// bf16, float64, autocast and mismatched shapes stay on `at::linear`.
    @Test func otherInputsStayOnLibtorch() throws {
        let x = try Tensor.randn([4, 8]), w = try Tensor.randn([3, 8])
        let (xb, wb, xd, wd, w9) = (try x.to(.bfloat16), try w.to(.bfloat16), try x.to(.float64), try w.to(.float64), try Tensor.randn([3, 9]))
        #expect(!Runtime.oneDNNLinearTakes(xb, weight: wb))
        #expect(!Runtime.oneDNNLinearTakes(xd, weight: wd))
        #expect(!Runtime.oneDNNLinearTakes(x, weight: w9))
        try withAutocast { #expect(!Runtime.oneDNNLinearTakes(x, weight: w)) }
        #expect(try withAutocast { try linear(x, weight: w) }.dtype == .bfloat16)
    }
}
