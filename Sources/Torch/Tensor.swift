import CTorch

/// Owns one libtorch tensor handle; freed when the last `Tensor` referring to it goes away.
final class TensorHandle: @unchecked Sendable {
    let raw: ct_tensor
    init(_ raw: ct_tensor) { self.raw = raw }
    deinit { ct_free(raw) }
}

/// An n-dimensional array on libtorch. A value type wrapping the engine handle: copies of a `Tensor` share the same
/// data (like a Python reference to a torch tensor); in-place ops (`add_`, `copy_`, …) are visible through all of them.
public struct Tensor: @unchecked Sendable {
    let handle: TensorHandle
    var raw: ct_tensor { handle.raw }

    /// Takes ownership of a handle returned by the shim.
    init(owning raw: ct_tensor) { handle = TensorHandle(raw) }

    /// The handle object: stable identity of this tensor value (copies of the struct share it).
    public var identity: AnyObject { handle }

    // MARK: queries
    public var rank: Int { Int(ct_dim(raw)) }
    public var shape: [Int] {
        var s = [Int64](repeating: 0, count: 16)
        let n = Int(ct_shape(raw, &s, 16))
        if n > 16 { s = [Int64](repeating: 0, count: n); _ = ct_shape(raw, &s, Int32(n)) }
        return s.prefix(n).map(Int.init)
    }
    public var strides: [Int] {
        var s = [Int64](repeating: 0, count: max(rank, 1))
        let n = Int(ct_strides(raw, &s, Int32(s.count)))
        return s.prefix(n).map(Int.init)
    }
    public func size(_ dim: Int) -> Int { let s = shape; return s[dim < 0 ? dim + s.count : dim] }
    public var count: Int { Int(ct_numel(raw)) }
    public var dtype: DType { DType(rawValue: ct_dtype(raw)) ?? .float32 }
    public var device: Device {
        var t: Int32 = 0, i: Int32 = 0
        _ = ct_device(raw, &t, &i)
        return t == 1 ? .cuda(Int(i)) : t == 2 ? .meta : .cpu
    }
    public var isContiguous: Bool { ct_is_contiguous(raw) != 0 }
    /// True when both tensors view the same storage.
    public func sharesStorage(with other: Tensor) -> Bool { ct_same_storage(raw, other.raw) != 0 }

    /// The single element as a Double.
    public func item() throws -> Double {
        var v = 0.0
        try check(ct_item_double(raw, &v), "item() of a tensor of shape \(shape)")
        return v
    }
    public func itemInt() throws -> Int {
        var v: Int64 = 0
        try check(ct_item_int64(raw, &v), "item() of a tensor of shape \(shape)")
        return Int(v)
    }

