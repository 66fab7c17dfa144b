import Foundation
import Testing
@testable import Torch

/// fp32 `linear` on each GEMM library (Sources/CPUKernels/linear.cpp) against x·wᵀ + b written with `matmul` (MKL),
/// forward and the three gradients, which are also checked against their formulas (dx = g·w, dw = gᵀ·x, db = Σ g).
/// The shapes take OpenBLAS's split by rows (narrow outputs), by 16-column groups with a tail, and one group.
struct LinearTests {
    static let cases: [(shape: [Int], out: Int, bias: Bool)] = [
        ([2, 37, 48], 24, true), ([157, 768], 3, false), ([1, 3, 5, 64], 96, true),
        ([300, 64], 200, true), ([5, 16], 16, false)
    ]

    @Test(arguments: cases.indices, LinearBackend.allCases) func matchesMatmul(_ i: Int, _ backend: LinearBackend)
        throws
    {
        let c = Self.cases[i], k = c.shape.last!
        let g = try Generator(seed: UInt64(i))
        let x = try Tensor.randn(c.shape, generator: g).requiresGrad(true)
        let w = try (Tensor.randn([c.out, k], generator: g) * 0.1).requiresGrad(true)
        let b = c.bias ? try Tensor.randn([c.out], generator: g).requiresGrad(true) : nil
        #expect(Runtime.linearBackend(x, weight: w, bias: b) == Runtime.fp32Linear)
        let y = try linear(x, weight: w, bias: b, backend: backend)
        let gy = try Tensor.randn(y.shape, generator: g)
        try y.backward(gradient: gy)

        let (x2, w2) = (try x.detach().requiresGrad(true), try w.detach().requiresGrad(true))
        let b2 = try b.map { try $0.detach().requiresGrad(true) }
        var ref = try x2.matmul(w2.transpose(0, 1))
        if let b2 { ref = try ref + b2 }
        try ref.backward(gradient: gy)
        let what = "\(c) \(backend)"
        try expectClose(y, ref, tol: 1e-5, "output \(what)")
        try expectClose(try #require(x.grad), try #require(x2.grad), tol: 1e-5, "dx \(what)")
        try expectClose(try #require(w.grad), try #require(w2.grad), tol: 1e-5, "dw \(what)")
        if let b, let b2 { try expectClose(try #require(b.grad), try #require(b2.grad), tol: 1e-5, "db \(what)") }

        let g2 = try gy.reshape([-1, c.out]), xf = try x.detach().reshape([-1, k])
        try expectClose(
            try #require(x.grad).reshape([-1, k]), try g2.matmul(w.detach()), tol: 1e-5, "dx formula \(c) \(backend)")
        try expectClose(
            try #require(w.grad), try g2.transpose(0, 1).matmul(xf), tol: 1e-5, "dw formula \(c) \(backend)")
    }

    /// Each library must read the weight's current values: an in-place update (as the optimizer's) changes the output.
    @Test(arguments: LinearBackend.allCases) func followsInPlaceWeightUpdates(_ backend: LinearBackend) throws {
        let g = try Generator(seed: 7)
        let x = try Tensor.randn([64, 32], generator: g), w = try Tensor.randn([16, 32], generator: g)
        let a = try withNoGrad { try linear(x, weight: w, backend: backend) }
        try withNoGrad { try w.mul_(2) }
        let b = try withNoGrad { try linear(x, weight: w, backend: backend) }
        try expectClose(b, a * 2.0, tol: 1e-6, "after w *= 2 (\(backend))")
    }

    /// Views as operands: a transposed weight (read in place as a transposed BLAS operand), a strided slice (copied),
    /// a transposed input; with gradients through all of them.
    @Test(arguments: LinearBackend.allCases) func viewsAsOperands(_ backend: LinearBackend) throws {
        let g = try Generator(seed: 9)
        // [40, 33], strides (1, 40)
        let x = try Tensor.randn([33, 40], generator: g).transpose(0, 1).requiresGrad(true)
        let weights = [
            try Tensor.randn([33, 70], generator: g).transpose(0, 1),  // [70, 33], strides (1, 70)
            try Tensor.randn([70, 66], generator: g).slice(dim: 1, step: 2)
        ]  // [70, 33], strides (66, 2)
        for w0 in weights {
            let w = try w0.requiresGrad(true)
            let y = try linear(x, weight: w, backend: backend)
            try y.sum().backward()
            let ref = try x.detach().matmul(w.detach().transpose(0, 1))
            try expectClose(y, ref, tol: 1e-5, "output \(backend) \(w.shape)")
            try expectClose(
                try #require(x.grad), try Tensor.ones([40, 70]).matmul(w.detach()), tol: 1e-5, "dx \(backend)")
            try expectClose(
                try #require(w.grad), try Tensor.ones([70, 40]).matmul(x.detach()), tol: 1e-5, "dw \(backend)")
            try x.setGrad(nil)
        }
    }

    /// Only the input needs a gradient (a frozen layer), or only the weight (the patch embedding's input).
    @Test(arguments: LinearBackend.allCases) func partialGradients(_ backend: LinearBackend) throws {
        let g = try Generator(seed: 8)
        let x = try Tensor.randn([10, 12], generator: g), w = try Tensor.randn([6, 12], generator: g)
        let xg = try x.detach().requiresGrad(true)
        try linear(xg, weight: w, backend: backend).sum().backward()
        try expectClose(try #require(xg.grad), try Tensor.ones([10, 6]).matmul(w), tol: 1e-5, "dx only")
        let wg = try w.detach().requiresGrad(true)
        try linear(x, weight: wg, backend: backend).sum().backward()
        try expectClose(try #require(wg.grad), try Tensor.ones([6, 10]).matmul(x), tol: 1e-5, "dw only")
    }

    /// bf16 and autocast linears run `bf16Linear`'s library; float64 and mismatched shapes stay on `at::linear`.
    @Test func otherInputsStayOnLibtorch() throws {
        let x = try Tensor.randn([4, 8]), w = try Tensor.randn([3, 8])
        let (xb, wb, xd, wd, w9) = (
            try x.to(.bfloat16), try w.to(.bfloat16), try x.to(.float64), try w.to(.float64), try Tensor.randn([3, 9])
        )
        #expect(Runtime.linearBackend(xb, weight: wb) == Runtime.bf16Linear)
        #expect(Runtime.linearBackend(xd, weight: wd) == .libtorch)
        #expect(Runtime.linearBackend(x, weight: w9) == .libtorch)
        #expect(Runtime.linearBackend(xb, weight: w) == .libtorch, "bf16 with fp32 outside autocast")
        try withAutocast { #expect(Runtime.linearBackend(x, weight: w) == Runtime.bf16Linear) }
        try withAutocast(.float16) { #expect(Runtime.linearBackend(x, weight: w) == .libtorch) }
        #expect(try withAutocast { try linear(x, weight: w) }.dtype == .bfloat16)
        #expect(
            Runtime.bf16Linear == (Runtime.fusedAttentionAvailable(.bfloat16) ? .libtorch : .openBLAS),
            "default: OpenBLAS without bf16 dot products")
    }

    /// bf16 linears on each bf16 library (bf16 tensors, and autocast over fp32 leaves) against the float64 product of
    /// the bf16-rounded operands: within bf16 rounding (2⁻⁸ of the max norm), forward and the three gradients,
    /// whose dtypes follow the leaves (autocast's casts carry the gradients back to fp32).
    @Test(arguments: cases.indices, [LinearBackend.libtorch, .openBLAS]) func bf16MatchesRoundedProduct(
        _ i: Int, _ backend: LinearBackend
    ) throws {
        let c = Self.cases[i], k = c.shape.last!
        let g = try Generator(seed: UInt64(20 + i))
        let x32 = try Tensor.randn(c.shape, generator: g), w32 = try Tensor.randn([c.out, k], generator: g) * 0.1
        let b32 = c.bias ? try Tensor.randn([c.out], generator: g) : nil
        let gy = try Tensor.randn(Array(c.shape.dropLast()) + [c.out], generator: g).to(.bfloat16)
        // Reference: float64 on the bf16 values.
        let (xr, wr) = (
            try x32.to(.bfloat16).to(.float64).requiresGrad(true), try w32.to(.bfloat16).to(.float64).requiresGrad(true)
        )
        let br = try b32.map { try $0.to(.bfloat16).to(.float64).requiresGrad(true) }
        var ref = try xr.matmul(wr.transpose(0, 1))
        if let br { ref = try ref + br }
        try ref.backward(gradient: gy.to(.float64))
        for autocast in [false, true] {
            let leaf = { (t: Tensor) in try (autocast ? t : t.to(.bfloat16)).detach().requiresGrad(true) }
            let (x, w, b) = (try leaf(x32), try leaf(w32), try b32.map(leaf))
            let y = try withAutocast(enabled: autocast) {
                #expect(Runtime.linearBackend(x, weight: w, bias: b) == Runtime.bf16Linear)
                return try linear(x, weight: w, bias: b, backend: backend)
            }
            try y.backward(gradient: gy)
            try expectBF16Step(
                y, ref, leaves: (x, w, b), rounded: (xr, wr, br), autocast: autocast,
                "\(c) \(backend) autocast \(autocast)")
        }
    }
}

/// The bf16 rounding tests of OpenBLAS linears, with the conversions' AVX2 code and with their scalar code (that of
/// CPUs without AVX2). The switch is process-wide, so these run one at a time.
@Suite(.serialized) struct Bf16LinearRoundingTests {
    /// OpenBLAS's bf16 path rounds as libtorch does, bit for bit. Operands whose products are exact in fp32 (x and the
    /// upstream gradient small integers, w and b on a 2⁻¹⁰ grid, so with ties and values bf16 cannot hold) must
    /// give exactly libtorch's bf16 rounding of the exact results: forward, dx, dw, db, for fp32 leaves under autocast
    /// (w and b rounded inside, gradients fp32 holding bf16 values) and for bf16 leaves. x's 1100 rows span three of
    /// the linear's 512-row blocks (dW and db summed over them), its blocks cross the conversions' parallel chunks, and
    /// every operand has a tail shorter than a vector.
    @Test(arguments: [true, false]) func openBLASRoundsLikeLibtorch(vectorized: Bool) throws {
        let saved = Runtime.vectorizedBf16Conversions
        defer { Runtime.vectorizedBf16Conversions = saved }
        Runtime.vectorizedBf16Conversions = vectorized
        #expect(Runtime.vectorizedBf16Conversions == (vectorized && saved))
        let g = try Generator(seed: 31)
        let ints = { (shape: [Int]) in try (Tensor.randn(shape, generator: g) * 1.2).round().clamp(min: -3, max: 3) }
        let grid = { (shape: [Int]) in try (Tensor.randn(shape, generator: g) * 700).round() / 1024 }
        let (x32, w32, b32, gy) = (try ints([1100, 150]), try grid([37, 150]), try grid([37]), try ints([1100, 37]))
        let bits = { (t: Tensor) in try t.to(.float32).to(.bfloat16).to(.float32) }  // libtorch's rounding, exact input
        let (x64, g64) = (try x32.to(.float64), try gy.to(.float64))
        let (w64, b64) = (try w32.to(.bfloat16).to(.float64), try b32.to(.bfloat16).to(.float64))
        let want = (
            y: try bits(x64.matmul(w64.transpose(0, 1)) + b64), dx: try bits(g64.matmul(w64)),
            dw: try bits(g64.transpose(0, 1).matmul(x64)), db: try bits(g64.sum(dims: [0]))
        )
        for autocast in [true, false] {
            let leaf = { (t: Tensor) in try (autocast ? t : t.to(.bfloat16)).detach().requiresGrad(true) }
            let (x, w, b) = (try leaf(x32), try leaf(w32), try leaf(b32))
            let y = try withAutocast(enabled: autocast) { try linear(x, weight: w, bias: b, backend: .openBLAS) }
            try y.backward(gradient: gy.to(.bfloat16))
            for (name, got, expected) in [
                ("y", y, want.y), ("dx", try #require(x.grad), want.dx),
                ("dw", try #require(w.grad), want.dw), ("db", try #require(b.grad), want.db)
            ] {
                #expect(
                    got.dtype == (autocast && name != "y" ? .float32 : .bfloat16),
                    "\(name) autocast \(autocast) vectorized \(vectorized)")
                let diff = try (got.to(.float32) - expected).abs().sum().item()
                #expect(diff == 0, "\(name) autocast \(autocast): Σ|Δ| = \(diff), vectorized \(vectorized)")
            }
        }
    }

    /// NaN stays NaN, ±inf stays inf, and an fp32 weight beyond bf16's range rounds to inf, as libtorch's cast does:
    /// x = I₂ against w = [[nan, 1], [inf, 1], [max, 0], [−max, 0]]: row 0 reads w's first column, row 1 is NaN
    /// throughout (0·nan, and 0·inf once max has become inf).
    @Test(arguments: [true, false]) func openBLASKeepsNaNAndInfinity(vectorized: Bool) throws {
        let saved = Runtime.vectorizedBf16Conversions
        defer { Runtime.vectorizedBf16Conversions = saved }
        Runtime.vectorizedBf16Conversions = vectorized
        let big = Double(Float.greatestFiniteMagnitude)
        let w = try Tensor([Float.nan, 1, .infinity, 1, Float(big), 0, Float(-big), 0], shape: [4, 2])
        let x = try Tensor([Float(1), 0, 0, 1], shape: [2, 2])
        let y = try withAutocast(enabled: true) { try linear(x, weight: w, backend: .openBLAS) }.floats()
        let expected: [Float] = [.nan, .infinity, .infinity, -.infinity, .nan, .nan, .nan, .nan]
        #expect(zip(y, expected).allSatisfy { $0.isNaN ? $1.isNaN : $0 == $1 }, "\(y), vectorized \(vectorized)")
    }
}
