import Torch

/// bf16 compute copies of every `Linear` weight of a model, for bf16-autocast training: the matmuls use the copies
/// (leaf tensors, so autocast has nothing to cast and the backward nothing to cast back), the optimizer keeps the fp32
/// weights. The numbers are autocast's — a copy is the weight rounded to bf16, and its bf16 gradient is moved into
/// the fp32 weight's gradient (added over accumulation micro-batches) the moment backward has it — but a step saves
/// the per-step weight casts and their backward (ViT-B MAE bf16 step: 1.80–2.02 → 1.66 s here).
///
/// Per step: forward and backward as usual → optimizer step → `refresh()`.
public final class BF16Weights {
    let pairs: [(linear: Linear, copy: Tensor)]

    /// Creates the copies and points every trainable fp32 `Linear` of `model` at its copy — unless bf16 linears run
    /// on OpenBLAS (`backend`), whose widened GEMM rounds an fp32 weight to bf16 as it widens it, so a copy would
    /// add 2 bytes per weight and two conversions per step for nothing (ViT-B MAE bf16 step on a 2-core AVX2 EPYC:
    /// peak RSS 2460–2484 → 2183–2198 MB at the same s/step). Then `count` is 0 and `refresh()` does nothing.
    public init(_ model: Module, backend: LinearBackend = Runtime.bf16Linear) throws {
        var pairs: [(linear: Linear, copy: Tensor)] = []
        guard backend != .openBLAS else { self.pairs = []; return }
        for (_, m) in model.namedModules() {
            guard let lin = m as? Linear, lin.weight.requiresGrad, lin.weight.dtype == .float32 else { continue }
            let copy = try withNoGrad { try lin.weight.detach().to(.bfloat16) }.requiresGrad(true)
            try copy.setGradSink(master: lin.weight)
            lin.weightCopy = Constant(copy)
            pairs.append((lin, copy))
        }
        self.pairs = pairs
    }

    /// Number of weights with a copy.
    public var count: Int { pairs.count }

    /// Copies the (updated) fp32 weights into the bf16 copies: call after every optimizer step.
    public func refresh() throws {
        try withNoGrad { for p in pairs { try p.copy.copy_(p.linear.weight) } }
    }

    /// Points the layers back at their fp32 weights.
    public func remove() {
        for p in pairs { p.linear.weightCopy = nil }
    }

    /// For inference only (evaluation, embeddings): turns every `Linear` weight of `model` into bf16 in place — the
    /// rounding autocast applies at each use, done once, with no fp32 weight kept. Not for a model that is trained or
    /// saved afterwards. Returns the number of weights converted.
    @discardableResult
    public static func convertForInference(_ model: Module) throws -> Int {
        var n = 0
        try withNoGrad {
            for (_, m) in model.namedModules() {
                guard let lin = m as? Linear, lin.weight.dtype == .float32 else { continue }
                try lin.weight.setData(lin.weight.to(.bfloat16))
                n += 1
            }
        }
        return n
    }
}
