import Foundation
import Testing
import TestSupport
import Torch
@testable import NN

/// Two bare parameters, as reference/make_gradscaler_fixture.py holds them.
final class TwoParams: Module {
    var training = true
    let p0: Tensor, p1: Tensor
    init(_ a: Tensor, _ b: Tensor) throws {
        p0 = try a.clone().requiresGrad(true)
        p1 = try b.clone().requiresGrad(true)
    }
}

struct GradScalerTests {
    /// 9 steps of scale → backward → unscale → clip → step → update against torch.amp.GradScaler("cpu") with
    /// fused AdamW: the planted inf of step 4 skips the step and halves the scale; growth_interval 3 clean steps
    /// double it; the parameters, norms, scales and growth trackers match after every step.
    @Test func matchesTorchGradScaler() throws {
        let f = try TensorFile.load(fixturePath("gradscaler.safetensors", in: .module))
        let m = try TwoParams(f["p0"]!, f["p1"]!)
        let opt = AdamW(
            [ParamGroup(names: ["p0", "p1"], params: [m.p0, m.p1], weightDecay: 0.05)], lr: 1e-2, betas: (0.9, 0.95))
        let scaler = try GradScaler(initScale: 1024, growthInterval: 3)
        var skipped: [Int] = []
        for k in 0 ..< 9 {
            let loss = try (m.p0 * f["step\(k).g0"]!).sum() + (m.p1 * f["step\(k).g1"]!).sum()
            try opt.zeroGrad()
            try scaler.scale(loss).backward()
            try scaler.unscale(opt)
            let norm = try Kernels.clipGradNorm(opt.grads(), maxNorm: 1.0)
            let stepped = try scaler.step(opt)
            try scaler.update()
            if !stepped { skipped.append(k) }
            #expect(stepped == (try f["step\(k).stepped"]!.itemInt() == 1), "step \(k)")
            let refNorm = try f["step\(k).norm"]!.item()
            #expect(refNorm.isFinite ? abs(norm - refNorm) <= 1e-5 * refNorm : !norm.isFinite, "step \(k) norm")
            #expect(try scaler.currentScale == f["step\(k).scale"]!.item(), "step \(k) scale")
            #expect(try scaler.state().growthTracker == f["step\(k).growth_tracker"]!.itemInt(), "step \(k) tracker")
            #expect(try maxRel(m.p0, f["step\(k).p0"]!) <= 1e-6, "step \(k) p0")
            #expect(try maxRel(m.p1, f["step\(k).p1"]!) <= 1e-6, "step \(k) p1")
        }
        #expect(skipped == [4])
        #expect(try scaler.state() == GradScalerState(scale: 2048, growthTracker: 1))
    }

    /// torch's defaults (init 65536, ×2 / ×0.5, interval 2000); the saved state restores the scale and tracker;
    /// misuse and bad settings are errors.
    @Test func stateRoundTripsAndMisuseIsAnError() throws {
        let m = try TwoParams(Tensor.ones([2]), Tensor.ones([1]))
        let opt = AdamW([ParamGroup(names: ["p0", "p1"], params: [m.p0, m.p1], weightDecay: 0)], lr: 0.1)
        let s = try GradScaler()
        #expect(s.growthFactor == 2 && s.backoffFactor == 0.5 && s.growthInterval == 2000)
        #expect(try s.currentScale == 65536)
        #expect { try s.update() } throws: { "\($0)".contains("before any scale") }
        // an inf gradient: skipped, halved
        try (s.scale(m.p0.sum() * Double.infinity)).backward()
        #expect(try s.step(opt) == false)
        try s.update()
        #expect(try s.state() == GradScalerState(scale: 32768, growthTracker: 0))
        #expect(try m.p0.toArray(Float.self) == [1, 1])
        try opt.zeroGrad()
        try s.scale(m.p0.sum()).backward()
        #expect(try s.step(opt))
        #expect { try s.step(opt) } throws: { "\($0)".contains("twice") }
        try s.update()
        #expect(try s.state() == GradScalerState(scale: 32768, growthTracker: 1))
        let restored = try GradScaler()
        try restored.load(s.state())
        #expect(try restored.currentScale == 32768)
        _ = try restored.scale(m.p0.sum())
        #expect(try restored.state() == GradScalerState(scale: 32768, growthTracker: 1))
        #expect { try GradScaler(backoffFactor: 2) } throws: { "\($0)".contains("backoff_factor") }
        #expect { try restored.load(GradScalerState(scale: -1, growthTracker: 0)) } throws: { _ in true }
        let json = try JSONEncoder().encode(GradScalerState(scale: 8, growthTracker: 3))
        #expect(String(decoding: json, as: UTF8.self).contains("\"growth_tracker\":3"))
    }
}
