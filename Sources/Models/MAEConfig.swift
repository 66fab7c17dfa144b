/// Hyper-parameters of `MaskedAutoencoderViT`, mirroring mae_st's constructor arguments. Defaults: ViT-L/16 as mae_st.
public struct MAEConfig: ViTSized, Codable, Equatable, Sendable {
    public var dims = ModelSize.large.dims
    public var inChans = 3
    public var decoderEmbedDim = 512
    public var decoderDepth = 8
    public var decoderNumHeads = 16
    public var mlpRatio = 4.0
    public var normPixLoss = false
    public var tPatchSize = 2
    public var predTDim = 8
    public var clsEmbed = true
    /// Learned separable positions (mae_st default); false: one learned joint table (see `posEmbedType`).
    public var sepPosEmbed = true
    /// Fixed VideoMAE sinusoid positions (overrides `sepPosEmbed`).
    public var sincosPosEmbed = false
    public var qkvBias = true
    public var maskType = "random"
    public var maskRatio = 0.9
    public var normEps = 1e-6
    public var truncInit = false
    /// Dual masking (VideoMAE V2): the share of the masked tokens the decoder skips (0: it sees all, as MAE).
    public var decoderMaskRatio = 0.0

    public init() {}

    public var posEmbedType: PosEmbedType { PosEmbedType(sepPosEmbed: sepPosEmbed, sincosPosEmbed: sincosPosEmbed) }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

import Foundation
import NN

extension Encodable where Self: Decodable {
    /// The config with snake_case keys (mae_st's argument names); a model config's `dims` stand flat among them.
    public func kwargs() throws -> [String: Any] {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        var d = try JSONSerialization.jsonObject(with: enc.encode(self)) as! [String: Any]
        if let dims = d.removeValue(forKey: "dims") as? [String: Any] { d.merge(dims) { a, _ in a } }
        return d
    }

    /// A copy with the given snake_case keys replaced (unknown keys are an error naming them; null values are ignored).
    public func updating(_ kw: [String: Any]) throws -> Self {
        var d = try kwargs()
        // Every stored property (nil optionals are not encoded, so also ask the mirror).
        let labels = Mirror(reflecting: self).children.compactMap { $0.label.map(snakeCase) }.filter { $0 != "dims" }
        let known = Set(d.keys).union(labels)
        let unknown = kw.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else { throw ConfigError("unknown config keys: \(unknown.joined(separator: ", "))") }
        for (k, v) in kw where !(v is NSNull) { d[k] = v }
        if self is any ViTSized { d["dims"] = d.filter { ViTDims.keys.contains($0.key) } }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try dec.decode(Self.self, from: JSONSerialization.data(withJSONObject: d))
        } catch {
            throw ConfigError("config values have the wrong type: \(error)")
        }
    }
}
