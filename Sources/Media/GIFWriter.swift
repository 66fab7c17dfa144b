// Animated GIF writer (own LZW encoder, fixed 6×7×6 colour cube) for visualisations.
import Foundation

/// Writes RGB frames (`[height, width, 3]`) as a looping animated GIF.
///
/// Colours are mapped to a fixed 252-colour cube (6 red × 7 green × 6 blue levels), which is
/// plenty for masks, patches and reconstructions. The file is written atomically by `finish()`.
public final class GIFWriter {
    public let path: String
    public let width: Int
    public let height: Int
    public private(set) var framesWritten = 0
    private var bytes: [UInt8] = []
    private let delay: UInt16
    private var finished = false

    /// - Parameters:
    ///   - fps: playback rate (GIF delays have 1/100 s resolution).
    ///   - loop: repeat forever (otherwise play once).
    public init(path: String, width: Int, height: Int, fps: Double, loop: Bool = true) throws {
        self.path = path
        self.width = width
        self.height = height
        guard (1 ... 65535).contains(width), (1 ... 65535).contains(height) else {
            throw MediaError(path, .invalidArgument, "GIF size must be 1...65535, got \(width)x\(height)")
        }
        guard fps.isFinite, fps > 0 else {
            throw MediaError(path, .invalidArgument, "fps must be positive, got \(fps)")
        }
        delay = UInt16(max(1, min(65535, (100 / fps).rounded())))
        bytes += Array("GIF89a".utf8)
        put16(width)
        put16(height)
        bytes += [0xF7, 0, 0]  // global colour table of 256 entries, 8 bits/channel
        for i in 0 ..< 256 {
            let (r, g, b) = i < 252 ? (i / 42, (i / 6) % 7, i % 6) : (0, 0, 0)
            bytes += [UInt8(r * 51), UInt8(g * 255 / 6), UInt8(b * 51)]
        }
        if loop {  // NETSCAPE2.0 application extension: loop forever
            bytes += [0x21, 0xFF, 11] + Array("NETSCAPE2.0".utf8) + [3, 1, 0, 0, 0]
        }
    }

    /// Appends one frame of `height * width * 3` RGB bytes.
    public func append(rgb: [UInt8]) throws {
        guard !finished else { throw MediaError(path, .invalidArgument, "append after finish") }
        guard rgb.count == width * height * 3 else {
            throw MediaError(
                path, .invalidArgument,
                "expected \(width * height * 3) RGB bytes (\(width)x\(height)x3), got \(rgb.count)")
        }
        var indices = [UInt8](repeating: 0, count: width * height)
        for i in 0 ..< indices.count {
            let r = (Int(rgb[3 * i]) * 5 + 127) / 255
            let g = (Int(rgb[3 * i + 1]) * 6 + 127) / 255
            let b = (Int(rgb[3 * i + 2]) * 5 + 127) / 255
            indices[i] = UInt8(r * 42 + g * 6 + b)
        }
        bytes += [0x21, 0xF9, 4, 0x04]  // graphic control: dispose = leave in place
        put16(Int(delay))
        bytes += [0, 0]
        bytes += [0x2C, 0, 0, 0, 0]  // image descriptor at (0, 0)
        put16(width)
        put16(height)
        bytes += [0, 8]  // no local table; LZW minimum code size 8
        let data = Self.lzw(indices)
        var start = 0
        while start < data.count {
            let n = min(255, data.count - start)
            bytes.append(UInt8(n))
            bytes += data[start ..< start + n]
            start += n
        }
        bytes.append(0)
        framesWritten += 1
    }

    /// Writes the file.
    public func finish() throws {
        guard !finished else { return }
        guard framesWritten > 0 else { throw MediaError(path, .invalidArgument, "GIF has no frames") }
        bytes.append(0x3B)
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw MediaError(path, .io, "cannot write file: \(error.localizedDescription)")
        }
        finished = true
        bytes = []
    }

    private func put16(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }

    /// GIF-flavoured LZW (variable code size 9...12 bits, LSB-first) of 8-bit indices.
    static func lzw(_ input: [UInt8]) -> [UInt8] {
        let clear = 256, end = 257
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 2)
        var acc = 0, nbits = 0
        var codeSize = 9, next = 258
        var table: [Int32: Int16] = [:]
        table.reserveCapacity(4096)
        func emit(_ code: Int) {
            acc |= code << nbits
            nbits += codeSize
            while nbits >= 8 {
                out.append(UInt8(acc & 0xFF))
                acc >>= 8
                nbits -= 8
            }
        }
        emit(clear)
        guard var prefix = input.first.map(Int.init) else {
            emit(end)
            if nbits > 0 { out.append(UInt8(acc & 0xFF)) }
            return out
        }
        for k in input.dropFirst() {
            let key = Int32(prefix << 8 | Int(k))
            if let code = table[key] {
                prefix = Int(code)
                continue
            }
            emit(prefix)
            if next < 4096 {
                table[key] = Int16(next)
                next += 1
                if next > 1 << codeSize { codeSize += 1 }
            } else {
                emit(clear)
                table.removeAll(keepingCapacity: true)
                codeSize = 9
                next = 258
            }
            prefix = Int(k)
        }
        emit(prefix)
        // The decoder adds one more entry after reading the last code; follow its size change.
        if next == 1 << codeSize && codeSize < 12 { codeSize += 1 }
        emit(end)
        if nbits > 0 { out.append(UInt8(acc & 0xFF)) }
        return out
    }
}

extension VideoClip {
    /// Saves the clip as an animated GIF.
    public func saveGIF(path: String, fps: Double) throws {
        let gif = try GIFWriter(path: path, width: width, height: height, fps: fps)
        for t in 0 ..< frames { try gif.append(rgb: Array(frame(t))) }
        try gif.finish()
    }

    /// Saves the clip as a video (container from the extension; width and height must be even).
    public func saveVideo(path: String, fps: Double, codec: VideoCodec = .automatic) throws {
        let writer = try VideoWriter(path: path, width: width, height: height, fps: fps, codec: codec)
        for t in 0 ..< frames {
            try pixels[t * frameSize ..< (t + 1) * frameSize].withUnsafeBufferPointer { try writer.append(rgb: $0) }
        }
        try writer.finish()
    }
}
