// TensorFiles: safetensors, torch.save (zip + weights-only pickle), .npy — pure Swift, no engine dependency.

/// Element types shared by safetensors, torch.save storages and .npy.
public enum TensorDType: String, CaseIterable, Sendable, Hashable {
    case float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// Bytes per element.
    public var elementSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Name used in a safetensors header (`"F32"`, `"BF16"`, …).
    public var safetensorsName: String {
        switch self {
        case .float64: "F64"
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .int64: "I64"
        case .int32: "I32"
        case .int16: "I16"
        case .int8: "I8"
        case .uint8: "U8"
        case .bool: "BOOL"
        }
    }

    /// Legacy typed-storage class name that `torch.save` pickles (`"FloatStorage"`, …), without the `torch.` prefix.
    public var torchStorageName: String {
        switch self {
        case .float64: "DoubleStorage"
        case .float32: "FloatStorage"
        case .float16: "HalfStorage"
        case .bfloat16: "BFloat16Storage"
        case .int64: "LongStorage"
        case .int32: "IntStorage"
        case .int16: "ShortStorage"
        case .int8: "CharStorage"
        case .uint8: "ByteStorage"
        case .bool: "BoolStorage"
        }
    }

    /// Attribute name of the dtype object in the `torch` module (`torch.float32`, …).
    public var torchName: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int64: "int64"
        case .int32: "int32"
        case .int16: "int16"
        case .int8: "int8"
        case .uint8: "uint8"
        case .bool: "bool"
        }
    }

    /// numpy `descr` for .npy headers; `nil` for bfloat16, which numpy lacks.
    public var numpyDescr: String? {
        switch self {
        case .float64: "<f8"
        case .float32: "<f4"
        case .float16: "<f2"
        case .bfloat16: nil
        case .int64: "<i8"
        case .int32: "<i4"
        case .int16: "<i2"
        case .int8: "|i1"
        case .uint8: "|u1"
        case .bool: "|b1"
        }
    }

    public init?(safetensorsName name: String) {
        guard let t = Self.allCases.first(where: { $0.safetensorsName == name }) else { return nil }
        self = t
    }

    public init?(torchStorageName name: String) {
        guard let t = Self.allCases.first(where: { $0.torchStorageName == name }) else { return nil }
        self = t
    }

    /// Accepts `torch.float32` style names and the common aliases (`float`, `long`, `half`, `double`, `int`, `short`).
    public init?(torchName name: String) {
        let aliases = [
            "float": TensorDType.float32, "double": .float64, "half": .float16, "long": .int64, "int": .int32,
            "short": .int16
        ]
        if let t = aliases[name] { self = t; return }
        guard let t = Self.allCases.first(where: { $0.torchName == name }) else { return nil }
        self = t
    }

    /// Parses a numpy descr such as `<f4`, `|u1`, `?`, `f8`; big-endian descrs are rejected (returns nil).
    public init?(numpyDescr descr: String) {
        var d = Substring(descr)
        var bigEndian = false
        if let c = d.first, "<>|=".contains(c) {
            bigEndian = c == ">"
            d = d.dropFirst()
        }
        let t: TensorDType
        switch d {
        case "f8", "d": t = .float64
        case "f4", "f": t = .float32
        case "f2", "e": t = .float16
        case "i8", "q": t = .int64
        case "i4", "i": t = .int32
        case "i2", "h": t = .int16
        case "i1", "b": t = .int8
        case "u1", "B": t = .uint8
        case "b1", "?": t = .bool
        default: return nil
        }
        if bigEndian && t.elementSize > 1 { return nil }
        self = t
    }

    public var isFloatingPoint: Bool { [.float64, .float32, .float16, .bfloat16].contains(self) }
}

/// Errors from every reader and writer in this module. The description names the file and what was expected.
public struct TensorFileError: Error, CustomStringConvertible, Sendable {
    /// File being read or written (empty when not file-bound).
    public var path: String
    /// What was wrong and what was expected.
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Checked arithmetic helpers: file headers are untrusted, so sizes never overflow silently.
enum Checked {
    static func product(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (r, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = r
        }
        return n
    }

    static func mul(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }
}
