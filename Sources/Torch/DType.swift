import CTorch
import TensorFiles

/// Element types; raw values are c10::ScalarType codes.
public enum DType: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, int16 = 2, int32 = 3, int64 = 4, float16 = 5, float32 = 6, float64 = 7, bool = 11,
        bfloat16 = 15

    public var elementSize: Int { Int(ct_element_size(rawValue)) }
    public var isFloatingPoint: Bool { [.float16, .float32, .float64, .bfloat16].contains(self) }
    public var description: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .float16: "float16"
        case .float32: "float32"
        case .float64: "float64"
        case .bool: "bool"
        case .bfloat16: "bfloat16"
        }
    }
}

/// Where a tensor lives. CUDA is a value the code carries; on CPU-only builds using it throws.
public enum Device: Equatable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    var code: (Int32, Int32) {
        switch self {
        case .cpu: (0, -1)
        case .cuda(let i): (1, Int32(i))
        }
    }

    /// Parses "cpu", "cuda", "cuda:1".
    public init(parsing s: String) throws {
        if s == "cpu" { self = .cpu; return }
        if s == "cuda" { self = .cuda(0); return }
        if s.hasPrefix("cuda:"), let i = Int(s.dropFirst(5)), i >= 0 { self = .cuda(i); return }
        throw TorchError("unknown device '\(s)': expected cpu, cuda or cuda:N")
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let i): "cuda:\(i)"
        }
    }
}

/// Swift element types that map onto a `DType`: TensorFiles' `RawScalar`s (Float, Double, Int64 … Bool).
public typealias TensorScalar = RawScalar

extension RawScalar {
    public static var scalarType: DType { DType(dtype) }
}
