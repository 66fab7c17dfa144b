import Foundation
import SeededRandom
import TestSupport
import Testing
@testable import TensorFiles

/// This target's bundled fixtures.
enum Fixture {
    static func path(_ name: String) -> String { fixturePath(name, in: .module) }

    static func json(_ name: String) throws -> JSON {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))
        return try data.withUnsafeBytes { try JSON.parse($0) }
    }
}

extension JSON {
    subscript(_ key: String) -> JSON? {
        guard case .object(let o) = self else { return nil }
        return o.first { $0.0 == key }?.1
    }
    var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
    var double: Double? { if case .number(let s) = self { Double(s) } else { nil } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
}

/// Structural comparison of a decoded pickle value with JSON from Python (tuples/lists ↔ arrays, numbers by value).
func matches(_ v: PickleValue, _ j: JSON) -> Bool {
    switch (v, j) {
    case (.none, .null): return true
    case let (.bool(a), .bool(b)): return a == b
    case let (.int(a), .number(s)): return Double(s) == Double(a)
    case let (.double(a), .number(s)): return Double(s) == a
    case let (.string(a), .string(b)): return a == b
    case let (.list(a), .array(b)), let (.tuple(a), .array(b)):
        return a.count == b.count && zip(a, b).allSatisfy { matches($0, $1) }
    case let (_, .object(o)):
        guard let d = v.dictValue, d.entries.count == o.count else { return false }
        return o.allSatisfy { k, jv in d[.string(k)].map { matches($0, jv) } ?? false }
    default: return false
    }
}

/// Asserts that `body` throws a `TensorFileError` whose description contains every fragment.
func expectError(_ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    expectError(fragments, sourceLocation: sourceLocation, body)
}

/// `expectError` with the fragments as an array (table-driven cases).
func expectError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error mentioning \(fragments)", sourceLocation: sourceLocation)
    } catch let e as TensorFileError {
        for f in fragments where !e.description.contains(f) {
            Issue.record("error \"\(e.description)\" does not mention \"\(f)\"", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
    }
}

/// Deterministic pseudo-random bytes valid for `dtype` (bools are 0/1).
func sampleTensor(_ dtype: TensorDType, shape: [Int], seed: UInt64 = 1) throws -> RawTensor {
    var rng = SplitMix64(seed: seed)
    let n = shape.reduce(1, *) * dtype.elementSize
    let bytes = (0 ..< n).map { _ -> UInt8 in
        let r = rng.next()
        return dtype == .bool ? UInt8(r & 1) : UInt8(truncatingIfNeeded: r)
    }
    return try RawTensor(dtype: dtype, shape: shape, bytes: bytes)
}
