import TestSupport
import Testing
@testable import Torch

/// Every op of the engine layer against PyTorch on the fixture inputs (scripts/make_engine_fixtures.py):
/// outputs and input gradients of sum(out · up) within 1e-5 relative (fp32).
struct OpsParityTests {
    typealias Op = ([Tensor]) throws -> Tensor
    static let ops: [String: Op] = [
        "add": { try $0[0] + $0[1] }, "sub": { try $0[0] - $0[1] }, "mul": { try $0[0] * $0[1] },
        "div": { try $0[0] / $0[1] },
        "add_scalar": { try $0[0] + 1.5 }, "mul_scalar": { try $0[0] * -2.0 }, "rsub_scalar": { try 3.0 - $0[0] },
        "pow": { try $0[0].pow(2.5) }, "exp": { try $0[0].exp() }, "log": { try $0[0].log() },
        "sqrt": { try $0[0].sqrt() },
        "rsqrt": { try $0[0].rsqrt() }, "tanh": { try $0[0].tanh() }, "sigmoid": { try $0[0].sigmoid() },
        "neg": { try -$0[0] },
        "clamp": { try $0[0].clamp(min: -0.5, max: 0.7) },
        "sum_dims": { try $0[0].sum(dims: [0, 2]) }, "sum_all": { try $0[0].sum() },
        "mean_keep": { try $0[0].mean(dims: [-1], keepDim: true) },
        "var_unbiased": { try $0[0].variance(dims: [-1], keepDim: true) }, "amax": { try $0[0].amax(dims: [1]) },
        "reshape": { try $0[0].reshape([4, 6]) }, "permute": { try $0[0].permute(2, 0, 1) },
        "transpose": { try $0[0].transpose(1, 2) },
        "slice": { try $0[0].slice(dim: 1, start: 1, end: 9, step: 3) },
        "select": { try $0[0].select(dim: 0, index: 2) },
        "index_select": { try $0[0].indexSelect(dim: 0, index: $0[1]) },
        "gather": { try $0[0].gather(dim: 1, index: $0[1]) },
        "scatter": { try $0[0].scatter(dim: 1, index: $0[1], source: $0[2]) },
        "cat": { try Tensor.cat([$0[0], $0[1]], dim: 1) }, "stack": { try Tensor.stack([$0[0], $0[1]], dim: 1) },
        "expand": { try $0[0].expand([4, 3]) }, "repeat": { try $0[0].repeat([2, 1, 2]) },
        "repeat_interleave": { try $0[0].repeatInterleave(3, dim: 1) },
        "flatten": { try $0[0].flatten(start: 1, end: 2) },
        "where": { try Tensor.where($0[0], $0[1], $0[2]) }, "masked_fill": { try $0[0].maskedFill($0[1], 0.25) },
        "matmul": { try $0[0].matmul($0[1]) }, "bmm": { try $0[0].bmm($0[1]) },
        "baddbmm": { try $0[0].baddbmm($0[1], $0[2], beta: 0.5, alpha: 0.125) },
        "linear": { try linear($0[0], weight: $0[1], bias: $0[2]) },
        "linear_nobias": { try linear($0[0], weight: $0[1]) },
        "conv3d": { try conv3d($0[0], weight: $0[1], bias: $0[2], stride: [2, 4, 4]) },
        "conv2d": { try conv2d($0[0], weight: $0[1], bias: $0[2], stride: [4, 4]) },
        "layer_norm": { try layerNorm($0[0], normalizedShape: [10], weight: $0[1], bias: $0[2], eps: 1e-6) },
        "gelu": { try gelu($0[0]) }, "gelu_tanh": { try gelu($0[0], approximateTanh: true) },
        "softmax": { try softmax($0[0], dim: -1) }, "log_softmax": { try logSoftmax($0[0], dim: 1) },
        "sdpa": { try scaledDotProductAttention($0[0], $0[1], $0[2]) },
        "sdpa_scale": { try scaledDotProductAttention($0[0], $0[1], $0[2], scale: 0.3) },
        "mse_loss": { try mseLoss($0[0], $0[1]) }, "mse_none": { try mseLoss($0[0], $0[1], reduction: .none) },
        "cross_entropy": { try crossEntropy($0[0], $0[1]) },
        "cross_entropy_smooth": { try crossEntropy($0[0], $0[1], labelSmoothing: 0.1) },
        "cross_entropy_soft": { try crossEntropy($0[0], $0[1]) },
        "interpolate_bicubic": { try interpolate($0[0], size: [7, 3], mode: .bicubic) },
        "interpolate_linear": { try interpolate($0[0], size: [9], mode: .linear) },
        "argsort": { try $0[0].argsort(dim: 1) }, "erfinv": { try $0[0].erfinv() }
    ]

    static let fixtures: [String: Tensor] = try! TensorFile.load(fixturePath("ops.safetensors", in: .module))
    static var caseNames: [String] {
        Set(fixtures.keys.compactMap { $0.hasSuffix(".out") ? String($0.dropLast(4)) : nil }).sorted()
    }

    @Test func everyFixtureCaseHasASwiftOp() {
        #expect(Self.caseNames.count >= 55)
        #expect(Set(Self.caseNames) == Set(Self.ops.keys), "fixture cases and Swift ops differ")
    }

    @Test(arguments: OpsParityTests.caseNames)
    func op(_ name: String) throws {
        let f = Self.fixtures
        var inputs: [Tensor] = []
        while let t = f["\(name).in\(inputs.count)"] {
            inputs.append(t.dtype.isFloatingPoint ? try t.clone().requiresGrad(true) : t)
        }
        let out = try Self.ops[name]!(inputs)
        try expectClose(out, f["\(name).out"]!, tol: 1e-5, "\(name) output")
        #expect(out.dtype == f["\(name).out"]!.dtype)
        guard let up = f["\(name).up"] else { return }
        try (out * up).sum().backward()
        for (i, x) in inputs.enumerated() {
            guard let ref = f["\(name).grad\(i)"] else { continue }
            guard let g = x.grad else { Issue.record("\(name): no gradient for input \(i)"); continue }
            try expectClose(g, ref, tol: 1e-5, "\(name) grad\(i)")
        }
    }
}
