import Foundation

/// A dictionary key as found in checkpoints: strings (state dicts, args) or ints (optimizer state ids).
public enum PickleKey: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral
{
    case string(String)
    case int(Int)

    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral i: Int) { self = .int(i) }
    public var description: String {
        switch self {
        case .string(let s): "'\(s)'"
        case .int(let i): String(i)
        }
    }
}

/// A Python dict with its insertion order. `isOrderedDict` records `collections.OrderedDict` (state dicts).
public struct PickleDict: Sendable {
    public var entries: [(key: PickleKey, value: PickleValue)]
    public var isOrderedDict: Bool

    public init(_ entries: [(key: PickleKey, value: PickleValue)] = [], isOrderedDict: Bool = false) {
        self.entries = entries
        self.isOrderedDict = isOrderedDict
    }

    public var keys: [PickleKey] { entries.map(\.key) }

    /// Looks up a key; assignment replaces in place or appends (Python dict semantics).
    public subscript(key: PickleKey) -> PickleValue? {
        get { entries.last { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }
}

/// Shared bytes behind one or more tensors (a torch storage): mapped from a checkpoint or owned in memory.
public final class TensorStorage: @unchecked Sendable {
    /// Element type of the storage (a typed storage; `uint8` for untyped storages).
    public let dtype: TensorDType
    private let owned: [UInt8]?
    private let mapped: (file: MappedFile, range: Range<Int>)?

    /// In-memory storage owning `bytes`.
    public init(dtype: TensorDType, bytes: [UInt8]) {
        self.dtype = dtype
        owned = bytes
        mapped = nil
    }

    init(dtype: TensorDType, file: MappedFile, range: Range<Int>) {
        self.dtype = dtype
        owned = nil
        mapped = (file, range)
    }

    public var byteCount: Int { owned?.count ?? mapped!.range.count }
    /// File the bytes are mapped from (empty for in-memory storages); used in error messages.
    public var sourcePath: String { mapped?.file.path ?? "" }
    /// Number of `dtype` elements.
    public var count: Int { byteCount / dtype.elementSize }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let owned { return try owned.withUnsafeBytes(body) }
        return try body(UnsafeRawBufferPointer(rebasing: mapped!.file.bytes[mapped!.range]))
    }
}

/// A lazy tensor: a strided view (`storageOffset`/`strides` in elements) onto a possibly shared storage.
public struct TensorRef: Sendable {
    public var storage: TensorStorage
    public var dtype: TensorDType
    public var storageOffset: Int
    public var shape: [Int]
    public var strides: [Int]
    public var requiresGrad: Bool

    public init(
        storage: TensorStorage, dtype: TensorDType? = nil, storageOffset: Int = 0, shape: [Int], strides: [Int]? = nil,
        requiresGrad: Bool = false
    ) {
        self.storage = storage
        self.dtype = dtype ?? storage.dtype
        self.storageOffset = storageOffset
        self.shape = shape
        self.strides = strides ?? RawTensor.contiguousStrides(shape)
        self.requiresGrad = requiresGrad
    }

    /// Wraps a dense tensor in its own storage.
    public init(_ raw: RawTensor, requiresGrad: Bool = false) {
        self.init(
            storage: TensorStorage(dtype: raw.dtype, bytes: raw.bytes), shape: raw.shape, requiresGrad: requiresGrad)
    }

    public var isContiguous: Bool { strides == RawTensor.contiguousStrides(shape) || shape.contains(0) }

    /// Copies the view into a contiguous `RawTensor`, bounds-checking it against the storage.
    public func materialize() throws -> RawTensor {
        let bytes = try storage.withUnsafeBytes { buf in
            try gatherStrided(
                storage: buf, elementSize: dtype.elementSize, offset: storageOffset, shape: shape, strides: strides,
                path: storage.sourcePath
            ) {
                "tensor of \(dtype) \(shape)"
            }
        }
        return RawTensor(unchecked: dtype, shape: shape, bytes: bytes)
    }
}

/// A decoded (weights-only) pickle value.
public indirect enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    case dict(PickleDict)
    case tensor(TensorRef)
    /// An allowed non-container object: `argparse.Namespace` (state = dict of attributes), or a bare global
    /// such as `torch.float32` (state = `.none`).
    case object(name: String, state: PickleValue)

    /// Convenience for building dicts: `.dict(["epoch": .int(3)])` keeps the literal's order.
    public static func dict(_ entries: KeyValuePairs<PickleKey, PickleValue>, ordered: Bool = false) -> PickleValue {
        .dict(PickleDict(entries.map { ($0.key, $0.value) }, isOrderedDict: ordered))
    }

    /// An `argparse.Namespace` with the given attributes.
    public static func namespace(_ attributes: PickleDict) -> PickleValue {
        .object(name: "argparse.Namespace", state: .dict(attributes))
    }

    /// The attribute dict of a dict or of an `argparse.Namespace`.
    public var dictValue: PickleDict? {
        switch self {
        case .dict(let d): d
        case .object("argparse.Namespace", .dict(let d)): d
        default: nil
        }
    }

    public subscript(key: PickleKey) -> PickleValue? { dictValue?[key] }

    /// Follows string keys through nested dicts/namespaces.
    public func value(at path: [String]) -> PickleValue? {
        var v = self
        for k in path {
            guard let next = v[.string(k)] else { return nil }
            v = next
        }
        return v
    }

    public var intValue: Int? {
        if case .int(let i) = self { i } else if case .bool(let b) = self { b ? 1 : 0 } else { nil }
    }
    public var doubleValue: Double? { if case .double(let d) = self { d } else { intValue.map(Double.init) } }
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var tensorValue: TensorRef? { if case .tensor(let t) = self { t } else { nil } }
    /// Elements of a list or tuple.
    public var arrayValue: [PickleValue]? {
        switch self {
        case .list(let a), .tuple(let a): a
        default: nil
        }
    }

    /// The tensors of a state dict found at `path` (e.g. `["model"]`, `["model_state"]`, or `[]` for a bare
    /// state dict), in order, materialised to contiguous bytes. Non-tensor values are skipped.
    /// `progress`: called with each tensor's byte count once it is copied out of the file.
    public func stateDict(at path: [String] = [], progress: ((Int) -> Void)? = nil) throws -> [(String, RawTensor)] {
        guard let v = value(at: path) else {
            throw TensorFileError(
                "",
                "checkpoint has no entry at \(path); "
                    + "top-level keys: \(dictValue?.keys.map(\.description).joined(separator: ", ") ?? "none")"
            )
        }
        guard let d = v.dictValue else { throw TensorFileError("", "checkpoint entry at \(path) is not a dict") }
        var out: [(String, RawTensor)] = []
        for (k, value) in d.entries {
            guard case .tensor(let t) = value else { continue }
            let name: String
            switch k {
            case .string(let s): name = s
            case .int(let i): name = String(i)
            }
            do {
                let raw = try t.materialize()
                out.append((name, raw))
                progress?(raw.bytes.count)
            } catch let e as TensorFileError {
                throw TensorFileError(e.path, "state dict entry '\(name)': \(e.message)")
            }
        }
        return out
    }
}
