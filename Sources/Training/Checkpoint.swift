import Foundation
import TensorFiles
import Models
import NN
import Torch

/// A training checkpoint: `<name>.safetensors` (model weights, mae_st keys), `<name>.optim.safetensors` (AdamW state)
/// and `<name>.json` (settings, position, RNG), saved as one unit (`CheckpointCommit`): complete or absent.
public struct CheckpointState: Codable {
    public var format = "stmae-checkpoint-v1"
    public var config: PretrainConfig
    /// Epochs fully done before `nextBatch` of epoch `epoch`.
    public var epoch: Int
    /// Data position: the first batch of `epoch` not yet trained on.
    public var nextBatch: Int
    /// Optimizer steps taken.
    public var step: Int
    /// Noise generator state, base64.
    public var generatorState: String
    public var weights: String
    public var optimizer: String
    public var lossHistory: [Double]
    /// `--fp16`: the loss scaler's scale and growth tracker (nil otherwise, and before stmae had it).
    public var gradScaler: GradScalerState? = nil
}

/// A checkpoint's JSON sidecar: any Codable run state that names its weight and optimizer files.
public protocol CheckpointSidecar: Codable {
    var weights: String { get set }
    var optimizer: String { get set }
    /// Optimizer steps taken when saved (recorded in every part to check that the parts agree).
    var checkpointStep: Int { get }
    /// The current settings' defaults as JSON: a sidecar written before a setting existed gets its default.
    static var configDefaults: [String: Any] { get }
    static func upgradeSaved(_ config: [String: Any]) -> [String: Any]
}

extension CheckpointSidecar {
    public static var configDefaults: [String: Any] { [:] }
    /// Settings saved by an older stmae, in today's keys and types (default: as saved).
    public static func upgradeSaved(_ config: [String: Any]) -> [String: Any] { config }
    /// Saved settings as today's: the current defaults, overridden by the saved values (upgraded).
    public static func currentSettings(_ saved: [String: Any]) -> [String: Any] {
        configDefaults.merging(upgradeSaved(saved)) { _, kept in kept }
    }
}

/// A sidecar with the save's id and step under `"save"` (one JSON object).
struct Stamped<S: Encodable>: Encodable {
    struct Save: Encodable { var id: String; var step: Int }
    enum Key: String, CodingKey { case save }
    var sidecar: S
    var save: Save
    func encode(to encoder: Encoder) throws {
        try sidecar.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(save, forKey: .save)
    }
}

