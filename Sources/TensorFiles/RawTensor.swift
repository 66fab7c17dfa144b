import Foundation

/// A dense tensor as bytes: contiguous, little-endian, row-major. The engine layer turns these into libtorch tensors.
public struct RawTensor: Sendable, Equatable {
    public var dtype: TensorDType
    public var shape: [Int]
    public var bytes: [UInt8]

    /// Creates a tensor, checking that `bytes.count == numel × elementSize`.
    public init(dtype: TensorDType, shape: [Int], bytes: [UInt8]) throws {
        guard let n = Checked.product(shape), let size = Checked.mul(n, dtype.elementSize) else {
            throw TensorFileError(
                "", "invalid shape \(shape): dimensions must be non-negative and the size must fit in memory")
        }
        guard size == bytes.count else {
            throw TensorFileError("", "shape \(shape) of \(dtype) needs \(size) bytes, got \(bytes.count)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Unchecked initialiser for callers that already validated sizes.
    init(unchecked dtype: TensorDType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// Row-major (contiguous) strides in elements.
    public var strides: [Int] { RawTensor.contiguousStrides(shape) }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc &*= Swift.max(shape[i], 1)
        }
        return strides
    }

    /// Builds a tensor from native scalars (Float, Double, Int64, Int32, Int16, Int8, UInt8, Bool) with the matching
    /// dtype.
    public init<T: RawScalar>(_ values: [T], shape: [Int]) throws {
        let bytes = values.withUnsafeBytes { [UInt8]($0) }
        try self.init(dtype: T.dtype, shape: shape, bytes: bytes)
    }

    /// The elements reinterpreted as `T`, which must match `dtype`.
    public func scalars<T: RawScalar>(as type: T.Type = T.self) throws -> [T] {
        guard T.dtype == dtype else { throw TensorFileError("", "tensor is \(dtype), not \(T.dtype)") }
        return [T](unsafeUninitializedCapacity: count) { buf, n in
            bytes.withUnsafeBytes { if $0.count > 0 { _ = memcpy(buf.baseAddress!, $0.baseAddress!, $0.count) } }
            n = count
        }
    }

    /// Every element converted to Double (exact for all dtypes except int64 beyond 2^53).
    public func doubles() -> [Double] {
        let n = count, es = dtype.elementSize
        var out = [Double](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            for i in 0 ..< n {
                let o = i * es
                switch dtype {
                case .float64: out[i] = Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                case .float32: out[i] = Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                case .float16: out[i] = Double(halfToFloat(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                case .bfloat16:
                    out[i] = Double(
                        Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) << 16))
                case .int64: out[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
                case .int32: out[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                case .int16: out[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case .int8: out[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int8.self))
                case .uint8: out[i] = Double(raw[o])
                case .bool: out[i] = raw[o] != 0 ? 1 : 0
                }
            }
        }
        return out
    }
}

/// Copies raw bytes into a new array with a single memcpy.
func copyBytes(_ src: UnsafeRawBufferPointer) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: src.count) { buf, n in
        if src.count > 0 { memcpy(buf.baseAddress!, src.baseAddress!, src.count) }
        n = src.count
    }
}

/// Converts an IEEE half-precision bit pattern to Float (portable; no reliance on `Float16`).
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    var exp = Int32((h >> 10) & 0x1F)
    var mant = UInt32(h & 0x3FF)
    if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        exp = 1
        while mant & 0x400 == 0 { mant <<= 1; exp -= 1 }
        mant &= 0x3FF
    }
    return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (mant << 13))
}

/// Native scalar types that map one-to-one onto a dtype.
public protocol RawScalar: BitwiseCopyable { static var dtype: TensorDType { get } }
extension Float: RawScalar { public static var dtype: TensorDType { .float32 } }
extension Double: RawScalar { public static var dtype: TensorDType { .float64 } }
extension Int64: RawScalar { public static var dtype: TensorDType { .int64 } }
extension Int32: RawScalar { public static var dtype: TensorDType { .int32 } }
extension Int16: RawScalar { public static var dtype: TensorDType { .int16 } }
extension Int8: RawScalar { public static var dtype: TensorDType { .int8 } }
extension UInt8: RawScalar { public static var dtype: TensorDType { .uint8 } }
extension Bool: RawScalar { public static var dtype: TensorDType { .bool } }

