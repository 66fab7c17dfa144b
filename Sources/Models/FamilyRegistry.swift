import Foundation
import NN
import Torch

/// The video-transformer family by name, for `--model` in the CLI. Classifiers (`TimeSformer`, `ViViT`) are
/// fine-tuning models (`x [N, 3, T, H, W] → logits`); `MaskFeat` is a pre-training model (`(x, mask) → loss`).
/// `overrides` are snake_case config keys (`num_classes`, `num_frames`, `img_size`, `drop_path_rate`, …); unknown keys
/// are an error naming them.
public enum FamilyRegistry {
    public enum Kind: String, Sendable { case classifier, pretrainer }

    public enum Config {
        case timesformer(TimeSformerConfig)
        case vivit(ViViTConfig)
        case maskfeat(MaskFeatConfig)
    }

    /// name → (kind, config); ViT-B defaults follow the papers (TimeSformer 8×224, ViViT 32×224 tubelet 2,
    /// MaskFeat 16×224 t_patch 2 mask 0.4). `*_tiny` are small variants for smoke tests.
    static let table: [String: (Kind, () -> Config)] = {
        func ts(_ type: String, tiny: Bool = false) -> () -> Config {
            { var c = TimeSformerConfig(); c.attentionType = type
              if tiny { (c.imgSize, c.embedDim, c.depth, c.numHeads, c.numClasses) = (64, 192, 4, 3, 10) }
              return .timesformer(c) }
        }
        func vv(_ model: String, tiny: Bool = false) -> () -> Config {
            { var c = ViViTConfig(); c.model = model
              if tiny { (c.imgSize, c.embedDim, c.depth, c.temporalDepth, c.numHeads, c.numFrames, c.numClasses) = (64, 192, 4, 2, 3, 8, 10) }
              return .vivit(c) }
        }
        func mf(_ d: Int, _ depth: Int, _ heads: Int, tiny: Bool = false) -> () -> Config {
            { var c = MaskFeatConfig(); (c.embedDim, c.depth, c.numHeads) = (d, depth, heads)
              if tiny { (c.imgSize, c.numFrames) = (64, 8) }
              return .maskfeat(c) }
        }
        return [
            "timesformer_base_patch16_224": (.classifier, ts("divided_space_time")),
            "timesformer_base_patch16_224_joint": (.classifier, ts("joint_space_time")),
            "timesformer_base_patch16_224_space_only": (.classifier, ts("space_only")),
            "timesformer_tiny": (.classifier, ts("divided_space_time", tiny: true)),
            "vivit_base_fe": (.classifier, vv("fact_encoder")),
            "vivit_base_st": (.classifier, vv("joint_space_time")),
            "vivit_base_fsa": (.classifier, vv("divided_space_time")),
            "vivit_tiny_fe": (.classifier, vv("fact_encoder", tiny: true)),
            "maskfeat_vit_base": (.pretrainer, mf(768, 12, 12)),
            "maskfeat_vit_large": (.pretrainer, mf(1024, 24, 16)),
            "maskfeat_vit_tiny": (.pretrainer, mf(192, 4, 3, tiny: true)),
        ]
    }()

    public static var names: [String] { table.keys.sorted() }

    public static func kind(of name: String) -> Kind? { table[name]?.0 }

    /// The config for `name` with `overrides` applied.
    public static func config(_ name: String, overrides: [String: Any] = [:]) throws -> Config {
        guard let entry = table[name] else {
            throw ConfigError("unknown model '\(name)': expected one of \(names.joined(separator: ", "))")
        }
        switch entry.1() {
        case .timesformer(let c): return .timesformer(try c.updating(overrides))
        case .vivit(let c): return .vivit(try c.updating(overrides))
        case .maskfeat(let c): return .maskfeat(try c.updating(overrides))
        }
    }

    /// Builds `name` (see `config`); cast to `TimeSformer` / `ViViT` / `MaskFeat` or use `classifier(_:)`.
    public static func make(_ name: String, overrides: [String: Any] = [:], generator: Generator? = nil) throws -> Module {
        switch try config(name, overrides: overrides) {
        case .timesformer(let c): return try TimeSformer(c, generator: generator)
        case .vivit(let c): return try ViViT(c, generator: generator)
        case .maskfeat(let c): return try MaskFeat(c, generator: generator)
        }
    }

    /// A classifier as a forward closure `x [N, 3, T, H, W] → logits` plus the module (for parameters / state dict).
    public static func classifier(_ name: String, overrides: [String: Any] = [:], generator: Generator? = nil) throws
        -> (module: Module, forward: (Tensor) throws -> Tensor) {
        let m = try make(name, overrides: overrides, generator: generator)
        if let t = m as? TimeSformer { return (t, { try t($0) }) }
        if let v = m as? ViViT { return (v, { try v($0) }) }
        throw ConfigError("'\(name)' is a pre-training model (MaskFeat), not a classifier: use it with `stmae pretrain`")
    }

    /// Initialises any family model from an image ViT checkpoint (timm or HF layout) with each model's default recipe.
    @discardableResult
    public static func initialiseFromImage(_ model: Module, state: [String: Tensor], inflation: PatchInflation = .centre,
                                           temporal: TemporalInit = .copy) throws -> LoadReport {
        switch model {
        case let t as TimeSformer: return try t.initialise(fromImage: state, temporal: temporal)
        case let v as ViViT: return try v.initialise(fromImage: state, inflation: inflation, temporal: temporal)
        case let m as MaskFeat: return try m.initialise(fromImage: state, inflation: inflation)
        default: throw ConfigError("initialisation from an image ViT is defined for TimeSformer, ViViT and MaskFeat")
        }
    }
}

extension FamilyRegistry {
    /// Initialises a ViViT or MaskFeat from a video MAE encoder (MAE-ST or VideoMAE checkpoint state).
    @discardableResult
    public static func initialiseFromVideo(_ model: Module, state: [String: Tensor]) throws -> LoadReport {
        switch model {
        case let v as ViViT: return try v.initialise(fromVideo: state)
        case let m as MaskFeat: return try m.initialise(fromVideo: state)
        default: throw ConfigError("initialisation from a video MAE encoder is defined for ViViT and MaskFeat (TimeSformer has 2-D patches)")
        }
    }

    /// The last block's attention map of a TimeSformer or ViViT: x [N, 3, T, H, W] → [N, T', S] (see their
    /// `attentionMap`).
    public static func attentionMap(_ model: Module, _ x: Tensor) throws -> Tensor {
        switch model {
        case let t as TimeSformer: return try t.attentionMap(x)
        case let v as ViViT: return try v.attentionMap(x)
        default: throw ConfigError("attention maps are available for TimeSformer and ViViT models")
        }
    }
}
