import Foundation
import TestSupport
import Testing
@testable import TensorFiles

@Suite final class SafeTensorsTests {
    private let tmp: TempDir
    init() throws { tmp = try TempDir() }

    /// The progress hooks of `stmae convert`: one call per tensor with its bytes, reading and writing (safetensors
    /// and torch.save).
    @Test func progressReportsEveryTensorsBytes() throws {
        let tensors = [
            ("a", try sampleTensor(.float32, shape: [3, 5])), ("b", try sampleTensor(.bfloat16, shape: [7], seed: 2)),
            ("c", try sampleTensor(.float32, shape: [0, 4]))
        ]
        let sizes = tensors.map(\.1.bytes.count)
        var seen: [Int] = []
        try SafeTensors.write(tensors, to: tmp.path + "/p.safetensors") { seen.append($0) }
        #expect(seen == sizes)
        seen = []
        _ = try SafeTensors.read(path: tmp.path + "/p.safetensors") { seen.append($0) }
        #expect(seen == sizes)
        seen = []
        try TorchCheckpoint.save(stateDict: tensors, to: tmp.path + "/p.pth") { seen.append($0) }
        #expect(seen == sizes)
        seen = []
        let back = try TorchCheckpoint.loadStateDict(path: tmp.path + "/p.pth") { seen.append($0) }
        #expect(seen == sizes && back.map(\.0) == ["a", "b", "c"])
    }

    @Test(arguments: TensorDType.allCases)
    func roundTripEveryDType(_ dtype: TensorDType) throws {
        let dir = tmp.path
        let tensors = [
            ("b.weight", try sampleTensor(dtype, shape: [3, 5])),
            ("a.scalar", try sampleTensor(dtype, shape: [], seed: 2)),
            ("c.empty", try sampleTensor(dtype, shape: [0, 4]))
        ]
        let path = dir + "/x.safetensors"
        try SafeTensors.write(tensors, metadata: ["format": "pt", "note": "quote\" and \\ and é"], to: path)
        let (read, order, meta) = try SafeTensors.read(path: path)
        #expect(order == ["b.weight", "a.scalar", "c.empty"])
        #expect(meta == ["format": "pt", "note": "quote\" and \\ and é"])
        for (name, t) in tensors { #expect(read[name] == t) }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let headerLen = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))[0 ..< 8].withUnsafeBytes {
            $0.loadUnaligned(as: UInt64.self)
        }
        #expect(headerLen % 8 == 0 && Int(headerLen) + 8 <= size)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["x.safetensors"])  // no temp file left
    }

    @Test func readsPythonWrittenValues() throws {
        let file = try SafeTensors.readFile(path: Fixture.path("values.safetensors"))
        let expected = try Fixture.json("values.json")
        #expect(file.metadata == ["format": "pt", "source": "make_tensorfiles_fixtures"])
        guard case .object(let items)? = expected["tensors"] else { Issue.record("bad values.json"); return }
        #expect(file.ordered.count == items.count)
        let tensors = file.tensors
        for (name, desc) in items {
            let t = try #require(tensors[name], "missing \(name)")
            #expect(t.dtype.safetensorsName == desc["dtype"]?.string)
            #expect(t.shape == desc["shape"]?.array?.compactMap(\.int))
            #expect(t.doubles() == desc["values"]?.array?.compactMap(\.double), "values of \(name)")
        }
        #expect(try tensors["f32"]!.scalars(as: Float.self) == [0, -1.5, 2.25, 1024, -0.125, 3])
        #expect(try tensors["i64"]!.scalars(as: Int64.self).last == -(1 << 40))
    }

    /// Writes `u64le(length ?? header.count) + header + data` and returns its path.
    private func hostile(_ header: String, data: [UInt8] = [], length: UInt64? = nil) throws -> String {
        let path = tmp.path + "/bad.safetensors"
        var bytes = withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { Array($0) }
        bytes += Array(header.utf8) + data
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func hostileHeadersAreRejected() throws {
        let f32x2 = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        expectError("bad.safetensors", "header length 1000 exceeds") {
            _ = try SafeTensors.read(path: try hostile(f32x2, data: .init(repeating: 0, count: 8), length: 1000))
        }
        expectError("header length 9223372036854775808 exceeds") {
            _ = try SafeTensors.read(path: try hostile(f32x2, length: 1 << 63))
        }
        expectError("header length 18446744073709551615 exceeds") {
            _ = try SafeTensors.read(path: try hostile(f32x2, length: .max))
        }
        expectError("at least an 8-byte") {
            let p = tmp.path + "/short.safetensors"
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: p))
            _ = try SafeTensors.read(path: p)
        }
        for (header, dataBytes, fragments) in hostileCases {
            expectError(fragments) {
                _ = try SafeTensors.read(path: try hostile(header, data: .init(repeating: 0, count: dataBytes)))
            }
        }
    }

    /// Headers (over that many zero data bytes) and what the error must mention.
    private let hostileCases: [(header: String, dataBytes: Int, fragments: [String])] = [
        (
            #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8,
            ["tensor 't'", "outside the 8-byte data section"]
        ),
        (#"{"t":{"dtype":"F32","shape":[0],"data_offsets":[9,8]}}"#, 8, ["tensor 't'", "outside"]),
        (
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12,
            ["tensor 'b'", "overlap tensor 'a'"]
        ),
        (
            #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8,
            ["tensor 't'", "needs 12 bytes but data_offsets span 8"]
        ),
        (
            #"{"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, 8,
            ["tensor 't'", "unknown or unsupported dtype 'Q7'"]
        ),
        (#"{"t":{"dtype":"F32","shape":[2"#, 8, ["not valid JSON"]),
        (#"{"t":1} trailing"#, 0, ["not valid JSON"]),
        (#"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, ["tensor 't'", "non-negative"]),
        (
            #"{"t":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, 8,
            ["tensor 't'", "overflows"]
        ),
        (#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,1e400]}}"#, 8, ["tensor 't'", "data_offsets"]),
        (
            #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
            ["bytes 0..<4 before tensor 't' belong to no tensor"]
        ),
        (
            #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8,
            ["8 bytes but the tensors cover only 4"]
        ),
        (#"{"__metadata__":{"a":1}}"#, 0, ["__metadata__"]),
        (
            #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"#
                + #""t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#, 0,
            ["duplicate entry 't'"]
        )
    ]

    @Test func writerRejectsBadInput() throws {
        let dir = tmp.path
        let t = try sampleTensor(.float32, shape: [2])
        expectError("duplicate or reserved tensor name 'a'") {
            try SafeTensors.write([("a", t), ("a", t)], to: dir + "/d.safetensors")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        expectError("needs 12 bytes") { _ = try RawTensor(dtype: .float32, shape: [3], bytes: [0, 0, 0, 0]) }
    }
}
