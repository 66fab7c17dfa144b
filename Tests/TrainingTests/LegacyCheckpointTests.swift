import Foundation
import Models
import NN
import TensorFiles
import Testing
import TestSupport
import Torch
@testable import Training

/// Checkpoints written by stmae before the architecture restructuring (issue 23: "checkpoints written before the
/// change load after it bit for bit"): Fixtures/legacy/, written by commit 51bfa67 (`5a57b49^`) with
/// scripts/make_legacy_checkpoints.sh, which records the build and the commands. Today's loaders must restore every
/// tensor they hold exactly (compared with the files read by TensorFiles alone), every setting and position the
/// sidecar records, and the runs must continue.
@Suite(.serialized) struct LegacyCheckpointTests {
    /// The fixture folder `legacy/run` (pretrain / finetune) copied into `tmp` (a resumed run writes next to its
    /// checkpoint's folder only through --output_dir, but loading may tidy a folder: the fixtures stay untouched),
    /// after checking each file against MANIFEST.txt (the sha256 the script recorded when the old stmae wrote it).
    static func legacyCopy(_ run: String, in tmp: TempDir) throws -> String {
        let root = fixturePath("legacy", in: .module), dest = tmp.sub("legacy-" + run)
        let manifest = try String(contentsOfFile: root + "/MANIFEST.txt", encoding: .utf8)
        let sums = manifest.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let files = sums.filter { $0.count == 2 && $0[1].hasPrefix(run + "/") }
        #expect(files.count == 3, "\(run): checkpoint-last .json, .safetensors and .optim.safetensors in the manifest")
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        for f in files {
            let path = root + "/" + f[1]
            let sum = try runTool("sha256sum", [path]).split(separator: " ").first.map(String.init)
            #expect(sum == String(f[0]), "\(f[1]) is not the file the old stmae wrote (MANIFEST.txt)")
            try FileManager.default.copyItem(atPath: path, toPath: dest + "/" + (f[1] as NSString).lastPathComponent)
        }
        return dest
    }

