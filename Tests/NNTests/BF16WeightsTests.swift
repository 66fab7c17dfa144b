import Foundation
import TestSupport
import Testing
import Torch
@testable import NN

struct BF16WeightsTests {
    /// Two blocks with the same weights, trained 3 steps in bf16 (accumulating 2 micro-batches per step): autocast's
    /// per-use casts vs bf16 weight copies give the same losses and weights — the copies only skip the casts.
    @Test func copiesTrainLikeAutocast() throws {
        let a = try Block(dim: 32, heads: 4), b = try Block(dim: 32, heads: 4)
        try b.loadStateDict(Dictionary(uniqueKeysWithValues: a.stateDict()))
        func optimizer(_ m: Block) -> AdamW { AdamW(paramGroups(m.namedParameters(), weightDecay: 0.05), lr: 1e-2) }
        let (oa, ob) = (optimizer(a), optimizer(b))
        #expect(
            try BF16Weights(b, backend: .openBLAS).count == 0 && b.attn.proj.weightCopy == nil, "OpenBLAS rounds at use"
        )
        let copies = try BF16Weights(b, backend: .libtorch)
        #expect(copies.count == 6 && b.attn.proj.weightCopy?.value.dtype == .bfloat16)
        #expect(!b.namedTensors().contains { $0.0.contains("copy") }, "copies are not in the state dict")
        let xs = try (0 ..< 6).map { try Tensor.randn([2, 10, 32], generator: Generator(seed: UInt64($0))) }
        for step in 0 ..< 3 {
            var la = 0.0, lb = 0.0
            for micro in 0 ..< 2 {
                let x = xs[step * 2 + micro]
                let ya = try withAutocast(enabled: true) { try a(x).square().mean() }
                let yb = try withAutocast(enabled: true) { try b(x).square().mean() }
                try ya.backward(); try yb.backward()
                la += try ya.item(); lb += try yb.item()
            }
            #expect(la == lb, "step \(step): loss \(la) vs \(lb)")
            #expect(b.attn.proj.weight.grad?.dtype == .float32 && b.attn.proj.weightCopy?.value.grad == nil)
            let ga = try #require(a.mlp.fc1.weight.grad), gb = try #require(b.mlp.fc1.weight.grad)
            #expect(try maxRel(gb, ga) < 1e-6, "step \(step): fc1 gradient")
            try oa.step(); try ob.step()
            try oa.zeroGrad(); try ob.zeroGrad()
            try copies.refresh()
        }
        for ((k, pa), (_, pb)) in zip(a.namedParameters(), b.namedParameters()) {
            #expect(try maxRel(pb, pa) < 1e-6, "\(k)")
        }
        copies.remove()
        #expect(b.mlp.fc2.weightCopy == nil)
    }

    /// Converting the Linear weights to bf16 for inference gives exactly autocast's output.
    @Test func inferenceConversionMatchesAutocast() throws {
        let m = try Block(dim: 32, heads: 4)
        m.eval()
        let x = try Tensor.randn([2, 10, 32], generator: Generator(seed: 9))
        let before = try withNoGrad { try withAutocast(enabled: true) { try m(x) } }
        #expect(try BF16Weights.convertForInference(m) == 6)
        #expect(
            m.mlp.fc1.weight.dtype == .bfloat16 && m.mlp.fc1.bias?.dtype == .float32 && m.norm1.weight.dtype == .float32
        )
        let after = try withNoGrad { try withAutocast(enabled: true) { try m(x) } }
        #expect(try (after.to(.float32) - before.to(.float32)).abs().sum().item() == 0)
    }
}
