import Testing
@testable import TensorFiles

@Suite struct PickleTests {
    private func load(_ bytes: [UInt8]) throws -> PickleValue { try TorchCheckpoint.unpickle(bytes) }
    private func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }

    @Test func refusesDangerousGlobals() {
        expectError("refusing global 'builtins.eval'") { _ = try load([0x80, 2] + global("builtins", "eval") + [0x2E]) }
        expectError("refusing global 'posix.system'") {
            // STACK_GLOBAL form (protocol 4)
            _ = try load([0x80, 4, 0x8C, 5] + Array("posix".utf8) + [0x8C, 6] + Array("system".utf8) + [0x93, 0x2E])
        }
        expectError("refusing global 'torch.nn.modules.linear.Linear'") {
            _ = try load([0x80, 2] + global("torch.nn.modules.linear", "Linear") + [0x2E])
        }
        expectError("global 'argparse.Namespace' cannot be called") {
            _ = try load([0x80, 2] + global("argparse", "Namespace") + [0x29, 0x52, 0x2E])
        }
        expectError("_codecs.encode is only allowed") {
            _ = try load(
                [0x80, 2] + global("_codecs", "encode") + [0x8C, 1, 0x41, 0x8C, 4] + Array("utf8".utf8) + [
                    0x86, 0x52, 0x2E
                ])
        }
    }

    @Test func rejectsMalformedPrograms() {
        expectError("unsupported opcode 0xff at offset 2") { _ = try load([0x80, 2, 0xFF]) }
        expectError("truncated") { _ = try load([0x80, 2, 0x58, 10, 0, 0, 0, 0x41]) }
        expectError("truncated") { _ = try load([0x80, 2, 0x7D]) }
        expectError("stack underflow") { _ = try load([0x80, 2, 0x2E]) }
        expectError("memo key 5 not found") { _ = try load([0x80, 2, 0x68, 5, 0x2E]) }
        expectError("nested too deeply") {
            _ = try load(
                [0x80, 2] + [UInt8](repeating: 0x5D, count: 1) + [UInt8](repeating: 0x5D, count: 600)
                    + [UInt8](repeating: 0x61, count: 600) + [0x2E])
        }
        expectError("integer wider than 64 bits") {
            _ = try load([0x80, 2, 0x8A, 9] + [UInt8](repeating: 1, count: 9) + [0x2E])
        }
        expectError("outside a torch.save archive") {
            _ = try load(
                [0x80, 2, 0x28, 0x8C, 7] + Array("storage".utf8) + global("torch", "FloatStorage") + [
                    0x8C, 1, 0x30, 0x8C, 3
                ] + Array("cpu".utf8) + [0x4B, 2, 0x74, 0x51, 0x2E])
        }
    }

    @Test func memoSharesMutableContainers() throws {
        // [] BINPUT 0, then APPEND 1; BINGET 0 must see the appended item: ([1], [1])
        let v = try load([0x80, 2, 0x5D, 0x71, 0, 0x4B, 1, 0x61, 0x68, 0, 0x86, 0x2E])
        guard case .tuple(let t) = v else { Issue.record("not a tuple"); return }
        #expect(t.map { $0.arrayValue?.compactMap(\.intValue) } == [[1], [1]])
    }

    @Test func decodesScalarsAndLongs() throws {
        // (LONG1 -2^40, BININT -5, BINFLOAT 0.1, True, None, LONG1 0, BINUNICODE "é")
        var p: [UInt8] =
            [0x80, 2, 0x28, 0x8A, 6, 0, 0, 0, 0, 0, 0xFF, 0x4A]
            + withUnsafeBytes(of: Int32(-5).littleEndian, Array.init)
        p +=
            [0x47] + withUnsafeBytes(of: (0.1).bitPattern.bigEndian, Array.init) + [
                0x88, 0x4E, 0x8A, 0, 0x58, 2, 0, 0, 0, 0xC3, 0xA9, 0x74, 0x2E
            ]
        let v = try load(p)
        guard case .tuple(let t) = v, t.count == 7 else { Issue.record("bad tuple"); return }
        #expect(t[0].intValue == -(1 << 40) && t[1].intValue == -5 && t[2].doubleValue == 0.1 && t[3].boolValue == true)
        if case .none = t[4] {} else { Issue.record("None") }
        #expect(t[5].intValue == 0 && t[6].stringValue == "é")
    }
}
