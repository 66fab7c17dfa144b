import Foundation

/// NumPy `.npy` files (format 1.0 written; 1.0–3.0 read), e.g. float32 `[N, D]` embeddings.
public enum Npy {
    /// Writes a little-endian C-order array with a v1.0 header padded so the data starts on a 64-byte boundary.
    public static func write(_ tensor: RawTensor, to path: String) throws {
        let header = try header(tensor, path: path)
        try FileSink.atomicWrite(to: path) { sink in
            try sink.write(header)
            try sink.write(tensor.bytes)
        }
    }

    /// Writes `.npz` (what `numpy.savez` writes: an uncompressed zip of `<name>.npy` members), e.g. optimized-stmae's
    /// `embeddings` + `labels`.
    public static func writeNpz(_ arrays: [(String, RawTensor)], to path: String) throws {
        try FileSink.atomicWrite(to: path) { sink in
            let zip = ZipWriter(sink: sink)
            for (name, t) in arrays { try zip.add(name + ".npy", try header(t, path: path) + t.bytes) }
            try zip.finish()
        }
    }

    /// Magic, version 1.0, header length and the header dict, padded to 64 bytes.
    static func header(_ tensor: RawTensor, path: String) throws -> [UInt8] {
        guard let descr = tensor.dtype.numpyDescr else {
            throw TensorFileError(
                path, "cannot write .npy: numpy has no \(tensor.dtype) dtype (convert to float32 first)")
        }
        guard tensor.bytes.count == tensor.count * tensor.dtype.elementSize else {
            throw TensorFileError(
                path, "cannot write .npy: \(tensor.bytes.count) bytes do not match shape \(tensor.shape)")
        }
        let shape =
            tensor.shape.count == 1
            ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }".utf8)
        let total = 10 + header.count + 1
        header += repeatElement(UInt8(ascii: " "), count: (64 - total % 64) % 64)
        header.append(0x0A)
        guard header.count <= 65_535 else {
            throw TensorFileError(path, "cannot write .npy: header too long for format 1.0")
        }
        var w = ByteWriter()
        w.append([0x93] + Array("NUMPY".utf8) + [1, 0])
        w.u16(header.count)
        w.append(header)
        return w.bytes
    }

    /// Reads an array; Fortran-order arrays are transposed into C order.
    public static func read(path: String) throws -> RawTensor {
        let f = try MappedFile(path: path)
        func fail(_ m: String) -> TensorFileError { TensorFileError(path, "invalid .npy file: \(m)") }
        guard f.count >= 10, f.bytes[0] == 0x93, Array(f.bytes[1 ..< 6]) == Array("NUMPY".utf8) else {
            throw fail("missing \\x93NUMPY magic")
        }
        let major = f.bytes[6]
        let headerLen: Int, start: Int
        switch major {
        case 1: headerLen = f.u16(8); start = 10
        case 2, 3:
            guard f.count >= 12 else { throw fail("truncated header") }
            headerLen = f.u32(8); start = 12
        default: throw fail("unsupported format version \(major).\(f.bytes[7])")
        }
        guard headerLen <= f.count - start else { throw fail("header length \(headerLen) exceeds the file") }
        let header = String(decoding: f.bytes[start ..< (start + headerLen)], as: UTF8.self)
        let dict = try parseHeader(header, fail: fail)
        guard let descr = dict["descr"], let dtype = TensorDType(numpyDescr: descr) else {
            throw fail(
                "unsupported descr '\(dict["descr"] ?? "?")' "
                    + "(expected little-endian bool, int8–64, uint8 or float16–64)"
            )
        }
        let fortran = dict["fortran_order"] == "True"
        guard let shapeText = dict["shape"] else { throw fail("header has no 'shape'") }
        let shape = try shapeText.split(separator: ",").compactMap { part -> Int? in
            let s = part.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { return nil }
            guard let v = Int(s), v >= 0 else { throw fail("bad shape \(shapeText)") }
            return v
        }
        guard let numel = Checked.product(shape), let size = Checked.mul(numel, dtype.elementSize) else {
            throw fail("shape \(shape) too large")
        }
        let dataStart = start + headerLen
        guard f.count - dataStart >= size else {
            throw fail("expected \(size) data bytes for shape \(shape), found \(f.count - dataStart)")
        }
        let data = UnsafeRawBufferPointer(rebasing: f.bytes[dataStart ..< (dataStart + size)])
        if !fortran || shape.count < 2 { return RawTensor(unchecked: dtype, shape: shape, bytes: copyBytes(data)) }
        var strides = [Int](repeating: 1, count: shape.count)
        for i in 1 ..< shape.count { strides[i] = strides[i - 1] * max(shape[i - 1], 1) }
        let bytes = try gatherStrided(
            storage: data, elementSize: dtype.elementSize, offset: 0, shape: shape, strides: strides, path: path
        ) { "Fortran-order array" }
        return RawTensor(unchecked: dtype, shape: shape, bytes: bytes)
    }

    /// Parses the Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` into raw texts.
    private static func parseHeader(_ text: String, fail: (String) -> TensorFileError) throws -> [String: String] {
        var out: [String: String] = [:]
        let body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard body.hasPrefix("{"), body.hasSuffix("}") else { throw fail("header is not a dict literal") }
        var rest = Substring(body.dropFirst().dropLast())
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let q = rest.first else { break }
            guard q == "'" || q == "\"", let keyEnd = rest.dropFirst().firstIndex(of: q) else {
                throw fail("bad header key")
            }
            let key = String(rest[rest.index(after: rest.startIndex) ..< keyEnd])
            rest = rest[rest.index(after: keyEnd)...].drop { $0 == " " }
            guard rest.first == ":" else { throw fail("expected ':' after '\(key)'") }
            rest = rest.dropFirst().drop { $0 == " " }
            let value: Substring
            if let c = rest.first, c == "'" || c == "\"" {
                guard let end = rest.dropFirst().firstIndex(of: c) else {
                    throw fail("unterminated string for '\(key)'")
                }
                value = rest[rest.index(after: rest.startIndex) ..< end]
                rest = rest[rest.index(after: end)...]
            } else if rest.first == "(" {
                guard let end = rest.firstIndex(of: ")") else { throw fail("unterminated tuple for '\(key)'") }
                value = rest[rest.index(after: rest.startIndex) ..< end]
                rest = rest[rest.index(after: end)...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end]
                rest = rest[end...]
            }
            out[key] = value.trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
