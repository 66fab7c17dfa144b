/// Minimal ZIP support for torch.save archives: stored (uncompressed) entries, ZIP64 records, 64-byte aligned data.
struct ZipReader {
    struct Entry {
        let name: String
        /// Byte range of the entry's data inside the mapped file.
        let range: Range<Int>
    }

    let file: MappedFile
    let entries: [Entry]
    private let index: [String: Int]

    init(_ file: MappedFile) throws {
        self.file = file
        let path = file.path
        func fail(_ m: String) -> TensorFileError { TensorFileError(path, "invalid or truncated zip archive: \(m)") }
        let size = file.count
        guard size >= 22 else { throw fail("file is \(size) bytes, too short for an end-of-central-directory record") }
        // Locate the end-of-central-directory record scanning back over a possible comment.
        var eocd = -1
        var p = size - 22
        let stop = max(0, size - 22 - 65_535)
        while p >= stop {
            if file.u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (expected signature PK\\5\\6)") }
        var count = file.u16(eocd + 10)
        var cdSize = file.u32(eocd + 12)
        var cdOffset = file.u32(eocd + 16)
        if eocd >= 20, file.u32(eocd - 20) == 0x0706_4B50 {
            let rec64 = file.u64(eocd - 20 + 8)
            guard size >= 56, rec64 <= UInt64(size - 56), file.u32(Int(rec64)) == 0x0606_4B50 else {
                throw fail("bad ZIP64 end-of-central-directory locator")
            }
            let r = Int(rec64)
            guard file.u64(r + 32) <= UInt64(Int.max), file.u64(r + 40) <= UInt64(Int.max),
                file.u64(r + 48) <= UInt64(Int.max)
            else {
                throw fail("ZIP64 record sizes out of range")
            }
            count = Int(file.u64(r + 32))
            cdSize = Int(file.u64(r + 40))
            cdOffset = Int(file.u64(r + 48))
        }
        guard cdOffset <= size, cdSize <= size - cdOffset else {
            throw fail("central directory (offset \(cdOffset), \(cdSize) bytes) lies beyond the \(size)-byte file")
        }
        guard count <= cdSize / 46 else {
            throw fail("\(count) entries cannot fit in a \(cdSize)-byte central directory")
        }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for _ in 0 ..< count {
            guard q + 46 <= cdEnd, file.u32(q) == 0x0201_4B50 else {
                throw fail("bad central directory entry at offset \(q)")
            }
            let method = file.u16(q + 10)
            var csize = file.u32(q + 20), usize = file.u32(q + 24)
            let nameLen = file.u16(q + 28), extraLen = file.u16(q + 30), commentLen = file.u16(q + 32)
            var local = file.u32(q + 42)
            guard q + 46 + nameLen + extraLen + commentLen <= cdEnd else {
                throw fail("central directory entry at offset \(q) overruns the directory")
            }
            let name = String(decoding: file.bytes[(q + 46) ..< (q + 46 + nameLen)], as: UTF8.self)
            // ZIP64 extended information: only the fields whose 32-bit slots are saturated, in fixed order.
            var e = q + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = file.u16(e), len = file.u16(e + 2)
                guard e + 4 + len <= extraEnd else { break }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws -> Int {
                        guard f + 8 <= e + 4 + len, file.u64(f) <= UInt64(Int.max) else {
                            throw fail("bad ZIP64 extra field for '\(name)'")
                        }
                        defer { f += 8 }
                        return Int(file.u64(f))
                    }
                    if usize == 0xFFFF_FFFF { usize = try next() }
                    if csize == 0xFFFF_FFFF { csize = try next() }
                    if local == 0xFFFF_FFFF { local = try next() }
                }
                e += 4 + len
            }
            guard method == 0 else {
                throw TensorFileError(
                    path,
                    "zip entry '\(name)' is compressed (method \(method)); only stored entries, as torch.save writes, "
                        + "are supported"
                )
            }
            guard csize == usize else {
                throw fail("stored entry '\(name)' has compressed size \(csize) ≠ size \(usize)")
            }
            guard local <= size - 30, file.u32(local) == 0x0403_4B50 else {
                throw fail("entry '\(name)' has no local header at offset \(local)")
            }
            let start = local + 30 + file.u16(local + 26) + file.u16(local + 28)
            guard start <= size, usize <= size - start else {
                throw fail(
                    "entry '\(name)' data (\(usize) bytes at offset \(start)) extends past the end of the "
                        + "\(size)-byte file"
                )
            }
            index[name] = entries.count
            entries.append(Entry(name: name, range: start ..< (start + usize)))
            q += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
        self.index = index
    }

    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    func bytes(of entry: Entry) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: file.bytes[entry.range]) }
}

