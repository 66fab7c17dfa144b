import Foundation
import TensorFiles
import Torch

/// What a checkpoint records besides its tensors. The weights fix the sizes (embed dim, depth, patch, MLP width) and,
/// with learned positions, the input grid; they do not fix the attention head count, the LayerNorm eps, the input size
/// and frames of a model with fixed (sinusoid) positions, the input normalisation or the class names. nil / empty:
/// not recorded.
///
/// Where each format keeps them (written by `Weights.write` / `stmae convert`, read by `Weights.settings`):
/// - `.safetensors`: `__metadata__` strings `num_heads`, `img_size`, `num_frames`, `norm_eps`, `fc_norm_eps`, and JSON
///   text `mean`, `std`, `labels`, `hf_preprocessor_config`; an stmae training checkpoint's `.json` sidecar (`config`:
///   `model`, `num_heads`, `img_size`, `num_frames`, `mean`, `std`) is read when the metadata lacks a value.
/// - `.pth`: a top-level `args` entry as mae_st saves (an `argparse.Namespace`; stmae writes a plain dict with the same
///   field names, which `torch.load(weights_only=True)` accepts): `model` (mae_st name → its heads), `num_heads`,
///   `input_size` (mae_st's name; `img_size` read too), `num_frames`, and stmae's `norm_eps`, `fc_norm_eps`, `mean`,
///   `std`, `labels`, `hf_preprocessor_config`.
/// - Hugging Face: `config.json` (`num_attention_heads`, `image_size`, `num_frames`, `layer_norm_eps`, `id2label`) and
///   `preprocessor_config.json` (see `HFVideoMAE`).
public struct ModelSettings: Equatable, Sendable {
    public var numHeads: Int?
    public var imgSize: Int?
    public var numFrames: Int?
    /// Eps of the blocks' and the final LayerNorms (mae_st 1e-6, HF VideoMAE 1e-12).
    public var normEps: Double?
    /// Eps of `fc_norm` when it differs (HF VideoMAE: 1e-5).
    public var fcNormEps: Double?
    /// Input normalisation (and, from Hugging Face, the whole processor config).
    public var preprocessing: HFVideoMAE.Preprocessing?
    /// Class names by index.
    public var labels: [String] = []

    public init(
        numHeads: Int? = nil, imgSize: Int? = nil, numFrames: Int? = nil, normEps: Double? = nil,
        fcNormEps: Double? = nil, preprocessing: HFVideoMAE.Preprocessing? = nil, labels: [String] = []
    ) {
        (self.numHeads, self.imgSize, self.numFrames, self.normEps) = (numHeads, imgSize, numFrames, normEps)
        (self.fcNormEps, self.preprocessing, self.labels) = (fcNormEps, preprocessing, labels)
    }

    /// The settings of a model with config `c` (all of them known).
    public init(config c: ViTConfig, preprocessing: HFVideoMAE.Preprocessing? = nil, labels: [String] = []) {
        self.init(
            numHeads: c.numHeads, imgSize: c.imgSize, numFrames: c.numFrames, normEps: c.normEps,
            fcNormEps: c.fcNormEps, preprocessing: preprocessing, labels: labels)
    }

    public var isEmpty: Bool { self == ModelSettings() }

    /// `self` with the values it lacks taken from `fallback`.
    public func filled(from fallback: ModelSettings) -> ModelSettings {
        var s = self
        s.numHeads = s.numHeads ?? fallback.numHeads
        s.imgSize = s.imgSize ?? fallback.imgSize
        s.numFrames = s.numFrames ?? fallback.numFrames
        s.normEps = s.normEps ?? fallback.normEps
        s.fcNormEps = s.fcNormEps ?? fallback.fcNormEps
        s.preprocessing = s.preprocessing ?? fallback.preprocessing
        if s.labels.isEmpty { s.labels = fallback.labels }
        return s
    }

    /// Heads, eps and input size of a model built from a settings-less state dict (`ViTConfig.inferred` did the sizes).
    public func apply(to c: inout ViTConfig) {
        if let numHeads { c.numHeads = numHeads }
        if let imgSize { c.imgSize = imgSize }
        if let numFrames { c.numFrames = numFrames }
        if let normEps { c.normEps = normEps }
        if let fcNormEps { c.fcNormEps = fcNormEps }
    }

    // MARK: safetensors metadata

    /// `__metadata__` entries (see the type's documentation).
    public var metadata: [String: String] {
        var m: [String: String] = [:]
        if let numHeads { m["num_heads"] = String(numHeads) }
        if let imgSize { m["img_size"] = String(imgSize) }
        if let numFrames { m["num_frames"] = String(numFrames) }
        if let normEps { m["norm_eps"] = String(normEps) }
        if let fcNormEps { m["fc_norm_eps"] = String(fcNormEps) }
        if let p = preprocessing {
            m["mean"] = Self.jsonText(p.mean)
            m["std"] = Self.jsonText(p.std)
            if let c = p.processorConfig { m["hf_preprocessor_config"] = c }
        }
        if !labels.isEmpty { m["labels"] = Self.jsonText(labels) }
        return m
    }

