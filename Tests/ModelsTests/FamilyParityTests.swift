import Foundation
import Testing
import TestSupport
import Torch
@testable import Models
@testable import NN

/// Compares every parameter gradient with the fixture's `grad.*` (1e-4 relative; analytically-zero ones by magnitude).
func expectGradients(_ model: Module, _ c: Case, _ name: String) throws {
    var checked = 0
    for (key, p) in model.namedParameters() {
        guard let ref = c.t["grad.\(key)"] else { Issue.record("\(name): no reference gradient for \(key)"); continue }
        guard let g = p.grad else { Issue.record("\(name): no gradient for \(key)"); continue }
        if try maxAbs(ref) < 1e-6 {
            #expect(try maxAbs(g) < 1e-5, "\(name): grad \(key) should be ~0")
        } else {
            let d = try maxRel(g, ref)
            #expect(d < 1e-4, "\(name): grad \(key) differs by \(d)")
        }
        checked += 1
    }
    #expect(checked == c.params.count, "\(name): checked \(checked) of \(c.params.count) gradients")
}

/// TimeSformer / ViViT / MaskFeat against the PyTorch references (reference/models_{timesformer,vivit,maskfeat}.py,
/// fixtures from reference/make_family_fixtures.py): logits or loss/pred/target, the last block's attention map and
/// every gradient within 1e-4.
struct FamilyParityTests {
    @Test(arguments: ["ts_divided", "ts_joint", "ts_space_only"])
    func timesformer(_ name: String) throws {
        let c = try Case("family_" + name), model = try TimeSformer(TimeSformerConfig().updating(c.kwargs))
        try expectClassifier(model, c, name, attentionMap: model.attentionMap) { try model($0) }
    }

    @Test(arguments: ["vivit_fe", "vivit_joint", "vivit_fsa"])
    func vivit(_ name: String) throws {
        let c = try Case("family_" + name), model = try ViViT(ViViTConfig().updating(c.kwargs))
        try expectClassifier(model, c, name, attentionMap: model.attentionMap) { try model($0) }
    }

    /// Loads the fixture's weights, then checks the last block's attention map, logits, loss and every gradient.
    func expectClassifier(
        _ model: Module, _ c: Case, _ name: String, attentionMap: (Tensor) throws -> Tensor,
        _ forward: (Tensor) throws -> Tensor
    ) throws {
        try model.loadStateDict(c.params)
        #expect(try maxRel(attentionMap(c.t["input.x"]!), c.t["out.attn_map"]!) < 1e-4, "\(name): attention map")
        let logits = try forward(c.t["input.x"]!)
        #expect(try maxRel(logits, c.t["out.logits"]!) < 1e-4, "\(name): logits")
        let loss = try crossEntropy(logits, c.t["input.label"]!)
        let (l0, l1) = (try loss.item(), try c.t["out.loss"]!.item())
        #expect(abs(l0 - l1) <= 1e-4 * abs(l1), "\(name): loss \(l0) vs \(l1)")
        try loss.backward()
        try expectGradients(model, c, name)
    }

    @Test func maskfeat() throws {
        let c = try Case("family_maskfeat")
        let model = try MaskFeat(MaskFeatConfig().updating(c.kwargs))
        try model.loadStateDict(c.params)
        let (loss, pred, target) = try model(c.t["input.x"]!, mask: c.t["input.mask"]!)
        #expect(try maxRel(target, c.t["out.target"]!) < 1e-5, "maskfeat: HOG target")
        #expect(try maxRel(pred, c.t["out.pred"]!) < 1e-4, "maskfeat: pred")
        let (l0, l1) = (try loss.item(), try c.t["out.loss"]!.item())
        #expect(abs(l0 - l1) <= 1e-4 * abs(l1), "maskfeat: loss \(l0) vs \(l1)")
        try loss.backward()
        try expectGradients(model, c, "maskfeat")
    }

    /// HOG vs scikit-image's `hog` (stored in the fixture; per channel, 9 bins, 8×8 cells, 2×2-cell L2 blocks at
    /// patch positions) on 8-bit-valued 32×48 frames.
    @Test func hogMatchesScikitImage() throws {
        let path = fixturePath("family_hog.safetensors", in: .module)
        let t = Dictionary(uniqueKeysWithValues: try TensorFile.loadOrdered(path).0)
        let frames = t["input.frames"]!
        let h = try HOG()(frames)
        #expect(h.shape == [2, 6, 108])
        #expect(try maxRel(h, t["out.hog"]!) < 1e-5)
        #expect(try maxRel(h, t["out.hog_torch"]!) < 1e-6)
        // float64 input gives the same histogram bins (the orientation is computed in Double either way)
        #expect(try maxRel(HOG()(frames.to(.float64)), t["out.hog"]!) < 1e-5)
        #expect(throws: TorchError.self) { try HOG()(frames.slice(dim: 3, end: 40)) }
    }
}
