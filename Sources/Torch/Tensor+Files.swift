import TensorFiles

/// Conversion between engine tensors and the file layer's `RawTensor` (safetensors, torch.save, .npy).
extension DType {
    /// The same element type (both name it alike: `float32`, `bfloat16`, …).
    public init(_ d: TensorDType) { self = DType.allCases.first { $0.description == d.rawValue }! }
    public var fileDType: TensorDType { TensorDType(rawValue: description)! }
}

extension Tensor {
    /// A new CPU tensor holding a copy of the raw tensor's bytes.
    public init(_ r: RawTensor) throws {
        self = try r.bytes.withUnsafeBytes { try Tensor(bytes: $0, shape: r.shape, dtype: DType(r.dtype)) }
    }
    /// The tensor's contiguous CPU bytes as a `RawTensor`.
    public func rawTensor() throws -> RawTensor {
        try RawTensor(dtype: dtype.fileDType, shape: shape, bytes: try bytes())
    }
}

/// safetensors files of engine tensors.
public enum TensorFile {
    /// All tensors of a safetensors file, by name.
    public static func load(_ path: String) throws -> [String: Tensor] {
        try SafeTensors.read(path: path).tensors.mapValues { try Tensor($0) }
    }
    /// Tensors in file order plus the metadata. `progress`: called with each tensor's byte count once it is read.
    public static func loadOrdered(_ path: String, progress: ((Int) -> Void)? = nil) throws -> (
        tensors: [(String, Tensor)], metadata: [String: String]
    ) {
        let f = try SafeTensors.read(path: path, progress: progress)
        return (try f.order.map { ($0, try Tensor(f.tensors[$0]!)) }, f.metadata)
    }
    /// Writes atomically (temp file + rename). `progress`: called with each tensor's byte count once it is written.
    public static func save(
        _ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String,
        progress: ((Int) -> Void)? = nil
    ) throws {
        try SafeTensors.write(
            try tensors.map { ($0.0, try $0.1.rawTensor()) }, metadata: metadata, to: path, progress: progress)
    }
}
