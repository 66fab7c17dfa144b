import Foundation

/// Reader and writer for the safetensors format: `u64le N`, an `N`-byte JSON header, then one data section.
public enum SafeTensors {
    /// Header size cap, as in the reference implementation; guards against hostile lengths before any allocation.
    public static let maxHeaderSize = 100_000_000

    /// A validated header entry.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: TensorDType
        public var shape: [Int]
        /// Byte range inside the data section.
        public var dataOffsets: Range<Int>
    }

    /// The contents of a safetensors file.
    public struct File: Sendable {
        /// Tensors in file (data-offset) order.
        public var ordered: [(String, RawTensor)]
        /// The `__metadata__` map, if any.
        public var metadata: [String: String]
        /// Tensors by name.
        public var tensors: [String: RawTensor] { Dictionary(ordered, uniquingKeysWith: { a, _ in a }) }
    }

    /// Reads every tensor of a safetensors file (memory-mapped; each tensor is copied once into its `RawTensor`).
    /// `progress`: called with each tensor's byte count once it is read.
    public static func read(path: String, progress: ((Int) -> Void)? = nil) throws -> (
        tensors: [String: RawTensor], order: [String], metadata: [String: String]
    ) {
        let f = try readFile(path: path, progress: progress)
        return (f.tensors, f.ordered.map(\.0), f.metadata)
    }

    /// Like `read(path:)` but returns the tensors as an ordered list.
    public static func readFile(path: String, progress: ((Int) -> Void)? = nil) throws -> File {
        let map = try MappedFile(path: path)
        let (entries, metadata, dataStart) = try parseHeader(map.bytes, path: path)
        let ordered = entries.map { e in
            let slice = UnsafeRawBufferPointer(
                rebasing: map.bytes[(dataStart + e.dataOffsets.lowerBound) ..< (dataStart + e.dataOffsets.upperBound)])
            let t = RawTensor(unchecked: e.dtype, shape: e.shape, bytes: copyBytes(slice))
            progress?(slice.count)
            return (e.name, t)
        }
        return File(ordered: ordered, metadata: metadata)
    }

    /// Reads only the validated header: entries in data order (offsets relative to the data section) and metadata.
    public static func readHeader(path: String) throws -> (entries: [Entry], metadata: [String: String]) {
        let map = try MappedFile(path: path)
        let (entries, metadata, _) = try parseHeader(map.bytes, path: path)
        return (entries, metadata)
    }

    /// Validates the header of a complete safetensors image held in `bytes`.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws -> (
        entries: [Entry], metadata: [String: String], dataStart: Int
    ) {
        func fail(_ m: String) -> TensorFileError { TensorFileError(path, "invalid safetensors file: \(m)") }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, expected at least an 8-byte header length")
        }
        let n64 = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard n64 <= UInt64(bytes.count - 8) else {
            throw fail("header length \(n64) exceeds the \(bytes.count - 8) bytes that follow it")
        }
        let n = Int(n64)
        guard n <= maxHeaderSize else { throw fail("header length \(n) exceeds the \(maxHeaderSize)-byte limit") }
        guard n >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw fail("header must be a JSON object starting with '{'")
        }
        let json: JSON
        do { json = try JSON.parse(UnsafeRawBufferPointer(rebasing: bytes[8 ..< (8 + n)])) } catch {
            throw fail("header is not valid JSON (\(error.message))")
        }
        guard case .object(let items) = json else { throw fail("header must be a JSON object") }
        let dataSize = bytes.count - 8 - n
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var seen = Set<String>()
        for (name, value) in items {
            guard seen.insert(name).inserted else { throw fail("duplicate entry '\(name)'") }
            if name == "__metadata__" {
                guard case .object(let kv) = value else { throw fail("__metadata__ must be an object of strings") }
                for (k, v) in kv {
                    guard case .string(let s) = v else { throw fail("__metadata__ value for '\(k)' must be a string") }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name, value, dataSize: dataSize, fail: fail))
        }
        entries.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < (
                $1.dataOffsets.lowerBound, $1.dataOffsets.upperBound
            )
        }
        var covered = 0
        var previous: String?
        for e in entries {
            if e.dataOffsets.lowerBound < covered {
                throw fail(
                    "tensor '\(e.name)' bytes \(e.dataOffsets) overlap tensor '\(previous ?? "")' "
                        + "(which ends at \(covered))"
                )
            }
            if e.dataOffsets.lowerBound > covered {
                throw fail(
                    "data bytes \(covered)..<\(e.dataOffsets.lowerBound) before tensor '\(e.name)' belong to no tensor")
            }
            covered = e.dataOffsets.upperBound
            previous = e.name
        }
        guard covered == dataSize else {
            throw fail("data section has \(dataSize) bytes but the tensors cover only \(covered)")
        }
        return (entries, metadata, 8 + n)
    }

    private static func parseEntry(_ name: String, _ value: JSON, dataSize: Int, fail: (String) -> TensorFileError)
        throws -> Entry
    {
        guard case .object(let fields) = value else { throw fail("tensor '\(name)': entry must be an object") }
        let field = { (k: String) in fields.first { $0.0 == k }?.1 }
        guard case .string(let dt)? = field("dtype") else {
            throw fail("tensor '\(name)': missing string field 'dtype'")
        }
        guard let dtype = TensorDType(safetensorsName: dt) else {
            throw fail(
                "tensor '\(name)': unknown or unsupported dtype '\(dt)' (expected one of "
                    + "\(TensorDType.allCases.map(\.safetensorsName).joined(separator: ", ")))"
            )
        }
        guard case .array(let dims)? = field("shape") else {
            throw fail("tensor '\(name)': missing array field 'shape'")
        }
        var shape: [Int] = []
        for d in dims {
            guard let v = d.int, v >= 0 else {
                throw fail("tensor '\(name)': shape \(JSON.array(dims).text) must hold non-negative integers")
            }
            shape.append(v)
        }
        guard case .array(let offs)? = field("data_offsets"), offs.count == 2, let begin = offs[0].int,
            let end = offs[1].int
        else {
            throw fail("tensor '\(name)': 'data_offsets' must be [begin, end] integers")
        }
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw fail(
                "tensor '\(name)': data_offsets [\(begin), \(end)] lie outside the \(dataSize)-byte data section")
        }
        guard let numel = Checked.product(shape), let size = Checked.mul(numel, dtype.elementSize) else {
            throw fail("tensor '\(name)': shape \(shape) overflows the addressable size")
        }
        guard end - begin == size else {
            throw fail(
                "tensor '\(name)': shape \(shape) of \(dt) needs \(size) bytes but data_offsets span \(end - begin)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, dataOffsets: begin ..< end)
    }

    /// Writes tensors in the given order (atomically: temp file in the same directory, then rename).
    /// The header is padded with spaces to a multiple of 8 bytes; `__metadata__` comes first when non-empty.
    /// `progress`: called with each tensor's byte count once it is written.
    public static func write(
        _ tensors: [(String, RawTensor)], metadata: [String: String] = [:], to path: String,
        progress: ((Int) -> Void)? = nil
    ) throws {
        var items: [(String, JSON)] = []
        if !metadata.isEmpty {
            items.append(
                ("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })))
        }
        var names = Set<String>()
        var offset = 0
        for (name, t) in tensors {
            guard name != "__metadata__", names.insert(name).inserted else {
                throw TensorFileError(path, "cannot write safetensors: duplicate or reserved tensor name '\(name)'")
            }
            guard t.bytes.count == t.count * t.dtype.elementSize else {
                throw TensorFileError(
                    path,
                    "cannot write safetensors: tensor '\(name)' has \(t.bytes.count) bytes, shape \(t.shape) "
                        + "needs \(t.count * t.dtype.elementSize)"
                )
            }
            items.append(
                (
                    name,
                    .object([
                        ("dtype", .string(t.dtype.safetensorsName)),
                        ("shape", .array(t.shape.map { .number(String($0)) })),
                        ("data_offsets", .array([.number(String(offset)), .number(String(offset + t.bytes.count))]))
                    ])
                ))
            offset += t.bytes.count
        }
        var header = Array(JSON.object(items).text.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        try FileSink.atomicWrite(to: path) { sink in
            var w = ByteWriter()
            w.u64(header.count)
            try sink.write(w.bytes)
            try sink.write(header)
            for (_, t) in tensors {
                try sink.write(t.bytes)
                progress?(t.bytes.count)
            }
        }
    }

    /// Convenience: writes a name→tensor dictionary with names sorted.
    public static func write(_ tensors: [String: RawTensor], metadata: [String: String] = [:], to path: String) throws {
        try write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: metadata, to: path)
    }
}
