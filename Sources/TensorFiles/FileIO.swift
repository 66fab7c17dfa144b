#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// A read-only memory map of a whole file (empty files are represented without a mapping).
final class MappedFile: @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TensorFileError(path, "cannot open for reading (\(String(cString: strerror(errno))))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw TensorFileError(path, "cannot stat (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TensorFileError(path, "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TensorFileError(path, "cannot memory-map \(size) bytes (\(String(cString: strerror(errno))))")
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit { if let base { munmap(base, bytes.count) } }

    var count: Int { bytes.count }

    func u16(_ o: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) }
    func u32(_ o: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) }
    func u64(_ o: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian }
}

/// Buffered sequential writer used for atomic file output.
final class FileSink {
    let path: String
    fileprivate let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var offset = 0

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw TensorFileError(path, "cannot open for writing (\(String(cString: strerror(errno))))")
        }
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        offset += bytes.count
        if buffer.count + bytes.count <= 1 << 20 {
            buffer.append(contentsOf: bytes)
        } else {
            try flush()
            try writeAll(bytes)
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func flush() throws {
        let b = buffer
        buffer.removeAll(keepingCapacity: true)
        try b.withUnsafeBytes { try writeAll($0) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TensorFileError(path, "write failed (\(String(cString: strerror(errno))))") }
            done += n
        }
    }

    fileprivate var closed = false

    func close() throws {
        try flush()
        closed = true
        let synced = fsync(fd) == 0 || errno == EINVAL
        let syncError = errno
        guard posixClose(fd) == 0 else {
            throw TensorFileError(path, "close failed (\(String(cString: strerror(errno))))")
        }
        guard synced else { throw TensorFileError(path, "fsync failed (\(String(cString: strerror(syncError))))") }
    }

    /// Writes through a temporary file in the destination directory, then renames it over `path`.
    static func atomicWrite(to path: String, _ body: (FileSink) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        let sink = try FileSink(path: tmp)
        do {
            try body(sink)
            try sink.close()
            guard rename(tmp, path) == 0 else {
                throw TensorFileError(
                    path, "cannot rename temporary file into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            if !sink.closed { sink.closed = true; _ = posixClose(sink.fd) }
            unlink(tmp)
            throw error
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsync and rename: a crash never leaves
/// a partial file under `path`.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    try FileSink.atomicWrite(to: path) { try $0.write(bytes) }
}

private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
private func posixClose(_ fd: Int32) -> Int32 { close(fd) }

/// Little-endian byte builder for headers.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: Int) {
        withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func u32(_ v: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func u64(_ v: Int) { withUnsafeBytes(of: UInt64(v).littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func append<S: Sequence>(_ s: S) where S.Element == UInt8 { bytes.append(contentsOf: s) }
}