/// Streams stored entries into a ZIP file with each entry's data aligned to `alignment` bytes (torch uses 64).
final class ZipWriter {
    private let sink: FileSink
    private let alignment: Int
    /// Write ZIP64 records even for small archives (used by tests to exercise the >4 GB layout).
    private let forceZip64: Bool
    private var central: [(name: [UInt8], crc: UInt32, size: Int, offset: Int)] = []

    init(sink: FileSink, alignment: Int = 64, forceZip64: Bool = false) {
        self.sink = sink
        self.alignment = alignment
        self.forceZip64 = forceZip64
    }

    func add(_ name: String, _ data: UnsafeRawBufferPointer) throws {
        let nameBytes = Array(name.utf8)
        let offset = sink.offset
        let size = data.count
        let zip64 = forceZip64 || size >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF
        let crc = CRC32.checksum(data)
        var w = ByteWriter()
        w.u32(0x0403_4B50)
        w.u16(zip64 ? 45 : 20)
        w.u16(0x0800)  // UTF-8 names
        w.u16(0)  // stored
        w.u16(0); w.u16(0x21)  // time, date (1980-01-01)
        w.u32(Int(crc))
        w.u32(zip64 ? 0xFFFF_FFFF : size)
        w.u32(zip64 ? 0xFFFF_FFFF : size)
        w.u16(nameBytes.count)
        var extra = ByteWriter()
        if zip64 { extra.u16(0x0001); extra.u16(16); extra.u64(size); extra.u64(size) }
        let unpadded = offset + 30 + nameBytes.count + extra.bytes.count + 4
        let pad = (alignment - unpadded % alignment) % alignment
        extra.u16(0x4246)  // "FB" padding record, as torch writes
        extra.u16(pad)
        extra.append(repeatElement(0, count: pad))
        w.u16(extra.bytes.count)
        w.append(nameBytes)
        w.append(extra.bytes)
        try sink.write(w.bytes)
        try sink.write(data)
        central.append((nameBytes, crc, size, offset))
    }

    func add(_ name: String, _ data: [UInt8]) throws { try data.withUnsafeBytes { try add(name, $0) } }

    /// Writes the central directory and end records (ZIP64 ones when offsets, sizes or counts need them).
    func finish() throws {
        let cdOffset = sink.offset
        var w = ByteWriter()
        for e in central {
            let big = forceZip64 || e.size >= 0xFFFF_FFFF || e.offset >= 0xFFFF_FFFF
            w.u32(0x0201_4B50)
            w.u16(big ? 45 : 20); w.u16(big ? 45 : 20)
            w.u16(0x0800); w.u16(0); w.u16(0); w.u16(0x21)
            w.u32(Int(e.crc))
            w.u32(big ? 0xFFFF_FFFF : e.size); w.u32(big ? 0xFFFF_FFFF : e.size)
            w.u16(e.name.count)
            w.u16(big ? 28 : 0)
            w.u16(0); w.u16(0); w.u16(0); w.u32(0)
            w.u32(big ? 0xFFFF_FFFF : e.offset)
            w.append(e.name)
            if big { w.u16(0x0001); w.u16(24); w.u64(e.size); w.u64(e.size); w.u64(e.offset) }
        }
        let cdSize = w.bytes.count
        let needs64 = forceZip64 || central.count >= 0xFFFF || cdOffset >= 0xFFFF_FFFF || cdSize >= 0xFFFF_FFFF
        if needs64 {
            let rec = cdOffset + cdSize
            w.u32(0x0606_4B50); w.u64(44); w.u16(45); w.u16(45); w.u32(0); w.u32(0)
            w.u64(central.count); w.u64(central.count); w.u64(cdSize); w.u64(cdOffset)
            w.u32(0x0706_4B50); w.u32(0); w.u64(rec); w.u32(1)
        }
        w.u32(0x0605_4B50); w.u16(0); w.u16(0)
        w.u16(needs64 ? 0xFFFF : central.count); w.u16(needs64 ? 0xFFFF : central.count)
        w.u32(needs64 ? 0xFFFF_FFFF : cdSize); w.u32(needs64 ? 0xFFFF_FFFF : cdOffset)
        w.u16(0)
        try sink.write(w.bytes)
    }
}

/// CRC-32 (IEEE 802.3, reflected), slicing-by-8.
enum CRC32 {
    static let tables: [[UInt32]] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0 ..< 256 {
            var c = UInt32(i)
            for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0 ..< 256 {
            for k in 1 ..< 8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        let n = data.count
        guard n > 0 else { return 0 }
        let flat = tables.flatMap { $0 }
        flat.withUnsafeBufferPointer { t in
            var i = 0
            while i + 8 <= n {
                let lo = data.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ crc
                let hi = data.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                crc =
                    t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(data[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
