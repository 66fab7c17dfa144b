import Foundation
import NN
import Torch

/// The video-transformer family (TimeSformer, ViViT, MaskFeat): a view onto `ModelCatalog`'s entries of those
/// families, plus the initialisation and attention-map dispatch over their model types. Classifiers (`TimeSformer`,
/// `ViViT`) are fine-tuning models (`x [N, 3, T, H, W] → logits`); `MaskFeat` is a pre-training model
/// (`(x, mask) → loss`). `overrides` are snake_case config keys (`num_classes`, `num_frames`, `img_size`,
/// `drop_path_rate`, …); unknown keys are an error naming them.
public enum FamilyRegistry {
    public typealias Kind = ModelKind

    public enum Config {
        case timesformer(TimeSformerConfig)
        case vivit(ViViTConfig)
        case maskfeat(MaskFeatConfig)
    }

    static let families: Set<ModelFamily> = [.timesformer, .vivit, .maskFeat]

    static func entry(_ name: String) -> ModelEntry? {
        ModelCatalog.entry(name).flatMap { families.contains($0.family) ? $0 : nil }
    }

    public static var names: [String] {
        ModelCatalog.entries.filter { families.contains($0.family) }.map(\.name).sorted()
    }

    public static func kind(of name: String) -> Kind? { entry(name)?.kind }

    /// The config for `name` with `overrides` applied.
    public static func config(_ name: String, overrides: [String: Any] = [:]) throws -> Config {
        guard let e = entry(name) else {
            throw ConfigError("unknown model '\(name)': expected one of \(names.joined(separator: ", "))")
        }
        switch try e.config(overrides: overrides) {
        case .timesformer(let c): return .timesformer(c)
        case .vivit(let c): return .vivit(c)
        case .maskfeat(let c): return .maskfeat(c)
        case .mae, .vit: throw ConfigError("'\(name)' is no TimeSformer, ViViT or MaskFeat model")
        }
    }

    /// Builds `name` (see `config`); cast to `TimeSformer` / `ViViT` / `MaskFeat` or use `classifier(_:)`.
    public static func make(_ name: String, overrides: [String: Any] = [:], generator: Generator? = nil) throws
        -> Module
    {
        _ = try config(name)
        return try ModelCatalog.named(name).make(overrides: overrides, generator: generator)
    }

    /// A classifier as a forward closure `x [N, 3, T, H, W] → logits` plus the module (for parameters / state dict).
    public static func classifier(_ name: String, overrides: [String: Any] = [:], generator: Generator? = nil) throws
        -> (module: Module, forward: (Tensor) throws -> Tensor)
    {
        let m = try make(name, overrides: overrides, generator: generator)
        if let t = m as? TimeSformer { return (t, { try t($0) }) }
        if let v = m as? ViViT { return (v, { try v($0) }) }
        throw ConfigError(
            "'\(name)' is a pre-training model (MaskFeat), not a classifier: use it with `stmae pretrain`")
    }

    /// Initialises any family model from an image ViT checkpoint (timm or HF layout) with each model's default recipe.
    @discardableResult
    public static func initialiseFromImage(
        _ model: Module, state: [String: Tensor], inflation: PatchInflation = .centre,
        temporal: TemporalInit = .copy
    ) throws -> LoadReport {
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
        default:
            throw ConfigError(
                "initialisation from a video MAE encoder is defined for ViViT and MaskFeat "
                    + "(TimeSformer has 2-D patches)"
            )
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