/// Validates a strided view against a storage of `storageBytes` bytes; returns its element and byte counts.
func checkView(
    storageBytes: Int, elementSize es: Int, offset: Int, shape: [Int], strides: [Int], path: String, what: () -> String
) throws -> (numel: Int, total: Int) {
    guard shape.count == strides.count else {
        throw TensorFileError(path, "\(what()): shape \(shape) and stride \(strides) differ in rank")
    }
    guard let numel = Checked.product(shape), let total = Checked.mul(numel, es) else {
        throw TensorFileError(path, "\(what()): invalid shape \(shape)")
    }
    if numel == 0 { return (0, 0) }
    guard offset >= 0 else { throw TensorFileError(path, "\(what()): negative storage offset \(offset)") }
    var last = offset
    for (d, s) in zip(shape, strides) {
        guard s >= 0, let step = Checked.mul(d - 1, s), let l = Checked.add(last, step) else {
            throw TensorFileError(path, "\(what()): invalid stride \(strides) for shape \(shape)")
        }
        last = l
    }
    guard let endByte = Checked.mul(Checked.add(last, 1) ?? .max, es), endByte <= storageBytes else {
        throw TensorFileError(
            path,
            "\(what()): view (offset \(offset), shape \(shape), stride \(strides)) exceeds its storage of "
                + "\(storageBytes / Swift.max(es, 1)) elements"
        )
    }
    return (numel, total)
}

/// The most bytes an overlapping view (more elements than its storage holds) may expand to.
let maxExpandedViewBytes = 1 << 30

/// Gathers a strided view of `storage` into contiguous bytes.
/// Offsets and strides are in elements; the view is bounds-checked against the storage first.
/// A view with more elements than its storage (zero or overlapping strides, e.g. `expand`) is materialised only up to
/// `maxExpandedViewBytes`: a 1.7 KB hostile `.pth` must not make stmae allocate 40 GB.
func gatherStrided(
    storage: UnsafeRawBufferPointer, elementSize es: Int, offset: Int, shape: [Int], strides: [Int], path: String,
    what: () -> String
) throws -> [UInt8] {
    let (numel, total) = try checkView(
        storageBytes: storage.count, elementSize: es, offset: offset, shape: shape, strides: strides, path: path,
        what: what)
    if numel == 0 { return [] }
    guard total <= storage.count || total <= maxExpandedViewBytes else {
        throw TensorFileError(
            path,
            "\(what()): a view of shape \(shape), stride \(strides) repeats a storage of "
                + "\(storage.count / Swift.max(es, 1)) elements into \(total) bytes (overlapping strides; "
                + "at most \(maxExpandedViewBytes >> 20) MiB is materialised): refusing it as corrupt or hostile"
        )
    }
    if strides == RawTensor.contiguousStrides(shape) || numel == 1 {
        return copyBytes(UnsafeRawBufferPointer(rebasing: storage[(offset * es) ..< (offset * es + total)]))
    }
    // Collapse to (outer dims, innermost run); copy runs with memcpy when the innermost stride is 1.
    let rank = shape.count
    let innerContig = strides[rank - 1] == 1
    let run = innerContig ? shape[rank - 1] : 1
    let outerShape = innerContig ? Array(shape.dropLast()) : shape
    let outerStrides = innerContig ? Array(strides.dropLast()) : strides
    var out = [UInt8](repeating: 0, count: total)
    out.withUnsafeMutableBytes { dst in
        var index = [Int](repeating: 0, count: outerShape.count)
        var src = offset
        var w = 0
        let runBytes = run * es
        while true {
            memcpy(dst.baseAddress! + w, storage.baseAddress! + src * es, runBytes)
            w += runBytes
            var k = outerShape.count - 1
            while k >= 0 {
                index[k] += 1
                src += outerStrides[k]
                if index[k] < outerShape[k] { break }
                src -= outerStrides[k] * outerShape[k]
                index[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }
    return out
}
