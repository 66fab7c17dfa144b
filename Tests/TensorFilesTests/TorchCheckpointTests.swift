import Foundation
import TestSupport
import Testing
@testable import TensorFiles

@Suite final class TorchCheckpointTests {
    private let tmp: TempDir
    init() throws { tmp = try TempDir() }

    @Test func loadsMaeStPretrainCheckpoint() throws {
        let ckpt = try TorchCheckpoint.load(path: Fixture.path("checkpoint.pth"))
        let expected = try SafeTensors.read(path: Fixture.path("checkpoint_expected.safetensors")).tensors
        let meta = try Fixture.json("checkpoint_expected.json")

        let model = try ckpt.stateDict(at: ["model"])
        #expect(model.map(\.0) == meta["model_keys"]?.array?.compactMap(\.string))
        for (name, t) in model { #expect(t == expected[name], "tensor \(name)") }
        #expect(model.first { $0.0 == "pos_embed_spatial" }?.1.dtype == .bfloat16)
        #expect(model.first { $0.0 == "empty" }?.1.shape == [0, 3])
        #expect(try model.first { $0.0 == "mask_token_counts" }?.1.scalars(as: Int64.self) == [3, -1, 1 << 40])

        guard case .dict(let sd)? = ckpt["model"] else { Issue.record("model is not a dict"); return }
        #expect(sd.isOrderedDict)
        let base = try #require(sd["blocks.0.attn.qkv.weight"]?.tensorValue)
        let view = try #require(sd["blocks.0.attn.qkv.weight_t"]?.tensorValue)
        let slice = try #require(sd["blocks.0.attn.proj.weight"]?.tensorValue)
        #expect(base.storage === view.storage && base.storage === slice.storage)
        #expect(!view.isContiguous && view.strides == [1, 6])
        #expect(slice.storageOffset == 8 && slice.shape == [2, 3])

        #expect(ckpt["epoch"]?.intValue == 3)
        if case .none? = ckpt["scaler"] {} else { Issue.record("scaler should be None") }
        #expect(ckpt["best_acc"]?.doubleValue == 0.875)
        if case .int(7)? = ckpt["np_steps"] {} else { Issue.record("np_steps should be int 7") }
        #expect(ckpt["np_half"]?.doubleValue == 0.5)
        let param = try #require(ckpt["ema_param"]?.tensorValue)
        #expect(param.requiresGrad)
        #expect(try param.materialize().scalars(as: Float.self) == [1, 2])

        let args = try #require(ckpt["args"])
        guard case .object(name: "argparse.Namespace", _) = args else {
            Issue.record("args is not a Namespace"); return
        }
        #expect(matches(args, meta["args"]!))
        #expect(args["model"]?.stringValue == "mae_vit_large_patch16")
        #expect(args["lr"].map { if case .none = $0 { true } else { false } } == true)

        let optimizer = try #require(ckpt["optimizer"])
        #expect(matches(optimizer["param_groups"]!, meta["param_groups"]!))
        let state = try #require(optimizer["state"]?.dictValue)
        #expect(state.keys == [0, 1])
        for (pid, entry) in state.entries {
            guard case .int(let id) = pid, let d = entry.dictValue else {
                Issue.record("bad optimizer state"); continue
            }
            for (k, v) in d.entries {
                guard case .string(let name) = k, let t = v.tensorValue else { continue }
                #expect(
                    try t.materialize() == expected["optimizer.state.\(id).\(name)"], "optimizer state \(id).\(name)")
            }
        }
    }

    @Test func loadsReleaseLayoutProtocol4() throws {
        let sd = try TorchCheckpoint.loadStateDict(path: Fixture.path("release.pth"))
        let (expected, order, _) = try SafeTensors.read(path: Fixture.path("release_expected.safetensors"))
        #expect(Set(sd.map(\.0)) == Set(order))
        #expect(
            sd.map(\.0) == (try Fixture.json("checkpoint_expected.json"))["release_keys"]?.array?.compactMap(\.string))
        #expect(sd.contains { $0.0 == "1.num_batches_tracked" && $0.1.dtype == .int64 && $0.1.shape == [] })
        for (name, t) in sd { #expect(t == expected[name], "tensor \(name)") }
        expectError("no entry at [\"model\"]", "'model_state'") {
            _ = try TorchCheckpoint.load(path: Fixture.path("release.pth")).stateDict(at: ["model"])
        }
    }

    @Test func refusesMaliciousPickle() {
        expectError("malicious.pth", "refusing global 'os.system'") {
            _ = try TorchCheckpoint.load(path: Fixture.path("malicious.pth"))
        }
    }

