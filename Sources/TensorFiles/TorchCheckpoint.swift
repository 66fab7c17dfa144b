import Foundation

/// `torch.save` checkpoints (the zip format written since PyTorch 1.6), read with a weights-only unpickler.
///
/// Layout: a stored ZIP holding `<archive>/data.pkl` (pickle), `<archive>/data/<key>` (one raw little-endian blob
/// per storage), `<archive>/byteorder`, `<archive>/version`, and a few bookkeeping files.
public enum TorchCheckpoint {
    /// Loads a checkpoint. Tensors are lazy `TensorRef`s onto the memory-mapped file; `materialize()` copies them out.
    public static func load(path: String) throws -> PickleValue {
        let file = try MappedFile(path: path)
        if file.count >= 2, file.bytes[0] == 0x80, file.count < 4 || file.u32(0) != 0x0403_4B50 {
            throw TensorFileError(
                path, "legacy (pre-1.6, non-zip) torch.save format is not supported; re-save with torch.save")
        }
        let zip = try ZipReader(file)
        guard
            let pkl = zip.entries.first(where: {
                $0.name.hasSuffix("data.pkl") && $0.name.split(separator: "/").count <= 2
            })
        else {
            throw TensorFileError(path, "not a torch.save archive: no '<archive>/data.pkl' entry")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let bo = zip.entry(prefix + "byteorder") {
            let order = String(decoding: zip.bytes(of: bo), as: UTF8.self)
            guard order == "little" else {
                throw TensorFileError(path, "byteorder '\(order)' is not supported (expected 'little')")
            }
        }
        var storages: [String: TensorStorage] = [:]
        let loader: Unpickler.StorageLoader = { dtype, key, numel in
            if let s = storages[key] { return s }
            guard let entry = zip.entry(prefix + "data/" + key) else {
                throw TensorFileError(
                    path, "storage '\(key)' referenced by data.pkl has no entry '\(prefix)data/\(key)'")
            }
            guard let need = Checked.mul(numel, dtype.elementSize), need >= 0, entry.range.count >= need else {
                throw TensorFileError(
                    path,
                    "storage '\(key)' holds \(entry.range.count) bytes, expected \(numel) × \(dtype.elementSize)")
            }
            let s = TensorStorage(
                dtype: dtype, file: file, range: entry.range.lowerBound ..< (entry.range.lowerBound + need))
            storages[key] = s
            return s
        }
        var unpickler = Unpickler(data: zip.bytes(of: pkl), source: path, loadStorage: loader)
        return try unpickler.load()
    }

    /// Loads the first state dict found at one of `paths` (default: `model`, `model_state`, `state_dict`, then the
    /// top level), materialised in file order. `progress`: called with each tensor's byte count once it is read.
    public static func loadStateDict(
        path: String, candidates: [[String]] = [["model"], ["model_state"], ["state_dict"], []],
        progress: ((Int) -> Void)? = nil
    ) throws -> [(String, RawTensor)] {
        let value = try load(path: path)
        for c in candidates {
            guard let v = value.value(at: c), let d = v.dictValue,
                d.entries.contains(where: { $0.value.tensorValue != nil })
            else { continue }
            do { return try value.stateDict(at: c, progress: progress) } catch let e as TensorFileError {
                throw TensorFileError(path, e.message)
            }
        }
        throw TensorFileError(path, "no state dict (a dict of tensors) at any of \(candidates)")
    }

    /// Decodes a standalone pickle (no storages) with the same allowlist; useful for tests and tooling.
    public static func unpickle(_ bytes: [UInt8], source: String = "<pickle>") throws -> PickleValue {
        try bytes.withUnsafeBytes { buf in
            var u = Unpickler(data: buf, source: source, loadStorage: nil)
            return try u.load()
        }
    }

    /// Writes `value` as a torch.save zip archive that `torch.load(path, weights_only=True)` accepts.
    ///
    /// Dicts with `isOrderedDict` become `collections.OrderedDict`; tensors are written with
    /// `torch._utils._rebuild_tensor_v2` over typed storages (`torch.FloatStorage`, …), one storage per distinct
    /// `TensorStorage` so shared views stay shared; `argparse.Namespace` objects are written as plain dicts of their
    /// attributes (Python then sees a dict, not a Namespace); bare `torch.<dtype>` globals are written as globals.
    /// The file is written to a temporary file in the same directory and renamed into place. `progress`: called with
    /// each storage's byte count once it is written.
    public static func save(_ value: PickleValue, to path: String, progress: ((Int) -> Void)? = nil) throws {
        try save(value, to: path, forceZip64: false, progress: progress)
    }

    static func save(
        _ value: PickleValue, to path: String, forceZip64: Bool, progress: ((Int) -> Void)? = nil
    ) throws {
        var pickler = Pickler(path: path)
        try pickler.emit(value)
        pickler.finish()
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let archive =
            stem.isEmpty || stem.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            ? "archive" : stem
        try FileSink.atomicWrite(to: path) { sink in
            let zip = ZipWriter(sink: sink, alignment: 64, forceZip64: forceZip64)
            try zip.add("\(archive)/data.pkl", pickler.out)
            try zip.add("\(archive)/.format_version", Array("1".utf8))
            try zip.add("\(archive)/.storage_alignment", Array("64".utf8))
            try zip.add("\(archive)/byteorder", Array("little".utf8))
            for (key, storage) in pickler.storages.enumerated() {
                let n = try storage.withUnsafeBytes {
                    try zip.add("\(archive)/data/\(key)", $0)
                    return $0.count
                }
                progress?(n)
            }
            try zip.add("\(archive)/version", Array("3\n".utf8))
            let id = (0 ..< 40).map { _ in String(Int.random(in: 0 ... 9)) }.joined()
            try zip.add("\(archive)/.data/serialization_id", Array(id.utf8))
            try zip.finish()
        }
    }

    /// Convenience: saves `{key: OrderedDict(tensors)}` plus extra top-level entries (e.g. `epoch`).
    public static func save(
        stateDict tensors: [(String, RawTensor)], key: String = "model", extra: [(String, PickleValue)] = [],
        to path: String, progress: ((Int) -> Void)? = nil
    ) throws {
        let sd = PickleDict(tensors.map { (.string($0.0), .tensor(TensorRef($0.1))) }, isOrderedDict: true)
        var top = PickleDict([(.string(key), .dict(sd))])
        for (k, v) in extra { top[.string(k)] = v }
        try save(.dict(top), to: path, progress: progress)
    }
}

/// Protocol-2 pickle writer for the value subset torch checkpoints use.
struct Pickler {
    let path: String
    var out: [UInt8] = [0x80, 0x02]
    var storages: [TensorStorage] = []
    private var storageKeys: [ObjectIdentifier: Int] = [:]
    private var globals: [String: Int] = [:]
    private var memoCount = 0