    /// A JSON value decoded exactly (numbers as the Double `JSONDecoder` reads).
    indirect enum JSONValue: Decodable, Equatable {
        case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else if let s = try? c.decode(String.self) {
                self = .string(s)
            } else if let a = try? c.decode([JSONValue].self) {
                self = .array(a)
            } else {
                self = .object(try c.decode([String: JSONValue].self))
            }
        }
    }
    struct SavedConfig: Decodable { var config: [String: JSONValue] }

    /// Settings `config` as JSON values (today's encoding).
    static func settings<C: Encodable>(_ config: C) throws -> [String: JSONValue] {
        try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(config))
    }

    /// A sidecar's run position, decoded straight from the file with `JSONDecoder`, not stmae's checkpoint code
    /// (JSONSerialization is no reference for doubles: on Linux it read a saved loss 3 ulp off).
    struct SavedPosition: Decodable {
        var epoch: Int
        var nextBatch: Int
        var step: Int
        var lossHistory: [Double]
        var valTop1: [Double]?
        var bestTop1: Double?
        var bestEpoch: Int?
    }
    struct SavedPretrain: Decodable {
        var format: String
        var generatorState: String
        var position: SavedPosition
        init(from decoder: Decoder) throws {
            enum Key: CodingKey { case format, generatorState }
            let c = try decoder.container(keyedBy: Key.self)
            format = try c.decode(String.self, forKey: .format)
            generatorState = try c.decode(String.self, forKey: .generatorState)
            position = try SavedPosition(from: decoder)
        }
    }
    struct SavedFinetune: Decodable {
        var format: String
        var numClasses: Int
        var state: SavedPosition
    }
    static func decode<T: Decodable>(_: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// `tensors` (what today's code loaded) are exactly the tensors of the safetensors file `path`, read by
    /// TensorFiles: the same names, and each the same dtype, shape and bytes (float32: equal Float arrays too).
    static func expectBitForBit(_ tensors: [(String, Tensor)], file path: String) throws {
        let stored = try SafeTensors.readFile(path: path).tensors
        let names = Set(tensors.map(\.0))
        #expect(names.count == tensors.count, "\(path): a name loaded twice")
        let onlyStored = Set(stored.keys).subtracting(names).sorted(),
            onlyLoaded = names.subtracting(stored.keys).sorted()
        #expect(names == Set(stored.keys), "\(path): only in the file \(onlyStored), only loaded \(onlyLoaded)")
        #expect(!stored.isEmpty)
        for (name, t) in tensors {
            guard let want = stored[name] else { continue }
            let got = try t.rawTensor()
            #expect(got.dtype == want.dtype && got.shape == want.shape, "\(name): \(got.dtype)\(got.shape)")
            #expect(got.bytes == want.bytes, "\(name): not bit for bit the stored tensor")
            if want.dtype == .float32 {
                #expect(try t.floats() == want.scalars(as: Float.self), "\(name)")
            }
        }
    }

    /// Every setting the old sidecar saved reads back with the same value in today's settings (`now`, encoded as
    /// JSON), except `changed`: keys whose meaning moved, checked by the caller.
    static func expectSettings(
        _ now: [String: JSONValue], saved: [String: JSONValue], changed: Set<String> = []
    ) {
        #expect(saved.count > 40)
        for (key, value) in saved where !changed.contains(key) {
            #expect(now[key] == value, "setting \(key): saved \(value), loaded \(String(describing: now[key]))")
        }
    }

    /// (a) the pre-training checkpoint: model, AdamW state, noise generator, position and settings restored by
    /// `Pretrainer`'s resume path (`Checkpoint.load` + `restore`) exactly as stored; the encoder read as
    /// `--finetune` weights too; (b) `stmae pretrain --resume` takes one more step.
    @Test(.timeLimit(.minutes(5))) func pretrainCheckpointLoadsBitForBitAndResumes() throws {
        let tmp = try TempDir("legacy-pretrain")
        let dir = try Self.legacyCopy("pretrain", in: tmp), ck = dir + "/checkpoint-last.json"
        let file = try Self.decode(SavedPretrain.self, ck), at = file.position
        let (s, _) = try Checkpoint.load(ck)
        #expect(s.format == "stmae-checkpoint-v1" && file.format == s.format)
        #expect(s.epoch == at.epoch && s.nextBatch == at.nextBatch && s.step == at.step && s.step == 2)
        #expect(s.lossHistory.map(\.bitPattern) == at.lossHistory.map(\.bitPattern) && s.lossHistory.count == 2)
        #expect(s.generatorState == file.generatorState)
        #expect(s.gradScaler == nil)
        try Self.expectSettings(Self.settings(s.config), saved: Self.decode(SavedConfig.self, ck).config)
        #expect(s.config.embedDim == 16 && s.config.decoderEmbedDim == 16 && s.config.imgSize == 16)

        var config = s.config
        config.resume = ck
        config.outputDir = tmp.sub("in-process")
        let p = try Pretrainer(config)
        try Self.expectBitForBit(p.model.stateDict(), file: dir + "/checkpoint-last.safetensors")
        try Self.expectBitForBit(p.optimizer.stateDict(), file: dir + "/checkpoint-last.optim.safetensors")
        #expect(try p.generator.state() == [UInt8](Data(base64Encoded: file.generatorState)!))
        #expect(p.state.epoch == s.epoch && p.state.nextBatch == s.nextBatch && p.state.step == s.step)
        #expect(p.state.lossHistory.map(\.bitPattern) == at.lossHistory.map(\.bitPattern))
        // the pre-trained encoder for fine-tuning (`--finetune CHECKPOINT.json`): every stored tensor, as stored
        try Self.expectBitForBit(readPretrained(ck), file: dir + "/checkpoint-last.safetensors")

        // (b) one more step with today's CLI, the checkpoint's settings, on a small data set
        let (data, out) = try tinyVideoSet(in: tmp)
        let run = try runOK(["pretrain", "--resume", ck, "--data_dirs", data, "--output_dir", out, "--max_steps", "1"])
        #expect(run.stderr.contains("resumed from \(ck): epoch 0, batch 2, step 2"), "\(run.stderr)")
        let (next, _) = try Checkpoint.load(out + "/checkpoint-last.json")
        #expect(next.step == 3 && next.epoch == 0 && next.nextBatch == 3)
        #expect(next.lossHistory.count == 3 && Array(next.lossHistory.prefix(2)) == s.lossHistory)
        #expect(next.lossHistory[2].isFinite)
        #expect(next.config.embedDim == 16 && next.config.depth == 1 && next.config.patchSize == 4)
    }

    /// (c) the fine-tuning checkpoint: classifier, layer-decay AdamW state, position and settings restored by
    /// `Finetuner`'s resume path exactly as stored; `stmae finetune --resume` takes one more step and `stmae evaluate`
    /// scores it.
    @Test(.timeLimit(.minutes(5))) func finetuneCheckpointLoadsBitForBitAndResumes() throws {
        let tmp = try TempDir("legacy-finetune")
        let dir = try Self.legacyCopy("finetune", in: tmp), ck = dir + "/checkpoint-last.json"
        let file = try Self.decode(SavedFinetune.self, ck), at = file.state
        let (s, _) = try Checkpoint.loadSidecar(ck, as: FinetuneCheckpointState.self)
        #expect(s.format == "stmae-finetune-checkpoint-v1" && file.format == s.format)
        #expect(s.numClasses == file.numClasses && s.numClasses == 8)
        #expect(s.classNames == nil, "the old stmae kept no class list")
        #expect(s.state.epoch == at.epoch && s.state.nextBatch == at.nextBatch)
        #expect(s.state.step == at.step && s.state.step == 2)
        #expect(s.state.lossHistory.map(\.bitPattern) == at.lossHistory.map(\.bitPattern))
        #expect(s.state.lossHistory.count == 2)
        #expect(s.state.bestEpoch == at.bestEpoch && s.state.bestTop1 == at.bestTop1 && s.state.valTop1 == at.valTop1)
        #expect(s.gradScaler == nil)
        // `rand_aug` held the RandAugment policy ("" = off); today it is the switch (off) beside the policy `aa`
        let saved = try Self.decode(SavedConfig.self, ck).config
        #expect(saved["rand_aug"] == .string("") && s.config.randAug == false)
        try Self.expectSettings(Self.settings(s.config), saved: saved, changed: ["rand_aug"])

        var config = s.config
        config.resume = ck
        config.outputDir = tmp.sub("in-process")
        let f = try Finetuner(config, numClasses: s.numClasses)
        try Self.expectBitForBit(f.model.stateDict(), file: dir + "/checkpoint-last.safetensors")
        try Self.expectBitForBit(f.optimizer.stateDict(), file: dir + "/checkpoint-last.optim.safetensors")
        #expect(f.state.epoch == s.state.epoch && f.state.nextBatch == s.state.nextBatch)
        #expect(f.state.step == s.state.step && f.state == s.state)

        // one more step with today's CLI on a small data set of the same 8 classes, then an evaluation
        let (data, out) = try tinyVideoSet(in: tmp)
        let run = try runOK([
            "finetune", "--resume", ck, "--train_dir", data, "--output_dir", out, "--max_steps", "1"
        ])
        #expect(run.stderr.contains("resumed from \(ck): epoch 0, batch 2, step 2"), "\(run.stderr)")
        let (next, _) = try Checkpoint.loadSidecar(out + "/checkpoint-last.json", as: FinetuneCheckpointState.self)
        #expect(next.state.step == 3 && next.state.epoch == 0 && next.state.nextBatch == 3)
        #expect(Array(next.state.lossHistory.prefix(2)) == s.state.lossHistory && next.state.lossHistory.count == 3)
        #expect(next.numClasses == 8 && next.config.embedDim == 16 && next.config.patchSize == 4)

        let ev = try runOK([
            "evaluate", "--resume", ck, "--val_dir", data, "--output_dir", tmp.sub("eval"), "--threads", "1"
        ])
        #expect(ev.stderr.contains("16 videos × 1 views: top-1"), "\(ev.stderr)")
    }
}