    @Test func refusesTruncatedAndCompressedArchives() throws {
        expectError("truncated.pth", "zip") { _ = try TorchCheckpoint.load(path: Fixture.path("truncated.pth")) }
        expectError("legacy.pth", "legacy (pre-1.6, non-zip)") {
            _ = try TorchCheckpoint.load(path: Fixture.path("legacy.pth"))
        }
        expectError("compressed.pth", "compressed (method 8)") {
            _ = try TorchCheckpoint.load(path: Fixture.path("compressed.pth"))
        }
        let dir = tmp.path
        try Data(repeating: 0, count: 100).write(to: URL(fileURLWithPath: dir + "/zeros.pth"))
        expectError("zeros.pth", "end-of-central-directory") { _ = try TorchCheckpoint.load(path: dir + "/zeros.pth") }
        // Every truncation point of a real checkpoint must fail cleanly, never crash.
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixture.path("checkpoint.pth"))))
        for cut in stride(from: 0, to: full.count, by: 97) {
            try Data(full[..<cut]).write(to: URL(fileURLWithPath: dir + "/cut.pth"))
            #expect(throws: TensorFileError.self) { _ = try TorchCheckpoint.load(path: dir + "/cut.pth") }
        }
    }

    @Test func saveThenLoadRoundTrip() throws {
        let dir = tmp.path
        let path = dir + "/ckpt.pth"
        let base = try RawTensor((0 ..< 12).map(Float.init), shape: [3, 4])
        let baseRef = TensorRef(base, requiresGrad: true)
        let view = TensorRef(storage: baseRef.storage, storageOffset: 1, shape: [2, 3], strides: [1, 4])
        var model = PickleDict(isOrderedDict: true)
        model["base"] = .tensor(baseRef)
        model["view"] = .tensor(view)
        for dtype in TensorDType.allCases {
            model[.string("t_\(dtype)")] = .tensor(TensorRef(try sampleTensor(dtype, shape: [2, 3])))
        }
        let args = PickleDict([
            ("lr", .double(1.5e-4)), ("model", .string("vit")), ("sizes", .list([.int(1), .int(-2)])), ("none", .none)
        ])
        let value = PickleValue.dict([
            "model": .dict(model), "epoch": .int(3), "args": .namespace(args),
            "extra": .tuple([
                .int(1 << 40), .list([.int(-1), .int(70000), .int(-70000), .int(Int.min)]), .bytes([0, 255, 10, 128])
            ]),
            "dtype": .object(name: "torch.bfloat16", state: .none),
            "optimizer": .dict([
                "state": .dict([0: .dict(["step": .tensor(TensorRef(try RawTensor([Float(1)], shape: [])))])]),
                "param_groups": .list([])
            ])
        ])
        try TorchCheckpoint.save(value, to: path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["ckpt.pth"])

        let zip = try ZipReader(MappedFile(path: path))
        #expect(zip.entries.map(\.name).contains("ckpt/data/0") && zip.entry("ckpt/version") != nil)
        for e in zip.entries { #expect(e.range.lowerBound % 64 == 0, "entry \(e.name) is not 64-byte aligned") }

        let back = try TorchCheckpoint.load(path: path)
        let sd = try back.stateDict(at: ["model"])
        #expect(sd.map(\.0) == model.keys.map { if case .string(let s) = $0 { s } else { "" } })
        #expect(sd[0].1 == base)
        #expect(try sd[1].1.scalars(as: Float.self) == [1, 5, 9, 2, 6, 10])
        for (k, v) in model.entries.dropFirst(2) {
            #expect(try sd.first { PickleKey.string($0.0) == k }?.1 == v.tensorValue!.materialize())
        }
        let b = try #require(back["model"]?["base"]?.tensorValue), v = try #require(back["model"]?["view"]?.tensorValue)
        #expect(b.storage === v.storage && b.requiresGrad && !v.requiresGrad)
        #expect(back["epoch"]?.intValue == 3)
        #expect(back["args"]?["lr"]?.doubleValue == 1.5e-4 && back["args"]?["sizes"]?.arrayValue?.count == 2)
        guard case .tuple(let extra)? = back["extra"] else { Issue.record("extra"); return }
        #expect(extra[0].intValue == 1 << 40)
        #expect(extra[1].arrayValue?.compactMap(\.intValue) == [-1, 70000, -70000, Int.min])
        if case .bytes(let bytes) = extra[2] { #expect(bytes == [0, 255, 10, 128]) } else { Issue.record("bytes") }
        if case .object(name: "torch.bfloat16", _)? = back["dtype"] {} else { Issue.record("dtype global") }
        #expect(back["optimizer"]?["state"]?[0]?["step"]?.tensorValue != nil)
    }

    @Test func saveRejectsUnwritableValues() throws {
        let dir = tmp.path
        expectError("cannot save object of type 'os.system'") {
            try TorchCheckpoint.save(.dict(["x": .object(name: "os.system", state: .none)]), to: dir + "/x.pth")
        }
        let small = TensorStorage(dtype: .float32, bytes: .init(repeating: 0, count: 8))
        expectError("y.pth", "cannot save tensor of float32 [3]", "exceeds its storage of 2 elements") {
            try TorchCheckpoint.save(.dict(["t": .tensor(TensorRef(storage: small, shape: [3]))]), to: dir + "/y.pth")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func forcedZip64ArchiveRoundTrips() throws {
        let path = tmp.path + "/z64.pth"
        let t = try sampleTensor(.float32, shape: [4, 4])
        try TorchCheckpoint.save(
            .dict(["model": .dict(["w": .tensor(TensorRef(t))], ordered: true), "epoch": .int(1)]), to: path,
            forceZip64: true)
        let zip = try ZipReader(MappedFile(path: path))
        for e in zip.entries { #expect(e.range.lowerBound % 64 == 0) }
        #expect(try TorchCheckpoint.loadStateDict(path: path).first?.1 == t)
    }

    /// Writes a torch.save-layout zip around a hand-made pickle.
    private func archive(_ pickle: [UInt8], storages: [[UInt8]], name: String) throws -> String {
        let path = tmp.path + "/" + name
        try FileSink.atomicWrite(to: path) { sink in
            let zip = ZipWriter(sink: sink)
            try zip.add("a/data.pkl", pickle)
            for (i, s) in storages.enumerated() { try zip.add("a/data/\(i)", s) }
            try zip.add("a/byteorder", Array("little".utf8))
            try zip.finish()
        }
        return path
    }

    private func str(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }

    @Test func untypedStorageWithRebuildTensorV3() throws {
        // _rebuild_tensor_v3(('storage', UntypedStorage, '0', 'cpu', 12), 1, (2,), (1,), False, OrderedDict(),
        // torch.float32)
        var p: [UInt8] = [0x80, 2, 0x63] + Array("torch._utils\n_rebuild_tensor_v3\n".utf8) + [0x28, 0x28]
        p +=
            str("storage") + [0x63] + Array("torch.storage\nUntypedStorage\n".utf8) + str("0") + str("cpu") + [
                0x4B, 12, 0x74, 0x51
            ]
        p +=
            [0x4B, 1, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89, 0x63] + Array("collections\nOrderedDict\n".utf8) + [
                0x29, 0x52
            ]
        p += [0x63] + Array("torch\nfloat32\n".utf8) + [0x74, 0x52, 0x2E]
        let floats: [Float] = [1.5, -2, 4]
        let path = try archive(p, storages: [floats.withUnsafeBytes { Array($0) }], name: "v3.pth")
        let t = try #require(try TorchCheckpoint.load(path: path).tensorValue)
        #expect(t.dtype == .float32 && t.storage.dtype == .uint8)
        #expect(try t.materialize().scalars(as: Float.self) == [-2, 4])
        // The writer re-types such views into their own typed storage.
        try TorchCheckpoint.save(.dict(["t": .tensor(t)]), to: tmp.path + "/retyped.pth")
        #expect(
            try TorchCheckpoint.load(path: tmp.path + "/retyped.pth")["t"]?.tensorValue?.materialize().scalars(
                as: Float.self) == [-2, 4])
        // A storage blob shorter than its declared size is refused, naming the file and storage.
        let short = try archive(p, storages: [[0, 0, 0, 0]], name: "short.pth")
        expectError("short.pth", "storage '0' holds 4 bytes, expected 12") { _ = try TorchCheckpoint.load(path: short) }
        let missing = try archive(p, storages: [], name: "missing.pth")
        expectError("missing.pth", "no entry 'a/data/0'") { _ = try TorchCheckpoint.load(path: missing) }
    }

    @Test func viewsOutsideTheirStorageFail() throws {
        let storage = TensorStorage(dtype: .float32, bytes: .init(repeating: 0, count: 16))
        expectError("exceeds its storage of 4 elements") {
            _ = try TensorRef(storage: storage, shape: [5]).materialize()
        }
        expectError("exceeds") {
            _ = try TensorRef(storage: storage, storageOffset: 2, shape: [2, 2], strides: [1, 1]).materialize()
        }
        expectError("invalid stride") { _ = try TensorRef(storage: storage, shape: [2], strides: [-1]).materialize() }
        expectError("exceeds") {
            _ = try TensorRef(storage: storage, shape: [2, 2], strides: [Int.max / 2, 1]).materialize()
        }
        #expect(try TensorRef(storage: storage, storageOffset: 99, shape: [0, 3]).materialize().bytes.isEmpty)
    }

    /// A tiny checkpoint holding a zero-stride 100000×100000 view (40 GB when materialised) is an error naming the
    /// tensor, not an allocation failure (it aborted convert/finetune/embed with SIGABRT); a small expanded view still
    /// loads.
    @Test func overlappingViewsAreBounded() throws {
        let one = TensorStorage(dtype: .float32, bytes: [0, 0, 128, 63])  // 1.0
        var model = PickleDict(isOrderedDict: true)
        model["huge"] = .tensor(TensorRef(storage: one, shape: [100_000, 100_000], strides: [0, 0]))
        let path = tmp.path + "/hostile.pth"
        try TorchCheckpoint.save(.dict(["model": .dict(model)]), to: path)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? .max
        #expect(size < 4096)
        expectError("repeats a storage of 1 elements into 40000000000 bytes") {
            _ = try TorchCheckpoint.loadStateDict(path: path)
        }
        let small = try TensorRef(storage: one, shape: [3, 2], strides: [0, 0]).materialize()
        #expect(small.shape == [3, 2] && small.bytes == Array(repeating: [0, 0, 128, 63], count: 6).flatMap { $0 })
    }
}
