// Still images: JPEG (TurboJPEG) and PNG (libpng simplified API), always 8-bit RGB in memory.
import CPNG
import CTurboJPEG
import Foundation

/// An 8-bit RGB image, rows top to bottom, `pixels.count == width * height * 3`.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3, "Image: pixel count mismatch")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// File formats recognised by their leading bytes.
    public enum Format: Sendable { case jpeg, png }

    /// Detects the format from magic bytes (nil if neither JPEG nor PNG).
    public static func format(of bytes: some Collection<UInt8>) -> Format? {
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        return nil
    }

    /// Loads a JPEG or PNG (detected by content, not extension). Grey and palette images are
    /// expanded to RGB; alpha is composited onto black.
    public static func load(path: String) throws -> Image {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let missing = !FileManager.default.fileExists(atPath: path)
            throw MediaError(
                path, missing ? .notFound : .io,
                missing ? "no such file" : "cannot read file: \(error.localizedDescription)")
        }
        let bytes = [UInt8](data)
        switch format(of: bytes) {
        case .jpeg: return try decodeJPEG(bytes, path: path)
        case .png: return try decodePNG(bytes, path: path)
        case nil: throw MediaError(path, .unsupported, "not a JPEG or PNG file (unrecognised leading bytes)")
        }
    }

    /// Writes a PNG (lossless).
    public func savePNG(path: String) throws {
        try checkWritable(path)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        let ok = pixels.withUnsafeBytes { buf in
            png_image_write_to_file(&image, path, 0, buf.baseAddress, Int32(width * 3), nil)
        }
        let message = Self.pngMessage(&image)
        png_image_free(&image)
        guard ok != 0 else { throw MediaError(path, .io, "PNG write failed: \(message)") }
    }

    /// Writes a baseline JPEG with 4:2:0 chroma subsampling; `quality` is 1...100.
    public func saveJPEG(path: String, quality: Int = 90) throws {
        try checkWritable(path)
        guard (1 ... 100).contains(quality) else {
            throw MediaError(path, .invalidArgument, "JPEG quality must be 1...100, got \(quality)")
        }
        guard let handle = tjInitCompress() else { throw MediaError(path, .io, "cannot initialise TurboJPEG") }
        defer { tjDestroy(handle) }
        var jpeg: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        defer { tjFree(jpeg) }
        let rc = pixels.withUnsafeBufferPointer { buf in
            tjCompress2(
                handle, buf.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                &jpeg, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        guard rc == 0, let jpeg else {
            throw MediaError(path, .io, "JPEG encode failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        do {
            try Data(bytes: jpeg, count: Int(size)).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw MediaError(path, .io, "cannot write file: \(error.localizedDescription)")
        }
    }

    // MARK: - Codecs

    private func checkWritable(_ path: String) throws {
        guard width > 0, height > 0 else {
            throw MediaError(path, .invalidArgument, "cannot save an empty \(width)x\(height) image")
        }
    }

    private static func decodeJPEG(_ bytes: [UInt8], path: String) throws -> Image {
        guard let handle = tjInitDecompress() else { throw MediaError(path, .io, "cannot initialise TurboJPEG") }
        defer { tjDestroy(handle) }
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &w, &h, &subsamp, &colorspace)
        }
        guard header == 0, w > 0, h > 0 else {
            throw MediaError(path, .corrupt, "invalid JPEG header: \(String(cString: tjGetErrorStr2(handle)))")
        }
        guard Int(w) * Int(h) <= 1 << 28 else { throw MediaError(path, .corrupt, "implausible JPEG size \(w)x\(h)") }
        // CMYK and YCCK JPEGs (Photoshop, print pipelines) decode to CMYK as stored: Adobe's inverted convention,
        // so R = c·k/255 (as Pillow's CMYK → RGB of the inverted values).
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        var pixels = [UInt8](repeating: 0, count: Int(w) * Int(h) * channels)
        let rc = bytes.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(
                    handle, src.baseAddress, UInt(src.count), dst.baseAddress, w, 0, h,
                    Int32((cmyk ? TJPF_CMYK : TJPF_RGB).rawValue), 0)
            }
        }
        if rc != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            // Benign warnings (e.g. extraneous bytes) are accepted; truncation is not.
            let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            if !isWarning || message.contains("Premature end") {
                throw MediaError(path, .corrupt, "JPEG decode failed: \(message)")
            }
        }
        return Image(width: Int(w), height: Int(h), pixels: cmyk ? rgb(fromInvertedCMYK: pixels) : pixels)
    }

    /// `[c, m, y, k]` per pixel (Adobe-inverted, as JPEGs store them) → RGB: `r = c·k/255`, rounded.
    static func rgb(fromInvertedCMYK p: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: p.count / 4 * 3)
        for i in 0 ..< p.count / 4 {
            let k = UInt32(p[4 * i + 3])
            for c in 0 ..< 3 { out[3 * i + c] = UInt8((UInt32(p[4 * i + c]) * k + 127) / 255) }
        }
        return out
    }

    private static func decodePNG(_ bytes: [UInt8], path: String) throws -> Image {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        // libpng reads from `bytes` until finish_read, so both calls stay inside one closure.
        return try bytes.withUnsafeBytes { src in
            guard png_image_begin_read_from_memory(&image, src.baseAddress, src.count) != 0 else {
                throw MediaError(path, .corrupt, "invalid PNG: \(pngMessage(&image))")
            }
            let (w, h) = (Int(image.width), Int(image.height))
            guard w > 0, h > 0, w * h <= 1 << 28 else { throw MediaError(path, .corrupt, "invalid PNG size \(w)x\(h)") }
            image.format = UInt32(PNG_FORMAT_RGB)
            // 16-bit channels hold the same (sRGB-encoded) values as 8-bit ones, scaled: libpng would otherwise take
            // them as linear light and gamma-encode them (a brighter picture) unless the file says so (gAMA/sRGB)
            image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
            // Zero-filled buffer: alpha is composited onto black.
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            let ok = pixels.withUnsafeMutableBytes {
                png_image_finish_read(&image, nil, $0.baseAddress, Int32(w * 3), nil)
            }
            guard ok != 0 else { throw MediaError(path, .corrupt, "PNG decode failed: \(pngMessage(&image))") }
            return Image(width: w, height: h, pixels: pixels)
        }
    }

    /// The error/warning text libpng stored in a `png_image`.
    private static func pngMessage(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
