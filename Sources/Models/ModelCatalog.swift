import NN
import Torch

/// What a named model is for: `stmae pretrain` (`(x, mask) → loss`) or `stmae finetune`
/// (`x [N, 3, T, H, W] → logits`).
public enum ModelKind: String, Sendable { case pretrainer, classifier }

/// The model family of a catalogue entry.
public enum ModelFamily: String, Sendable, CaseIterable {
    /// `MaskedAutoencoderViT` (mae_st).
    case maeST = "MAE-ST"
    /// `VisionTransformer` with mae_st's layout (cls token, learned separable positions).
    case vit = "ViT"
    /// `VisionTransformer` with Hugging Face VideoMAE's layout (sinusoid positions, no cls token, q/v bias).
    case videoMAE = "VideoMAE-layout ViT"
    case timesformer = "TimeSformer"
    case vivit = "ViViT"
    case maskFeat = "MaskFeat"
}

/// A named model's config, one case per model type.
public enum ModelConfig: Equatable, Sendable {
    case mae(MAEConfig)
    case vit(ViTConfig)
    case timesformer(TimeSformerConfig)
    case vivit(ViViTConfig)
    case maskfeat(MaskFeatConfig)

    /// The config with snake_case keys replaced (see `updating`; unknown keys are an error naming them).
    public func updating(_ kw: [String: Any]) throws -> ModelConfig {
        guard !kw.isEmpty else { return self }
        switch self {
        case .mae(let c): return .mae(try c.updating(kw))
        case .vit(let c): return .vit(try c.updating(kw))
        case .timesformer(let c): return .timesformer(try c.updating(kw))
        case .vivit(let c): return .vivit(try c.updating(kw))
        case .maskfeat(let c): return .maskfeat(try c.updating(kw))
        }
    }

    /// The shared size fields (see `ViTSized`).
    public var sized: any ViTSized {
        switch self {
        case .mae(let c): c
        case .vit(let c): c
        case .timesformer(let c): c
        case .vivit(let c): c
        case .maskfeat(let c): c
        }
    }

    /// The model, initialised from `generator`.
    public func make(generator: Generator? = nil) throws -> Module {
        switch self {
        case .mae(let c): try MaskedAutoencoderViT(c, generator: generator)
        case .vit(let c): try VisionTransformer(c, generator: generator)
        case .timesformer(let c): try TimeSformer(c, generator: generator)
        case .vivit(let c): try ViViT(c, generator: generator)
        case .maskfeat(let c): try MaskFeat(c, generator: generator)
        }
    }
}

/// How a model takes pre-trained weights (`stmae finetune --finetune`, `stmae pretrain --init_from`).
public enum PretrainedLoading: String, Sendable {
    /// None: trained from scratch or resumed from its own checkpoint (the MAE pre-trainers).
    case none
    /// `VisionTransformer.loadPretrained`: an MAE-ST / VideoMAE encoder or classifier in mae_st keys (.pth,
    /// .safetensors, stmae checkpoint, Hugging Face directory); positions resized, decoder dropped, head replaced.
    case vitEncoder
    /// Its own checkpoint, else an image ViT (patch kernel inflated) or a video MAE encoder (`initialiseFamily`).
    case family
}

/// One named model: what it is, its size, how it is built, loaded and exported.
public struct ModelEntry: Sendable {
    public let name: String
    public let kind: ModelKind
    public let family: ModelFamily
    /// The size it is built with (a row of `ModelSize`'s table, with the family's clip).
    public let size: ModelSize
    /// Other spellings, resolved in a context that wants this entry's kind: an MAE pre-trainer is also its encoder's
    /// name (`pretrain --model vit_base_patch16`), a ViT classifier also its pre-trainer's
    /// (`finetune --model mae_…`).
    public let aliases: [String]
    /// The variant, for `--help` (`divided space-time`).
    public let variant: String
    let build: @Sendable (ModelSize) -> ModelConfig

    /// The config by name, with the entry's size.
    public var config: ModelConfig { build(size) }

    /// The config with `overrides` (snake_case keys) applied.
    public func config(overrides: [String: Any]) throws -> ModelConfig { try config.updating(overrides) }

