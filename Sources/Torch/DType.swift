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

/// Where a tensor lives: the CPU, a CUDA GPU (usable where libtorch was built with CUDA), or libtorch's `meta` device
/// (shapes and dtypes without data: runs every op's shape logic, so tests find tensors left on the CPU).
public enum Device: Hashable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)
    case meta

    /// The shim's (type, index) encoding: 0 CPU, 1 CUDA, 2 meta.
    var code: (Int32, Int32) {
        switch self {
        case .cpu: (0, -1)
        case .cuda(let i): (1, Int32(i))
        case .meta: (2, -1)
        }
    }

    /// Parses "cpu", "cuda", "cuda:1", "meta".
    public init(parsing s: String) throws {
        switch s {
        case "cpu": self = .cpu
        case "cuda": self = .cuda(0)
        case "meta": self = .meta
        default:
            guard s.hasPrefix("cuda:"), let i = Int(s.dropFirst(5)), i >= 0 else {
                throw TorchError("unknown device '\(s)': expected cpu, cuda, cuda:N or meta")
            }
            self = .cuda(i)
        }
    }

    /// `cuda` where libtorch sees a GPU, else `cpu` (the default of `--device`).
    public static var preferred: Device { Runtime.cudaAvailable ? .cuda(0) : .cpu }

    public var isCUDA: Bool { if case .cuda = self { true } else { false } }
    /// False on `meta`: its tensors have no values to read (`item`, `toArray`).
    public var holdsValues: Bool { self != .meta }
    /// The device whose autocast state applies to tensors here (`meta` follows the CPU's).
    var autocastCode: Int32 { isCUDA ? 1 : 0 }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let i): "cuda:\(i)"
        case .meta: "meta"
        }
    }
}

/// Swift element types that map onto a `DType`: TensorFiles' `RawScalar`s (Float, Double, Int64 … Bool).
public typealias TensorScalar = RawScalar

extension RawScalar {
    public static var scalarType: DType { DType(dtype) }
}