    /// Reads `metadata`'s entries; a malformed value is an error naming `source` and the key.
    public init(metadata m: [String: String], source: String) throws {
        func int(_ k: String) throws -> Int? {
            guard let s = m[k] else { return nil }
            guard let v = Int(s), v > 0 else {
                throw TorchError("\(source): metadata '\(k)' is '\(s)', expected a positive integer")
            }
            return v
        }
        func double(_ k: String) throws -> Double? {
            guard let s = m[k] else { return nil }
            guard let v = Double(s), v > 0 else {
                throw TorchError("\(source): metadata '\(k)' is '\(s)', expected a positive number")
            }
            return v
        }
        func json<T>(_ k: String, as: T.Type) throws -> T? {
            guard let s = m[k] else { return nil }
            guard let v = try? JSONSerialization.jsonObject(with: Data(s.utf8), options: [.fragmentsAllowed]) as? T
            else {
                throw TorchError("\(source): metadata '\(k)' is '\(s)', expected a JSON \(T.self)")
            }
            return v
        }
        self.init(
            numHeads: try int("num_heads"), imgSize: try int("img_size"), numFrames: try int("num_frames"),
            normEps: try double("norm_eps"), fcNormEps: try double("fc_norm_eps"),
            labels: try json("labels", as: [String].self) ?? [])
        if let mean = try json("mean", as: [Double].self), let std = try json("std", as: [Double].self) {
            preprocessing = HFVideoMAE.Preprocessing(mean: mean, std: std, processorConfig: m["hf_preprocessor_config"])
        }
    }

    // MARK: torch.save `args`

    /// The `args` dict stmae writes into a `.pth` (mae_st's field names where mae_st has them).
    public var pickleArgs: PickleValue {
        var d = PickleDict()
        if let numHeads { d["num_heads"] = .int(numHeads) }
        if let imgSize { d["input_size"] = .int(imgSize) }
        if let numFrames { d["num_frames"] = .int(numFrames) }
        if let normEps { d["norm_eps"] = .double(normEps) }
        if let fcNormEps { d["fc_norm_eps"] = .double(fcNormEps) }
        if let p = preprocessing {
            d["mean"] = .list(p.mean.map { .double($0) })
            d["std"] = .list(p.std.map { .double($0) })
            if let c = p.processorConfig { d["hf_preprocessor_config"] = .string(c) }
        }
        if !labels.isEmpty { d["labels"] = .list(labels.map { .string($0) }) }
        return .dict(d)
    }

    /// Reads a `.pth`'s `args` (an `argparse.Namespace` or a dict): `num_heads`, else the heads of the named `model`.
    public init(args: PickleValue) {
        func v(_ k: String) -> PickleValue? { args.value(at: [k]) }
        func doubles(_ k: String) -> [Double]? {
            guard let a = v(k)?.arrayValue else { return nil }
            let d = a.compactMap(\.doubleValue)
            return d.count == a.count ? d : nil
        }
        self.init(
            numHeads: v("num_heads")?.intValue
                ?? v("model")?.stringValue.flatMap { ViTConfig.standardNumHeads(model: $0) },
            imgSize: v("input_size")?.intValue ?? v("img_size")?.intValue, numFrames: v("num_frames")?.intValue,
            normEps: v("norm_eps")?.doubleValue, fcNormEps: v("fc_norm_eps")?.doubleValue,
            labels: v("labels")?.arrayValue?.compactMap(\.stringValue) ?? [])
        if let mean = doubles("mean"), let std = doubles("std") {
            preprocessing = HFVideoMAE.Preprocessing(
                mean: mean, std: std, processorConfig: v("hf_preprocessor_config")?.stringValue)
        }
    }

    static func jsonText(_ v: Any) -> String {
        String(
            decoding: (try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed]))
                ?? Data("null".utf8), as: UTF8.self)
    }
}

extension ViTConfig {
    /// The head count of the standard size (`ModelSize.standard`) with this embed dim and depth; nil for any other
    /// size. Embed dim and depth together identify one; the head count does not follow from them by a rule
    /// (ViT-H: 1280 / 80).
    public static func standardNumHeads(embedDim: Int, depth: Int) -> Int? {
        ModelSize.standard(embedDim: embedDim, depth: depth)?.numHeads
    }

    /// The head count of a mae_st / VideoMAE / stmae ViT or MAE-ST model name (`mae_vit_large_patch16`,
    /// `vit_huge_patch14`, `videomae_vit_base_patch16`, …) from the catalogue; nil for other names.
    public static func standardNumHeads(model: String) -> Int? {
        ModelCatalog.entry(model).flatMap { $0.isMAE || $0.isViT ? $0.size.numHeads : nil }
    }

    /// The standard sizes as text for messages (`ViT-H 1280/32/16`).
    static var standardSizesText: String { ModelSize.standard.map(\.sizesText).joined(separator: ", ") }
}