    /// Builds the model (see `ModelConfig.make`).
    public func make(overrides: [String: Any] = [:], generator: Generator? = nil) throws -> Module {
        try config(overrides: overrides).make(generator: generator)
    }

    /// An MAE-ST pre-trainer (`MaskedAutoencoderViT`).
    public var isMAE: Bool { family == .maeST }

    /// A `VisionTransformer` classifier (mae_st or VideoMAE layout).
    public var isViT: Bool { family == .vit || family == .videoMAE }

    /// Whether `FamilyRegistry.attentionMap` draws it (`stmae visualize --attention`).
    public var hasAttentionMap: Bool { family == .timesformer || family == .vivit }

    /// How it takes pre-trained weights.
    public var loading: PretrainedLoading {
        switch family {
        case .maeST: .none
        case .vit, .videoMAE: .vitEncoder
        case .timesformer, .vivit, .maskFeat: .family
        }
    }

    /// What `stmae convert` writes its weights as: `.pth` / `.safetensors` in its own keys; a Hugging Face VideoMAE
    /// directory for the VideoMAE layout only (an MAE-ST pre-trainer's encoder too once it has that layout:
    /// `--sincos_pos_embed --no_cls_token`).
    public var exports: [WeightsFormat] {
        family == .videoMAE ? [.torch, .safetensors, .huggingFace] : [.torch, .safetensors]
    }
}

/// Every accepted `--model` name (MAE-ST pre-trainers, ViT / VideoMAE-layout classifiers, TimeSformer, ViViT,
/// MaskFeat), each built from one row of `ModelSize`'s table. `MAEConfig.named`, `ViTConfig.named` and
/// `FamilyRegistry` are views onto it.
public enum ModelCatalog {
    public static let entries: [ModelEntry] = {
        var e: [ModelEntry] = []
        // `variant`: the config's attention type or model, shown with spaces for underscores
        func add(
            _ name: String, _ kind: ModelKind, _ family: ModelFamily, _ size: ModelSize, aliases: [String] = [],
            variant: String = "", _ build: @escaping @Sendable (ModelSize) -> ModelConfig
        ) {
            e.append(
                ModelEntry(
                    name: name, kind: kind, family: family, size: size, aliases: aliases,
                    variant: variant.replacingOccurrences(of: "_", with: " "), build: build))
        }
        // mae_st's sizes: the MAE-ST pre-trainer and its encoder as a classifier; the VideoMAE layout
        // (ViT-H: patch 16).
        let vitNames: [(String, ModelSize)] = [
            ("vit_tiny", .tiny), ("vit_small_patch16", .small), ("vit_base_patch16", .base),
            ("vit_large_patch16", .large), ("vit_huge_patch14", .huge)
        ]
        for (vit, size) in vitNames {
            add("mae_" + vit, .pretrainer, .maeST, size, aliases: [vit]) { s in
                var c = MAEConfig(); c.size = s
                if vit == "vit_tiny" {
                    (c.decoderEmbedDim, c.decoderDepth, c.decoderNumHeads, c.predTDim) = (128, 2, 4, 8)
                }
                return .mae(c)
            }
        }
        for (vit, size) in vitNames {
            add(vit, .classifier, .vit, size, aliases: ["mae_" + vit]) { s in
                var c = ViTConfig(); c.size = s; return .vit(c)
            }
        }
        for (n, size) in [
            ("small", ModelSize.small), ("base", .base), ("large", .large), ("huge", .huge.with(patchSize: 16))
        ] {
            add("videomae_vit_\(n)_patch16", .classifier, .videoMAE, size) { s in
                var c = ViTConfig(); c.size = s; c.makeVideoMAE(); return .vit(c)
            }
        }
        // TimeSformer 8×224 and ViViT 32×224 tubelet 2 (the papers' ViT-B/16 defaults), MaskFeat 16×224.
        for (suffix, type) in [
            ("", "divided_space_time"), ("_joint", "joint_space_time"), ("_space_only", "space_only")
        ] {
            let name = "timesformer_base_patch16_224" + suffix
            add(name, .classifier, .timesformer, .base.with(numFrames: 8), variant: type) { s in
                var c = TimeSformerConfig(); c.size = s; c.attentionType = type; return .timesformer(c)
            }
        }
        add("timesformer_tiny", .classifier, .timesformer, .tiny, variant: "divided space time") { s in
            var c = TimeSformerConfig(); c.size = s; c.numClasses = 10; return .timesformer(c)
        }
        for (suffix, model) in [("fe", "fact_encoder"), ("st", "joint_space_time"), ("fsa", "divided_space_time")] {
            add("vivit_base_" + suffix, .classifier, .vivit, .base.with(numFrames: 32), variant: model) { s in
                var c = ViViTConfig(); c.size = s; c.model = model; return .vivit(c)
            }
        }
        add("vivit_tiny_fe", .classifier, .vivit, .tiny, variant: "fact encoder") { s in
            var c = ViViTConfig(); c.size = s; (c.temporalDepth, c.numClasses) = (2, 10); return .vivit(c)
        }
        for (n, size) in [("tiny", ModelSize.tiny), ("base", .base), ("large", .large)] {
            add("maskfeat_vit_" + n, .pretrainer, .maskFeat, size) { s in
                var c = MaskFeatConfig(); c.size = s; return .maskfeat(c)
            }
        }
        return e
    }()

