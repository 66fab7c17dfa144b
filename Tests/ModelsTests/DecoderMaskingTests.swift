import Foundation
import Testing
import TestSupport
import Torch
@testable import Models

/// MAE dual masking (decoder masking) against reference/models_mae_st.py (fixtures: reference/make_decmask_fixture.py).
struct DecoderMaskingTests {
    @Test(arguments: ["mae_decmask", "mae_decmask_cls_tube"])
    func parity(_ name: String) throws {
        let c = try Case(name)
        let model = try MaskedAutoencoderViT(MAEConfig().updating(c.kwargs))
        try model.loadStateDict(c.params)
        let x = c.t["input.x"]!, noise = c.t["input.noise"]!, dn = c.t["input.decoder_noise"]!
        let m = try masking(
            model.maskType, noise: noise, ratio: model.config.maskRatio, tGrid: model.tGrid, sGrid: model.sGrid)
        let ids = try decoderMasking(mask: m.mask, decoderNoise: dn, ratio: model.config.decoderMaskRatio)
        #expect(try ids.toArray(Int64.self) == c.t["out.ids_decode"]!.toArray(Int64.self), "\(name): ids_decode")
        // decoded tokens are masked ones
        let picked = try m.mask.gather(dim: 1, index: ids)
        #expect(try picked.sum().item() == Double(ids.count))
        let (loss, pred, _) = try model(x, noise: noise, decoderNoise: dn)
        let (l0, l1) = (try loss.item(), try c.t["out.loss"]!.item())
        #expect(abs(l0 - l1) <= 1e-4 * abs(l1), "\(name): loss \(l0) vs \(l1)")
        #expect(try maxRel(pred, c.t["out.pred"]!) < 1e-4, "\(name): pred")
        try loss.backward()
        try expectGradients(model, c, name)
        // without decoder noise the model is plain MAE (every masked token decoded)
        let (_, full, _) = try model(x, noise: noise)
        #expect(full.size(1) == model.tGrid * model.sGrid)
    }
}
