import Foundation
import Testing
import TestSupport
import Datasets
import Models
import NN
import Torch
@testable import Training

/// Mixup/CutMix and one fine-tuning step against reference/make_finetune_fixtures.py.
struct FinetuneParityTests {
    @Test func mixupAndCutmixMatchReference() throws {
        let (t, meta) = try TensorFile.loadOrdered(fixturePath("mixup.safetensors", in: .module))
        let f = Dictionary(uniqueKeysWithValues: t)
        let cases = try JSONSerialization.jsonObject(with: Data(meta["cases"]!.utf8)) as! [String: [String: Any]]
        let x = f["input.x"]!, labels = try f["input.label"]!.toArray(Int64.self).map(Int.init)
        #expect(cases.count == 5)
        for (name, c) in cases {
            let d = MixDecision(
                lam: c["lam"] as! Double, useCutmix: c["use_cutmix"] as! Bool, cy: c["cy"] as! Int, cx: c["cx"] as! Int)
            var data = try x.toArray(Float.self)
            let lam = Mixup.mix(&data, shape: x.shape, decision: d)
            #expect(abs(lam - (try f["\(name).lam"]!.item())) < 1e-12, "\(name): lam \(lam)")
            #expect(try maxRel(Tensor(data, shape: x.shape), f["\(name).x"]!) < 1e-6, "\(name): mixed x")
            let target = Mixup.targets(labels: labels, numClasses: 5, lam: lam, smoothing: 0.1)
            #expect(try maxRel(Tensor(target, shape: [4, 5]), f["\(name).target"]!) < 1e-6, "\(name): targets")
        }
    }

    /// Cutmix batch → soft-target CE → grads → clip_grad → AdamW with MAE layer-decay groups == PyTorch.
    @Test func finetuneStepMatchesReference() throws {
        let (t, meta) = try TensorFile.loadOrdered(fixturePath("finetune_step.safetensors", in: .module))
        let f = Dictionary(uniqueKeysWithValues: t)
        let kwargs = try JSONSerialization.jsonObject(with: Data(meta["config"]!.utf8)) as! [String: Any]
        let model = try VisionTransformer(ViTConfig().updating(kwargs))
        var params: [String: Tensor] = [:]
        for (k, v) in f where k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
        try model.loadStateDict(params)
        model.train()  // dropout / drop path are 0 in the fixture

        let x = f["input.x"]!, labels = try f["input.label"]!.toArray(Int64.self).map(Int.init)
        var data = try x.toArray(Float.self)
        let lam = Mixup.mix(&data, shape: x.shape, decision: MixDecision(lam: 0.6, useCutmix: true, cy: 3, cx: 4))
        #expect(abs(lam - (try f["out.lam"]!.item())) < 1e-12)
        #expect(try maxRel(Tensor(data, shape: x.shape), f["mixed.x"]!) < 1e-6)
        let target = Mixup.targets(labels: labels, numClasses: 5, lam: lam, smoothing: 0.1)
        #expect(try maxRel(Tensor(target, shape: [4, 5]), f["mixed.target"]!) < 1e-6)

        let logits = try model(Tensor(data, shape: x.shape))
        #expect(try maxRel(logits, f["out.logits"]!) < 1e-4)
        let loss = try crossEntropy(logits, Tensor(target, shape: [4, 5]))  // probability targets = soft-target CE
        #expect(abs(try loss.item() - f["out.loss"]!.item()) < 1e-5)
        try loss.backward()
        for (k, p) in model.namedParameters() {
            let ref = f["grad." + k]!
            let d = try maxRel(p.grad!, ref)
            let scale = try ref.to(.float64).toArray(Double.self).map(abs).max() ?? 0
            #expect(d < 2e-4 || scale < 1e-6, "grad \(k): \(d)")
        }
        let depth = model.config.depth
        let groups = paramGroups(
            model.namedParameters(), weightDecay: 0.05, skip: model.noWeightDecay,
            layerDecay: 0.75, numLayers: depth + 1
        ) { VisionTransformer.layerId($0, depth: depth) }
        #expect(Set(groups.map(\.lrScale)) == Set([pow(0.75, 3), pow(0.75, 2), 0.75, 1]))
        let opt = AdamW(groups, lr: 1e-3)
        let norm = try Kernels.clipGradNorm(opt.grads(), maxNorm: Double(meta["clip_grad"]!)!)
        #expect(abs(norm - (try f["out.grad_norm"]!.item())) < 1e-4 * norm)
        try opt.step()
        for (k, p) in model.namedParameters() {
            let before = f["param." + k]!, after = f["after." + k]!
            // compare the update (after − before), which is ~lr·scale in size
            let mine = try p.detach() - before, ref = try after - before
            let gradScale = try f["grad." + k]!.to(.float64).toArray(Double.self).map(abs).max() ?? 0
            if gradScale < 1e-6 {
                // analytically zero gradient (attn.k.bias: softmax ignores a per-query constant): the gradient is
                // rounding noise whose sign varies with the thread count, so Adam's first step is ±(≤ lr) per
                // element
                let biggest = try mine.abs().to(.float64).toArray(Double.self).max() ?? 0
                #expect(biggest <= 1e-3 * 1.001, "update of \(k) (zero gradient): \(biggest) > lr")
                continue
            }
            let d = try maxRel(mine, ref)
            #expect(d < 2e-3, "update of \(k): \(d)")
        }
    }
}