/// `value` encoded as a JSON object ([:] if it is not one).
func jsonObject<T: Encodable>(_ value: T) -> [String: Any] {
    (try? JSONEncoder().encode(value)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
}

extension CheckpointState: CheckpointSidecar {
    public static var configDefaults: [String: Any] { jsonObject(PretrainConfig()) }
    public var checkpointStep: Int { step }
}

extension FinetuneCheckpointState {
    public var checkpointStep: Int { state.step }
}

public enum Checkpoint {
    /// Writes checkpoint `name` into `dir` as one unit (see `CheckpointCommit`): a crash or a full disk at any point
    /// leaves either the previous checkpoint or the new one, never a mix. Returns the JSON path.
    @discardableResult
    public static func save<S: CheckpointSidecar>(dir: String, name: String, model: Module, optimizer: AdamW, state: S)
        throws -> String
    {
        if let p = model.namedTensors().first?.1, !p.device.holdsValues {
            throw TorchError(
                "checkpoint \(name): the model is on the \(p.device) device, which holds no values to save")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        recoverOnce(dir)
        var s = state
        s.weights = name + ".safetensors"
        s.optimizer = name + ".optim.safetensors"
        let id = CheckpointCommit.newSaveID()
        let meta = ["stmae_save_id": id, "stmae_step": "\(s.checkpointStep)"]
        var renames: [[String]] = []
        func staged(_ final: String) -> String {
            renames.append([CheckpointCommit.tempName(final, saveID: id), final])
            return dir + "/" + renames.last![0]
        }
        do {
            try TensorFile.save(
                model.stateDict(), metadata: meta.merging(["format": "pt"]) { a, _ in a }, to: staged(s.weights))
            CheckpointCommit.stage("weights")
            try TensorFile.save(optimizer.stateDict(), metadata: meta, to: staged(s.optimizer))
            CheckpointCommit.stage("optimizer")
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try atomicWrite(
                enc.encode(Stamped(sidecar: s, save: .init(id: id, step: s.checkpointStep))),
                to: staged(name + ".json"))
            CheckpointCommit.stage("settings")
        } catch {
            for r in renames { unlink(dir + "/" + r[0]) }
            throw error
        }
        try CheckpointCommit.commit(dir: dir, name: name, saveID: id, renames: renames)
        return dir + "/" + name + ".json"
    }

    nonisolated(unsafe) private static var recovered = Set<String>()
    private static let recoveredLock = NSLock()

    /// Once per folder and process: completes a killed save that got past its commit point and removes the temporary
    /// files of killed saves.
    static func recoverOnce(_ dir: String) {
        let first = recoveredLock.withLock { recovered.insert(dir).inserted }
        if first { for line in CheckpointCommit.recover(dir: dir) { RunLog.info("checkpoint: \(line)") } }
    }

    /// Reads a checkpoint given its .json or .safetensors path.
    public static func load(_ path: String) throws -> (state: CheckpointState, dir: String) {
        try loadSidecar(path, as: CheckpointState.self)
    }

    /// Reads the sidecar of type `S` given the checkpoint's .json or .safetensors path.
    public static func loadSidecar<S: CheckpointSidecar>(_ path: String, as _: S.Type) throws -> (state: S, dir: String)
    {
        var json = path
        if json.hasSuffix(".optim.safetensors") {
            json = String(json.dropLast(".optim.safetensors".count)) + ".json"
        } else if json.hasSuffix(".safetensors") {
            json = String(json.dropLast(".safetensors".count)) + ".json"
        }
        let parent = (json as NSString).deletingLastPathComponent, dir = parent.isEmpty ? "." : parent
        let name = String(((json as NSString).lastPathComponent as NSString).deletingPathExtension)
        for line in CheckpointCommit.recover(dir: dir, name: name) { RunLog.info("checkpoint: \(line)") }
        guard let data = FileManager.default.contents(atPath: json) else {
            throw TorchError("\(path): no stmae checkpoint sidecar at \(json)")
        }
        let s: S, save: [String: Any]?
        do {
            var data = data
            if var obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                let cfg = obj["config"] as? [String: Any]
            {
                var merged = S.currentSettings(cfg)
                let weights = (obj["weights"] as? String).map {
                    $0.hasPrefix("/") ? $0 : (json as NSString).deletingLastPathComponent + "/" + $0
                }
                if legacySinusoid(cfg, weights: weights) {
                    merged["sincos_pos_embed"] = true
                }
                obj["config"] = merged
                data = try JSONSerialization.data(withJSONObject: obj)
            }
            s = try JSONDecoder().decode(S.self, from: data)
            save = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["save"] as? [String: Any]
        } catch {
            throw TorchError("\(path): \(json) is not an stmae checkpoint (\(error))")
        }
        func part(_ f: String) -> String { f.hasPrefix("/") ? f : dir + "/" + f }
        try CheckpointCommit.verify(json: json, save: save, parts: [part(s.weights), part(s.optimizer)])
        return (s, dir)
    }

    /// Before the learned joint table, stmae wrote `"sep_pos_embed": false` (no `sincos_pos_embed`) for the fixed
    /// sinusoid, which the weights do not hold: such a config with no `pos_embed` in its weights is the sinusoid.
    static func legacySinusoid(_ saved: [String: Any], weights: String?) -> Bool {
        guard saved["sincos_pos_embed"] == nil, (saved["sep_pos_embed"] as? Bool) == false, let weights,
            let header = try? SafeTensors.readHeader(path: weights)
        else { return false }
        return !header.entries.contains { $0.name == "pos_embed" }
    }

    /// The pre-trained model of a checkpoint (.json or .safetensors path) and the settings it was trained with.
    public static func loadModel(_ path: String) throws -> (model: MaskedAutoencoderViT, config: PretrainConfig) {
        let (s, dir) = try load(path)
        guard s.config.isMAE else {
            throw ConfigError(
                "\(path): a \(s.config.model) checkpoint; this needs an MAE (mae_vit_*) pre-training checkpoint")
        }
        let model = try MaskedAutoencoderViT(s.config.maeConfig())
        try model.loadStateDict(TensorFile.load(dir + "/" + s.weights))
        return (model, s.config)
    }

    /// Restores model, optimizer and generator from a loaded checkpoint.
    public static func restore(_ s: CheckpointState, dir: String, model: Module, optimizer: AdamW, generator: Generator)
        throws
    {
        try model.loadStateDict(TensorFile.load(dir + "/" + s.weights))
        try optimizer.loadStateDict(TensorFile.load(dir + "/" + s.optimizer))
        guard let bytes = Data(base64Encoded: s.generatorState) else {
            throw TorchError("checkpoint: bad generator state")
        }
        try generator.setState([UInt8](bytes))
    }

    /// Deletes all but the newest `keep` epoch checkpoints `<prefix>checkpoint-NNNNN.*` in `dir`.
    public static func prune(dir: String, prefix: String, keep: Int) {
        guard keep > 0, let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        let stem = prefix + "checkpoint-"
        let epochs = Set(
            files.compactMap { f -> String? in
                guard f.hasPrefix(stem), f.hasSuffix(".json") else { return nil }
                let mid = f.dropFirst(stem.count).dropLast(5)
                return mid.allSatisfy(\.isNumber) ? String(mid) : nil
            }
        ).sorted()
        for e in epochs.dropLast(keep) {
            for ext in [".json", ".safetensors", ".optim.safetensors"] {
                try? FileManager.default.removeItem(atPath: "\(dir)/\(stem)\(e)\(ext)")
            }
        }
    }
}

/// Writes `data` to `path` through a temp file in the same directory, fsync and rename.
public func atomicWrite(_ data: Data, to path: String) throws {
    try writeAtomically([UInt8](data), to: path)
}
