import Foundation
import Testing
import TestSupport
import Torch
@testable import NN

/// Two-layer MLP with the fixture's weights, as the Python side builds it.
final class TinyMLP: Module {
    var training = true
    let fc1: Linear, fc2: Linear
    init(_ f: [String: Tensor]) throws {
        fc1 = try Linear(8, 16); fc2 = try Linear(16, 4)
        try withNoGrad {
            try fc1.weight.copy_(f["w1"]!); try fc1.bias!.copy_(f["b1"]!)
            try fc2.weight.copy_(f["w2"]!); try fc2.bias!.copy_(f["b2"]!)
        }
    }
    func callAsFunction(_ x: Tensor) throws -> Tensor { try fc2(gelu(fc1(x))) }
}

struct OptimTests {
    /// 10 steps: MAE schedule, clip_grad_norm, fused AdamW with two groups == torch.optim.AdamW(fused=True).
    @Test func adamWScheduleClippingMatchPyTorch() throws {
        let f = try TensorFile.load(fixturePath("adamw.safetensors", in: .module))
        let model = try TinyMLP(f)
        let groups = paramGroups(model.namedParameters(), weightDecay: 0.05)
        #expect(groups.map(\.names) == [["fc1.weight", "fc2.weight"], ["fc1.bias", "fc2.bias"]])
        var gs = groups
        gs[1].lrScale = 0.5
        let opt = AdamW(gs, lr: 0, betas: (0.9, 0.95))
        let sched = CosineSchedule(lr: 1e-2, minLR: 1e-4, warmupEpochs: 1, epochs: 5)
        let lrs = try f["lrs"]!.toArray(Double.self), losses = try f["losses"]!.toArray(Double.self)
        let norms = try f["grad_norms"]!.toArray(Double.self)
        for it in 0 ..< 10 {
            let lr = sched.lr(at: Double(it) / 2)
            #expect(abs(lr - lrs[it]) <= 1e-12 * max(1, lrs[it]))
            opt.lr = lr
            let loss = try mseLoss(model(f["x"]!), f["y"]!)
            try opt.zeroGrad()
            try loss.backward()
            let norm = try Kernels.clipGradNorm(opt.grads(), maxNorm: 0.5)
            #expect(abs(norm - norms[it]) <= 1e-6 * norms[it], "step \(it) grad norm \(norm) vs \(norms[it])")
            try opt.step()
            #expect(abs(try loss.item() - losses[it]) <= 1e-6 * losses[it])
            for (name, p) in [
                ("w1", model.fc1.weight), ("b1", model.fc1.bias!), ("w2", model.fc2.weight), ("b2", model.fc2.bias!)
            ] {
                let d = try maxRel(p, f["step\(it).\(name)"]!)
                #expect(d <= 1e-6, "step \(it) \(name): \(d)")
            }
        }
        // optimizer state survives a save/load round trip
        let st = try opt.stateDict()
        #expect(st.count == 12)
        let opt2 = AdamW(gs, lr: 0)
        try opt2.loadStateDict(Dictionary(uniqueKeysWithValues: st))
        #expect(try opt2.stateDict().map(\.0) == st.map(\.0))
    }

    @Test func scheduleShape() {
        let s = CosineSchedule(lr: 1.0, minLR: 0.1, warmupEpochs: 2, epochs: 10)
        #expect(s.lr(at: 0) == 0)
        #expect(s.lr(at: 1) == 0.5)
        #expect(abs(s.lr(at: 2) - 1.0) < 1e-12)
        #expect(abs(s.lr(at: 6) - 0.55) < 1e-12)
        #expect(abs(s.lr(at: 10) - 0.1) < 1e-12)
        #expect(scaledLR(blr: 1.6e-3, effectiveBatch: 512) == 3.2e-3)
    }

    @Test func layerDecayGroups() throws {
        let blocks = try (0 ..< 2).map { _ in try Block(dim: 8, heads: 2) }
        let named = blocks.enumerated().flatMap { i, b in b.namedParameters().map { ("blocks.\(i).\($0.0)", $0.1) } }
        let groups = paramGroups(named, weightDecay: 0.05, layerDecay: 0.5, numLayers: 3) { name in
            name.hasPrefix("blocks.") ? Int(name.split(separator: ".")[1])! + 1 : 3
        }
        let b0 = groups.first { $0.names.contains("blocks.0.attn.q.weight") }!
        #expect(b0.lrScale == 0.25 && b0.weightDecay == 0.05)
        let b1n = groups.first { $0.names.contains("blocks.1.norm1.weight") }!
        #expect(b1n.lrScale == 0.5 && b1n.weightDecay == 0)
        #expect(groups.reduce(0) { $0 + $1.params.count } == named.count)
    }

    /// Two half batches with loss/2 accumulate to the full-batch gradient.
    @Test func gradientAccumulation() throws {
        let lin = try Linear(6, 3)
        let x = try Tensor.randn([8, 6]), y = try Tensor.randn([8, 3])
        try mseLoss(lin(x), y).backward()
        let full = try lin.weight.grad!.clone()
        try lin.zeroGrad()
        for h in 0 ..< 2 {
            let xs = try x.slice(dim: 0, start: h * 4, end: h * 4 + 4),
                ys = try y.slice(dim: 0, start: h * 4, end: h * 4 + 4)
            try (mseLoss(lin(xs), ys) / 2).backward()
        }
        #expect(try maxRel(lin.weight.grad!, full) < 1e-6)
    }
}