    // MARK: creation
    public static func empty(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let s = shape.map(Int64.init), d = device.code
        return try make("empty(\(shape))") { ct_empty(s, Int32(s.count), dtype.rawValue, d.0, d.1, $0) }
    }
    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let s = shape.map(Int64.init), d = device.code
        return try make("zeros(\(shape))") { ct_zeros(s, Int32(s.count), dtype.rawValue, d.0, d.1, $0) }
    }
    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        let s = shape.map(Int64.init), d = device.code
        return try make("ones(\(shape))") { ct_ones(s, Int32(s.count), dtype.rawValue, d.0, d.1, $0) }
    }
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) throws
        -> Tensor
    {
        let s = shape.map(Int64.init), d = device.code
        return try make("full(\(shape))") { ct_full(s, Int32(s.count), value, dtype.rawValue, d.0, d.1, $0) }
    }
    /// Normal samples, drawn on the CPU (the generators are CPU ones: the same numbers on every device) and moved to
    /// `device`.
    public static func randn(
        _ shape: [Int], dtype: DType = .float32, generator: Generator? = nil, device: Device = .cpu
    ) throws -> Tensor { try sample(ct_randn, "randn", shape, dtype, generator, device) }
    /// Uniform [0, 1) samples, drawn on the CPU and moved to `device` (as `randn`).
    public static func rand(
        _ shape: [Int], dtype: DType = .float32, generator: Generator? = nil, device: Device = .cpu
    ) throws -> Tensor { try sample(ct_rand, "rand", shape, dtype, generator, device) }
    private typealias Sampler = (UnsafePointer<Int64>?, Int32, Int32, ct_generator?, UnsafeMutablePointer<ct_tensor?>?)
        -> Int32
    private static func sample(
        _ fn: Sampler, _ name: String, _ shape: [Int], _ dtype: DType, _ generator: Generator?, _ device: Device
    ) throws -> Tensor {
        let s = shape.map(Int64.init)
        return try make("\(name)(\(shape))") { fn(s, Int32(s.count), dtype.rawValue, generator?.raw, $0) }.to(device)
    }
    /// Integers in [low, high) as int64.
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], generator: Generator? = nil) throws -> Tensor {
        let s = shape.map(Int64.init)
        return try make("randint") { ct_randint(Int64(low), Int64(high), s, Int32(s.count), generator?.raw, $0) }
    }
    public static func randperm(_ n: Int, generator: Generator? = nil) throws -> Tensor {
        try make("randperm(\(n))") { ct_randperm(Int64(n), generator?.raw, $0) }
    }
    public static func arange(
        _ start: Double = 0, _ end: Double, step: Double = 1, dtype: DType = .int64, device: Device = .cpu
    ) throws -> Tensor {
        try make("arange") { ct_arange(start, end, step, dtype.rawValue, $0) }.to(device)
    }
    public static func linspace(_ start: Double, _ end: Double, count: Int, dtype: DType = .float32) throws -> Tensor {
        try make("linspace") { ct_linspace(start, end, Int64(count), dtype.rawValue, $0) }
    }

    /// Copies `values` into a new CPU tensor of `shape` (default: 1-D).
    public init<T: TensorScalar>(_ values: [T], shape: [Int]? = nil) throws {
        let shape = shape ?? [values.count]
        guard shape.reduce(1, *) == values.count else {
            throw TorchError("\(values.count) values do not fill shape \(shape)")
        }
        let s = shape.map(Int64.init)
        self = try values.withUnsafeBytes { buf in
            try make("tensor from [\(T.self)]") {
                ct_from_data(buf.baseAddress, buf.count, s, Int32(s.count), T.scalarType.rawValue, $0)
            }
        }
    }

    /// Copies raw little-endian bytes (e.g. bf16 payloads from a file) into a new CPU tensor.
    public init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) throws {
        let s = shape.map(Int64.init)
        self = try make("tensor from \(bytes.count) bytes as \(dtype)\(shape)") {
            ct_from_data(bytes.baseAddress, bytes.count, s, Int32(s.count), dtype.rawValue, $0)
        }
    }

    /// Wraps `values` without copying: the array's buffer stays alive until libtorch releases the tensor.
    public static func wrapping(_ values: [Float], shape: [Int]) throws -> Tensor {
        guard shape.reduce(1, *) == values.count else {
            throw TorchError("\(values.count) values do not fill shape \(shape)")
        }
        let box = ArrayBox(values)
        let ctx = Unmanaged.passRetained(box).toOpaque()
        let s = shape.map(Int64.init)
        let ptr = box.values.withUnsafeMutableBufferPointer { $0.baseAddress! }
        var out: ct_tensor?
        let rc = ct_from_blob(
            ptr, s, Int32(s.count), DType.float32.rawValue, { Unmanaged<ArrayBox>.fromOpaque($0!).release() }, ctx, &out
        )
        if rc != 0 { Unmanaged<ArrayBox>.fromOpaque(ctx).release() }
        try check(rc, "from_blob")
        return Tensor(owning: out!)
    }

    /// The elements (contiguous, row-major) as a Swift array; the dtype must match `T`.
    public func toArray<T: TensorScalar>(_: T.Type = T.self) throws -> [T] {
        guard dtype == T.scalarType else {
            throw TorchError("toArray: tensor is \(dtype), asked for \(T.scalarType) (\(T.self))")
        }
        let n = count
        return try [T](unsafeUninitializedCapacity: n) { buf, initialized in
            try check(ct_copy_to_buffer(raw, buf.baseAddress, n * MemoryLayout<T>.stride), "toArray")
            initialized = n
        }
    }

    /// The raw bytes of the elements (contiguous, row-major, CPU).
    public func bytes() throws -> [UInt8] {
        let n = count * dtype.elementSize
        return try [UInt8](unsafeUninitializedCapacity: n) { buf, initialized in
            try check(ct_copy_to_buffer(raw, buf.baseAddress, n), "bytes")
            initialized = n
        }
    }

    /// The elements converted to Float (any dtype).
    public func floats() throws -> [Float] { try (dtype == .float32 ? self : to(.float32)).toArray(Float.self) }
}

/// Keeps a Swift array's storage alive for a zero-copy tensor.
final class ArrayBox {
    var values: [Float]
    init(_ v: [Float]) { values = v }
}

/// A random number generator (`torch.Generator`); its state can be saved and restored for exact resumption.
public final class Generator: @unchecked Sendable {
    let raw: ct_generator
    public init(seed: UInt64) throws {
        var g: ct_generator?
        try check(ct_generator_new(seed, &g), "Generator")
        raw = g!
    }
    deinit { ct_generator_free(raw) }
    /// The generator state as bytes (a uint8 tensor in libtorch).
    public func state() throws -> [UInt8] {
        try make("generator state") { ct_generator_get_state(raw, $0) }.toArray(UInt8.self)
    }
    public func setState(_ bytes: [UInt8]) throws {
        let t = try Tensor(bytes)
        try withExtendedLifetime(t) { try check(ct_generator_set_state(raw, t.raw), "set generator state") }
    }
}