    init(path: String) { self.path = path }

    mutating func finish() { out.append(0x2E) }

    private mutating func u32(_ v: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out.append(contentsOf: $0) }
    }

    private mutating func int(_ v: Int) {
        if (0 ..< 256).contains(v) {
            out += [0x4B, UInt8(v)]
        } else if (0 ..< 65536).contains(v) {
            out += [0x4D, UInt8(v & 0xFF), UInt8(v >> 8)]
        } else if (Int(Int32.min) ... Int(Int32.max)).contains(v) {
            out.append(0x4A); u32(v)
        } else {
            var bytes = withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) }
            while bytes.count > 1,
                (bytes[bytes.count - 1] == 0 && bytes[bytes.count - 2] & 0x80 == 0)
                    || (bytes[bytes.count - 1] == 0xFF && bytes[bytes.count - 2] & 0x80 != 0)
            { bytes.removeLast() }
            out += [0x8A, UInt8(bytes.count)] + bytes
        }
    }

    private mutating func string(_ s: String) {
        let b = Array(s.utf8)
        out.append(0x58); u32(b.count); out += b
    }

    private mutating func global(_ module: String, _ name: String) {
        let full = module + "\n" + name + "\n"
        if let m = globals[full] {
            if m < 256 { out += [0x68, UInt8(m)] } else { out.append(0x6A); u32(m) }
            return
        }
        out.append(0x63); out += Array(full.utf8)
        globals[full] = memoCount
        if memoCount < 256 { out += [0x71, UInt8(memoCount)] } else { out.append(0x72); u32(memoCount) }
        memoCount += 1
    }

    private mutating func tuple(_ body: (inout Pickler) throws -> Void) rethrows {
        out.append(0x28); try body(&self); out.append(0x74)
    }

    mutating func emit(_ v: PickleValue, depth: Int = 0) throws {
        guard depth < 500 else { throw TensorFileError(path, "cannot save: value nested too deeply") }
        switch v {
        case .none: out.append(0x4E)
        case .bool(let b): out.append(b ? 0x88 : 0x89)
        case .int(let i): int(i)
        case .double(let d):
            out.append(0x47); withUnsafeBytes(of: d.bitPattern.bigEndian) { out.append(contentsOf: $0) }
        case .string(let s): string(s)
        case .bytes(let b):
            // Protocol 2 has no bytes opcode for Python 3: pickle uses _codecs.encode(latin1 text, 'latin1').
            global("_codecs", "encode")
            tuple { p in
                p.string(String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) })))
                p.string("latin1")
            }
            out.append(0x52)
        case .list(let items):
            out.append(0x5D)
            if !items.isEmpty {
                out.append(0x28)
                for x in items { try emit(x, depth: depth + 1) }
                out.append(0x65)
            }
        case .tuple(let items):
            out.append(0x28)
            for x in items { try emit(x, depth: depth + 1) }
            out.append(0x74)
        case .dict(let d): try dict(d, depth: depth)
        case .object(name: "argparse.Namespace", state: let s):
            guard let d = s.dictValue else {
                throw TensorFileError(path, "cannot save: argparse.Namespace state is not a dict")
            }
            try dict(PickleDict(d.entries, isOrderedDict: false), depth: depth)
        case .object(name: let name, state: .none)
        where name.hasPrefix("torch.") && TensorDType(torchName: String(name.dropFirst(6))) != nil:
            global("torch", String(name.dropFirst(6)))
        case .object(name: let name, state: _):
            throw TensorFileError(
                path,
                "cannot save object of type '\(name)' (only dicts, lists, tuples, scalars, strings, tensors "
                    + "and argparse.Namespace)"
            )
        case .tensor(let t): try tensor(t)
        }
    }

    private mutating func dict(_ d: PickleDict, depth: Int) throws {
        if d.isOrderedDict {
            global("collections", "OrderedDict")
            out += [0x29, 0x52]
        } else {
            out.append(0x7D)
        }
        for start in stride(from: 0, to: d.entries.count, by: 1000) {
            out.append(0x28)
            for (k, v) in d.entries[start ..< min(start + 1000, d.entries.count)] {
                switch k {
                case .string(let s): string(s)
                case .int(let i): int(i)
                }
                try emit(v, depth: depth + 1)
            }
            out.append(0x75)
        }
    }

    private mutating func tensor(_ t: TensorRef) throws {
        var t = t
        if t.storage.dtype != t.dtype {
            // A view whose dtype differs from its (untyped) storage: write its own typed storage.
            t = TensorRef(try t.materialize(), requiresGrad: t.requiresGrad)
        }
        let shape = t.shape, strides = t.strides
        _ = try checkView(
            storageBytes: t.storage.byteCount, elementSize: t.dtype.elementSize, offset: t.storageOffset,
            shape: shape, strides: strides, path: path
        ) { "cannot save tensor of \(t.dtype) \(shape)" }
        let id = ObjectIdentifier(t.storage)
        let key: Int
        if let k = storageKeys[id] {
            key = k
        } else {
            key = storages.count
            storageKeys[id] = key
            storages.append(t.storage)
        }
        global("torch._utils", "_rebuild_tensor_v2")
        let storage = t.storage
        try tuple { p in
            p.tuple { q in
                q.string("storage")
                q.global("torch", storage.dtype.torchStorageName)
                q.string(String(key))
                q.string("cpu")
                q.int(storage.count)
            }
            p.out.append(0x51)  // BINPERSID
            p.int(t.storageOffset)
            try p.emit(.tuple(t.shape.map { .int($0) }))
            try p.emit(.tuple(t.strides.map { .int($0) }))
            p.out.append(t.requiresGrad ? 0x88 : 0x89)
            p.global("collections", "OrderedDict")
            p.out += [0x29, 0x52]
        }
        out.append(0x52)
    }
}
