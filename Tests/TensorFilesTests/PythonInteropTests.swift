import Foundation
import TestSupport
import Testing
@testable import TensorFiles

/// Checks that Python's `torch.load(weights_only=True)` accepts what Swift writes, and that Swift reads Python's
/// re-save.
@Suite final class PythonInteropTests {
    private let tmp: TempDir
    init() throws { tmp = try TempDir() }

    @Test(.enabled(if: hasTorch, "skipped: no .torch/ (PyTorch) at the package root, so Python interop is not checked"))
    func swiftWrittenCheckpointLoadsInTorch() throws {
        let dir = tmp.path
        let base = try RawTensor((0 ..< 12).map { Float($0) * 0.5 }, shape: [3, 4])
        let baseRef = TensorRef(base, requiresGrad: true)
        var model = PickleDict(isOrderedDict: true)
        model["base"] = .tensor(baseRef)
        model["view"] = .tensor(TensorRef(storage: baseRef.storage, storageOffset: 1, shape: [3, 2], strides: [4, 2]))
        var expected: [(String, RawTensor)] = [
            ("base", base), ("view", try RawTensor([Float(0.5), 1.5, 2.5, 3.5, 4.5, 5.5], shape: [3, 2]))
        ]
        for dtype in TensorDType.allCases {
            let t = try sampleTensor(dtype, shape: [2, 3], seed: 7)
            model[.string("t_\(dtype)")] = .tensor(TensorRef(t))
            expected.append(("t_\(dtype)", t))
        }
        model["empty"] = .tensor(TensorRef(try RawTensor([Float](), shape: [0, 5])))
        expected.append(("empty", try RawTensor([Float](), shape: [0, 5])))
        let value = PickleValue.dict([
            "model": .dict(model), "epoch": .int(3),
            "args": .namespace(
                PickleDict([
                    ("lr", .double(1.5e-4)), ("model", .string("mae_vit")), ("sizes", .list([.int(1), .int(2)]))
                ])),
            "extra": .tuple([.int(-(1 << 40)), .list([.double(0.25), .bool(true), .none]), .bytes([0, 255, 7])]),
            "dtype": .object(name: "torch.float16", state: .none),
            "optimizer": .dict(["state": .dict([1: .dict(["step": .int(4)]), 0: .dict([:])])])
        ])
        let ckpt = dir + "/swift.pth", st = dir + "/expected.safetensors", resave = dir + "/resaved.pth"
        try TorchCheckpoint.save(value, to: ckpt)
        try TorchCheckpoint.save(value, to: dir + "/zip64.pth", forceZip64: true)
        try SafeTensors.write(expected, to: st)

        let stdout = try runPython([Fixture.path("check_swift_checkpoint.py"), ckpt, st, resave, dir + "/zip64.pth"])
        let summary = try [UInt8](stdout.utf8).withUnsafeBytes { try JSON.parse($0) }
        #expect(summary["ordered"] == .bool(true))
        #expect(summary["mismatched"] == .array([]), "tensors differing in torch: \(summary["mismatched"]!.text)")
        #expect(summary["model_keys"]?.array?.compactMap(\.string) == expected.map(\.0))
        #expect(
            summary["shared"] == .bool(true) && summary["view_contiguous"] == .bool(false)
                && summary["requires_grad"] == .bool(true))
        #expect(summary["zip64_mismatched"] == .array([]))
        #expect(summary["epoch"]?.int == 3)
        #expect(
            summary["args"]
                == .object([
                    ("lr", .number("0.00015")), ("model", .string("mae_vit")),
                    ("sizes", .array([.number("1"), .number("2")]))
                ]))
        #expect(summary["extra"]?.text == #"[-1099511627776,[0.25,true,null],"00ff07","torch.float16"]"#)
        #expect(summary["optimizer_state_keys"] == .array([.number("0"), .number("1")]))

        // And back: Python's own re-save of what it loaded reads identically in Swift.
        let back = try TorchCheckpoint.load(path: resave)
        let sd = try back.stateDict(at: ["model"])
        #expect(sd.map(\.0) == expected.map(\.0))
        for ((n, a), (_, b)) in zip(sd, expected) { #expect(a == b, "tensor \(n) after Python re-save") }
        #expect(back["model"]?["base"]?.tensorValue?.storage === back["model"]?["view"]?.tensorValue?.storage)
    }
}
