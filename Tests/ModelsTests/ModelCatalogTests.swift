import Foundation
import Testing
import Torch
@testable import Models
@testable import NN

/// The one model catalogue: every name `--help` lists and every name accepted before it resolves and builds, each
/// from a row of the one size table, which checkpoint head inference reads too.
@Suite struct ModelCatalogTests {
    /// The names `stmae pretrain` / `finetune` / `visualize --attention` accepted before the catalogue.
    static let acceptedNames: [(String, ModelKind)] =
        [
            "mae_vit_tiny", "mae_vit_small_patch16", "mae_vit_base_patch16", "mae_vit_large_patch16",
            "mae_vit_huge_patch14",
            "vit_tiny", "vit_small_patch16", "vit_base_patch16", "vit_large_patch16", "vit_huge_patch14",
            "maskfeat_vit_tiny", "maskfeat_vit_base", "maskfeat_vit_large"
        ].map { ($0, .pretrainer) }
        + [
            "vit_tiny", "mae_vit_tiny", "vit_small_patch16", "vit_base_patch16", "vit_large_patch16",
            "vit_huge_patch14",
            "mae_vit_base_patch16", "videomae_vit_small_patch16", "videomae_vit_base_patch16",
            "videomae_vit_large_patch16",
            "videomae_vit_huge_patch16", "timesformer_base_patch16_224", "timesformer_base_patch16_224_joint",
            "timesformer_base_patch16_224_space_only", "timesformer_tiny", "vivit_base_fe", "vivit_base_st",
            "vivit_base_fsa",
            "vivit_tiny_fe"
        ].map { ($0, .classifier) }

    /// The names in a `--help` text (`a | b (Family); c (Other)`).
    func helpNames(_ kind: ModelKind) -> [String] {
        ModelCatalog.helpText(kind: kind).split(separator: ";").flatMap { group in
            group.split(separator: "(")[0].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    @Test func helpListsEveryEntryOnce() {
        let listed = helpNames(.pretrainer) + helpNames(.classifier)
        #expect(listed.sorted() == ModelCatalog.names.sorted())
        #expect(Set(ModelCatalog.names).count == ModelCatalog.entries.count)
        for kind in [ModelKind.pretrainer, .classifier] {
            for name in helpNames(kind) { #expect(ModelCatalog.entry(name, for: kind)?.kind == kind, "\(name)") }
        }
    }

    @Test func namesAcceptedBeforeStillResolve() throws {
        for (name, kind) in Self.acceptedNames {
            let e = try ModelCatalog.named(name, for: kind)
            #expect(e.kind == kind, "\(name)")
        }
        #expect(try ModelCatalog.named("vit_base_patch16", for: .pretrainer).name == "mae_vit_base_patch16")
        #expect(try ModelCatalog.named("mae_vit_base_patch16", for: .classifier).name == "vit_base_patch16")
        #expect(try MAEConfig.named("vit_huge_patch14") == MAEConfig.named("mae_vit_huge_patch14"))
        #expect(try ViTConfig.named("mae_vit_tiny") == ViTConfig.encoder(of: MAEConfig.named("mae_vit_tiny")))
        #expect { try ModelCatalog.named("vit_gigantic") } throws: { "\($0)".contains("unknown model 'vit_gigantic'") }
        #expect(throws: ConfigError.self) { try MAEConfig.named("maskfeat_vit_base") }
        #expect(throws: ConfigError.self) { try ViTConfig.named("timesformer_tiny") }
    }

    /// Each entry's config has the entry's size, and builds (one block per stack: the full-size models take seconds).
    @Test func everyEntryBuildsAtItsSize() throws {
        for e in ModelCatalog.entries {
            let c = e.config
            #expect(c.sized.size == e.size, "\(e.name)")
            var kw: [String: Any] = e.size == .tiny ? [:] : ["depth": 1]
            switch c {
            case .mae: if e.size != .tiny { kw["decoder_depth"] = 1 }
            case .vivit: if e.size != .tiny { kw["temporal_depth"] = 1 }
            default: break
            }
            let m = try e.make(overrides: kw, generator: Generator(seed: 0))
            switch e.family {
            case .maeST: #expect(m is MaskedAutoencoderViT && e.kind == .pretrainer && e.isMAE)
            case .vit, .videoMAE: #expect(m is VisionTransformer && e.kind == .classifier && e.isViT)
            case .timesformer: #expect(m is TimeSformer && e.hasAttentionMap)
            case .vivit: #expect(m is ViViT && e.hasAttentionMap)
            case .maskFeat: #expect(m is MaskFeat && e.kind == .pretrainer && !e.isMAE)
            }
            #expect(e.exports.contains(.huggingFace) == (e.family == .videoMAE), "\(e.name)")
        }
        #expect(
            FamilyRegistry.names
                == ModelCatalog.entries.filter { [.timesformer, .vivit, .maskFeat].contains($0.family) }.map(\.name)
                .sorted())
    }

    /// The config types' defaults are rows of the table (MAE: ViT-L/16 as mae_st; the families their papers' clips).
    @Test func configDefaultsAreTableRows() {
        #expect(MAEConfig().size == .large)
        #expect(ViTConfig().size == .base)
        #expect(TimeSformerConfig().size == ModelSize.base.with(numFrames: 8))
        #expect(ViViTConfig().size == ModelSize.base.with(numFrames: 32))
        #expect(MaskFeatConfig().size == .base)
    }

    /// Sizes read from a checkpoint take their head count from the same table as the names.
    @Test func inferredSizesUseTheTable() throws {
        for size in ModelSize.standard {
            var state: [(String, Tensor)] = [
                ("patch_embed.proj.weight", try Tensor.zeros([size.embedDim, 3, 2, size.patchSize, size.patchSize])),
                ("blocks.0.mlp.fc1.weight", try Tensor.zeros([4 * size.embedDim, size.embedDim]))
            ]
            for i in 0 ..< size.depth { state.append(("blocks.\(i).norm1.weight", try Tensor.zeros([1]))) }
            let c = try ViTConfig.inferred(from: state, imgSize: size.imgSize, numFrames: size.numFrames)
            #expect(c.size == size, "\(size)")
            #expect(ViTConfig.standardSizesText.contains(size.sizesText))
        }
        for e in ModelCatalog.entries where e.isMAE || e.isViT {
            #expect(ViTConfig.standardNumHeads(model: e.name) == e.size.numHeads)
            #expect(ModelSize.standard(embedDim: e.size.embedDim, depth: e.size.depth)?.numHeads == e.size.numHeads)
        }
    }
}
