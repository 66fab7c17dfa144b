import Foundation
import TestSupport
import Testing
@testable import Torch

/// Errors, memory, autograd modes, autocast, generators and data exchange of the engine layer.
struct EngineTests {
    @Test func shapeMismatchThrowsWithMessage() throws {
        let a = try Tensor.ones([2, 3]), b = try Tensor.ones([4, 5])
        #expect { try a.matmul(b) } throws: { e in
            let m = "\(e)"
            return m.contains("matmul of [2, 3] and [4, 5]") && m.contains("cannot be multiplied")
        }
        #expect(throws: TorchError.self) { try a.reshape([7]) }
        #expect(throws: TorchError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
    }

    @Test func badDTypeThrows() throws {
        let i = try Tensor([1, 2, 3] as [Int64])
        #expect { try i.requiresGrad(true) } throws: { "\($0)".contains("requires_grad") }
        #expect { try i.toArray(Float.self) } throws: { "\($0)".contains("int64") }
        #expect(throws: TorchError.self) { try gelu(i) }
    }

    @Test func missingFileAndHostileHeaderThrow() throws {
        #expect { try TensorFile.load("/nonexistent/x.safetensors") } throws: {
            "\($0)".contains("/nonexistent/x.safetensors")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-engine-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // header claims 2^63 bytes
        var bytes: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x80] + Array("{}".utf8)
        let p1 = dir.appendingPathComponent("huge.safetensors").path
        FileManager.default.createFile(atPath: p1, contents: Data(bytes))
        #expect(throws: (any Error).self) { try TensorFile.load(p1) }
        // offsets beyond the data section
        let h = #"{"w":{"dtype":"F32","shape":[1000,1000],"data_offsets":[0,4000000]}}"#
        bytes = withUnsafeBytes(of: UInt64(h.utf8.count).littleEndian, Array.init) + Array(h.utf8) + [0, 0, 0, 0]
        let p2 = dir.appendingPathComponent("bad.safetensors").path
        FileManager.default.createFile(atPath: p2, contents: Data(bytes))
        #expect { try TensorFile.load(p2) } throws: { "\($0)".contains("w") }
    }

    @Test func safetensorsRoundTripEveryDType() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stmae-st-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try Tensor.randn([3, 5])
        let ts = try DType.allCases.map { ("t_\($0)", try (base * 10).to($0)) }
        let path = dir.appendingPathComponent("all.safetensors").path
        try TensorFile.save(ts, metadata: ["k": "v"], to: path)
        let (back, meta) = try TensorFile.loadOrdered(path)
        #expect(meta["k"] == "v")
        #expect(back.map(\.0).sorted() == ts.map(\.0).sorted())
        let byName = Dictionary(uniqueKeysWithValues: back)
        for (name, t) in ts {
            let r = byName[name]!
            #expect(r.dtype == t.dtype && r.shape == t.shape)
            #expect(try r.bytes() == t.bytes(), "\(name) bytes differ")
        }
    }

    @Test func cudaIsAValueButUnavailableHere() throws {
        #expect(try Device(parsing: "cuda:1") == .cuda(1))
        #expect(throws: TorchError.self) { try Device(parsing: "tpu") }
        if !Runtime.cudaAvailable {
            #expect(throws: TorchError.self) { try Tensor.zeros([2], device: .cuda(0)) }
            #expect(throws: TorchError.self) { try Tensor.zeros([2]).to(.cuda(0)) }
        }
    }

    @Test func handlesAreFreed() throws {
        // 100k rounds create ≥ 200k handles; a leak would leave them alive. Process RSS is not used: tests run
        // concurrently and their allocations move it by hundreds of MB. Other tests' handles move this count by < 10k.
        let before = Runtime.liveTensors
        for _ in 0 ..< 100_000 { _ = try Tensor.ones([256]) + 1.0 }
        let grown = Runtime.liveTensors - before
        #expect(grown < 20_000, "\(grown) tensor handles still alive after 100k rounds")
        do { let t = try Tensor.ones([2]); #expect(Runtime.liveTensors >= 1); _ = t }
    }

    @Test func zeroCopyAndBack() throws {
        let values: [Float] = (0 ..< 12).map(Float.init)
        let t = try Tensor.wrapping(values, shape: [3, 4])
        #expect(try t.sum().item() == 66)
        #expect(try t.transpose(0, 1).contiguous().toArray(Float.self)[1] == 4)
        #expect(try Tensor([true, false]).toArray(Bool.self) == [true, false])
    }

    @Test func noGradAndGradients() throws {
        let w = try Tensor.ones([3]).requiresGrad(true)
        let y = try withNoGrad { try (w * 2.0).sum() }
        #expect(!y.requiresGrad)
        #expect(isGradEnabled)
        try (w * w).sum().backward()
        #expect(try w.grad!.toArray(Float.self) == [2, 2, 2])
        try (w * 3.0).sum().backward()  // accumulates
        #expect(try w.grad!.toArray(Float.self) == [5, 5, 5])
        try w.setGrad(nil)
        #expect(w.grad == nil)
    }

    @Test func autocastRunsMatmulInBF16() throws {
        let a = try Tensor.randn([4, 8]), b = try Tensor.randn([8, 2])
        let r = try withAutocast(.bfloat16) {
            #expect(isAutocastEnabled())
            return try a.matmul(b)
        }
        #expect(!isAutocastEnabled())
        #expect(r.dtype == .bfloat16)
        #expect(try a.matmul(b).dtype == .float32)
        let ref = try a.to(.bfloat16).matmul(b.to(.bfloat16))
        #expect(try maxRel(r, ref) == 0)
    }

    @Test func generatorIsDeterministicAndRestorable() throws {
        let g1 = try Generator(seed: 7), g2 = try Generator(seed: 7)
        #expect(
            try Tensor.randn([5], generator: g1).toArray(Float.self)
                == Tensor.randn([5], generator: g2).toArray(Float.self))
        let state = try g1.state()
        let a = try Tensor.rand([4], generator: g1).toArray(Float.self)
        try g1.setState(state)
        #expect(try Tensor.rand([4], generator: g1).toArray(Float.self) == a)
        try Runtime.manualSeed(3)  // the default generator is shared by concurrently running tests: no value check here
    }

    @Test func threadsAndVersion() throws {
        #expect(Runtime.version.hasPrefix("2."))
        let n = Runtime.numThreads
        try Runtime.setNumThreads(1)
        #expect(Runtime.numThreads == 1)
        try Runtime.setNumThreads(n)
        #expect(throws: TorchError.self) { try Runtime.setNumThreads(0) }
    }
}