    /// Every name (aliases not included), in catalogue order.
    public static var names: [String] { entries.map(\.name) }

    /// The names of one kind and/or family.
    public static func names(kind: ModelKind? = nil, family: ModelFamily? = nil) -> [String] {
        entries.filter { (kind == nil || $0.kind == kind) && (family == nil || $0.family == family) }.map(\.name)
    }

    /// The entry of `name` or an alias; where both an entry and another's alias match, the one of `kind` (else the
    /// exact name). nil for unknown names.
    public static func entry(_ name: String, for kind: ModelKind? = nil) -> ModelEntry? {
        let matches = entries.filter { $0.name == name || $0.aliases.contains(name) }
        return matches.first { $0.kind == kind } ?? matches.first { $0.name == name } ?? matches.first
    }

    /// `entry`, or an error listing the names of `kind`.
    public static func named(_ name: String, for kind: ModelKind? = nil) throws -> ModelEntry {
        guard let e = entry(name, for: kind) else {
            throw ConfigError("unknown model '\(name)': expected one of \(names(kind: kind).joined(separator: ", "))")
        }
        return e
    }

    /// The names of `kind` grouped by family, for `--help`:
    /// `mae_vit_tiny | … (MAE-ST); maskfeat_vit_base | … (MaskFeat)`.
    public static func helpText(kind: ModelKind) -> String {
        ModelFamily.allCases.compactMap { f in
            let n = names(kind: kind, family: f)
            return n.isEmpty ? nil : n.joined(separator: " | ") + " (\(f.rawValue))"
        }.joined(separator: "; ")
    }
}

extension MAEConfig {
    /// The MAE-ST pre-trainer of a catalogue name: `mae_vit_{small,base,large}_patch16`, `mae_vit_huge_patch14`,
    /// `mae_vit_tiny` (tests) — the `vit_*` forms are accepted too.
    public static func named(_ name: String) throws -> MAEConfig {
        guard case .mae(let c)? = ModelCatalog.entry(name, for: .pretrainer)?.config else {
            throw ConfigError(
                "unknown model '\(name)': expected one of \(ModelCatalog.names(family: .maeST).joined(separator: ", "))"
            )
        }
        return c
    }
}

extension ViTConfig {
    /// The ViT classifier of a catalogue name: mae_st's (`vit_{small,base,large}_patch16`, `vit_huge_patch14`,
    /// `vit_tiny`; the `mae_vit_*` forms too) and the HF-VideoMAE layout
    /// (`videomae_vit_{small,base,large,huge}_patch16`: sinusoid positions, no cls token, q/v bias, mean pool).
    public static func named(_ name: String) throws -> ViTConfig {
        guard case .vit(let c)? = ModelCatalog.entry(name, for: .classifier)?.config else {
            let vits = ModelCatalog.entries.filter(\.isViT).map(\.name)
            throw ConfigError("unknown model '\(name)': expected one of \(vits.joined(separator: ", "))")
        }
        return c
    }
}
