import Foundation
import TestSupport
import Testing
import Torch
@testable import NN

struct ModuleTests {
    @Test func stateDictKeysFollowCheckpointNames() throws {
        let b = try Block(dim: 8, heads: 2)
        let keys = b.namedTensors().map(\.0)
        #expect(
            keys == [
                "norm1.weight", "norm1.bias", "attn.q.weight", "attn.q.bias", "attn.k.weight", "attn.k.bias",
                "attn.v.weight", "attn.v.bias", "attn.proj.weight", "attn.proj.bias", "norm2.weight", "norm2.bias",
                "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"
            ])
        let hf = try Attention(dim: 8, heads: 2, projection: .fusedQVBias)
        #expect(hf.namedTensors().map(\.0) == ["qkv.weight", "q_bias", "v_bias", "proj.weight", "proj.bias"])
        #expect(snakeCase("posEmbedSpatial") == "pos_embed_spatial" && snakeCase("fc1") == "fc1")
        #expect(b.parameterCount == 4 * 8 * 8 + 4 * 8 + 2 * 8 * 32 + 32 + 8 + 4 * 8)
    }

    @Test func loadStateDictReportsEveryProblem() throws {
        let a = try Linear(4, 3), b = try Linear(4, 3)
        try b.loadStateDict(Dictionary(uniqueKeysWithValues: a.stateDict()))
        #expect(try maxRel(b.weight, a.weight) == 0)
        let bad: [String: Tensor] = ["weight": try Tensor.zeros([3, 5]), "extra": try Tensor.zeros([1])]
        #expect { try b.loadStateDict(bad) } throws: { e in
            let m = "\(e)"
            return m.contains("missing keys (1): bias") && m.contains("unexpected keys (1): extra")
                && m.contains("weight: checkpoint [3, 5], model [3, 4]")
        }
        let r = try b.loadStateDict(bad, strict: false)
        #expect(r.missing == ["bias"] && r.unexpected == ["extra"] && r.mismatched.count == 1 && r.loaded.isEmpty)
    }

    /// Fused qkv (timm) and VideoMAE's q/v-bias layout compute the same attention as separate q, k, v.
    @Test func attentionLayoutsAgree() throws {
        let sep = try Attention(dim: 8, heads: 2), fused = try Attention(dim: 8, heads: 2, projection: .fused)
        let hf = try Attention(dim: 8, heads: 2, projection: .fusedQVBias)
        try withNoGrad {
            let w = try Tensor.cat([sep.q!.weight, sep.k!.weight, sep.v!.weight])
            try fused.qkv!.weight.copy_(w); try hf.qkv!.weight.copy_(w)
            try fused.qkv!.bias!.copy_(Tensor.cat([sep.q!.bias!, sep.k!.bias!, sep.v!.bias!]))
            try sep.k!.bias!.zero_()
            try hf.qBias!.copy_(sep.q!.bias!); try hf.vBias!.copy_(sep.v!.bias!)
            for a in [fused, hf] { try a.proj.weight.copy_(sep.proj.weight); try a.proj.bias!.copy_(sep.proj.bias!) }
            try fused.qkv!.bias!.slice(dim: 0, start: 8, end: 16).zero_()
        }
        let x = try Tensor.randn([2, 5, 8])
        let y = try sep(x)
        #expect(try maxRel(fused(x), y) < 1e-5)
        #expect(try maxRel(hf(x), y) < 1e-5)
    }

    @Test func initialisers() throws {
        let g = try Generator(seed: 0)
        let w = try Tensor.empty([256, 512])
        try Init.xavierUniform(w, generator: g)
        let bound = (6.0 / 768).squareRoot()
        let v = try w.toArray(Float.self)
        #expect(v.allSatisfy { abs(Double($0)) <= bound })
        #expect(abs(try w.variance().item() - bound * bound / 3) < 0.02 * bound * bound / 3)
        let conv = try Tensor.empty([64, 3, 2, 4, 4])  // fans as the 2-D view [64, 96]
        try Init.xavierUniform(conv, generator: g)
        #expect(try conv.abs().amax(dims: [0, 1, 2, 3, 4]).item() <= (6.0 / 160).squareRoot())
        let t = try Tensor.empty([100_000])
        try Init.truncNormal(t, std: 0.02, generator: g)
        #expect(abs(try t.variance().item().squareRoot() - 0.02) < 0.0005)
        #expect(abs(try t.mean().item()) < 0.0005)
        let t2 = try Tensor.empty([10_000])
        try Init.truncNormal(t2, std: 1, a: -0.5, b: 0.5, generator: g)
        #expect(try t2.abs().amax(dims: [0]).item() <= 0.5)
    }

    @Test func dropPathAndDropoutModes() throws {
        let dp = DropPath(0.25)
        let x = try Tensor.ones([4000, 3])
        let y = try dp(x)
        let rows = try y.select(dim: 1, index: 0).toArray(Float.self)
        let dropped = Double(rows.filter { $0 == 0 }.count) / 4000
        #expect(abs(dropped - 0.25) < 0.04)
        #expect(rows.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let b = try Block(dim: 8, heads: 2, dropPath: 0.5)
        b.eval()
        #expect(b.namedModules().allSatisfy { !$0.1.training })
        let z = try Tensor.randn([2, 3, 8])
        #expect(try maxRel(b(z), b(z)) == 0)
        #expect(try maxRel(dp.callAsFunction(x), x) > 0)
        dp.eval()
        #expect(try maxRel(dp(x), x) == 0)
    }
}
