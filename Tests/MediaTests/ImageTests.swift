import CPNG
import CTurboJPEG
import Foundation
import TestSupport
import Testing
@testable import Media

@Suite struct ImageTests {
    /// A smooth gradient with some detail (JPEG-friendly), odd size on purpose.
    static func gradient(width: Int = 37, height: Int = 23) -> Image {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0 ..< height {
            for x in 0 ..< width {
                let o = (y * width + x) * 3
                px[o] = UInt8(x * 255 / (width - 1))
                px[o + 1] = UInt8(y * 255 / (height - 1))
                px[o + 2] = UInt8((x + y) % 2 == 0 ? 200 : 180)
            }
        }
        return Image(width: width, height: height, pixels: px)
    }

    @Test func pngRoundTripIsExact() throws {
        let dir = try TempDir("media")
        let image = Self.gradient()
        try image.savePNG(path: dir.sub("a.png"))
        #expect(try Image.load(path: dir.sub("a.png")) == image)
        // Format comes from the content, not the name.
        try FileManager.default.moveItem(atPath: dir.sub("a.png"), toPath: dir.sub("a.jpg"))
        #expect(try Image.load(path: dir.sub("a.jpg")) == image)
    }

    @Test func jpegRoundTripWithinTolerance() throws {
        let dir = try TempDir("media")
        let image = Self.gradient()
        try image.saveJPEG(path: dir.sub("a.jpg"), quality: 95)
        let back = try Image.load(path: dir.sub("a.jpg"))
        #expect(back.width == image.width && back.height == image.height)
        let diff = zip(back.pixels, image.pixels).map { abs(Int($0) - Int($1)) }
        #expect(Double(diff.reduce(0, +)) / Double(diff.count) < 4, "mean abs error")
        #expect(diff.max()! < 48)
    }

    @Test func greyAndAlphaPNGBecomeRGB() throws {
        let dir = try TempDir("media")
        func write(_ name: String, format: Int32, channels: Int, bytes: [UInt8]) {
            var img = png_image()
            img.version = UInt32(PNG_IMAGE_VERSION)
            img.width = 2
            img.height = 1
            img.format = UInt32(format)
            _ = bytes.withUnsafeBytes {
                png_image_write_to_file(&img, dir.sub(name), 0, $0.baseAddress, Int32(2 * channels), nil)
            }
            png_image_free(&img)
        }
        write("grey.png", format: Int32(PNG_FORMAT_GRAY), channels: 1, bytes: [10, 250])
        #expect(try Image.load(path: dir.sub("grey.png")).pixels == [10, 10, 10, 250, 250, 250])
        write("rgba.png", format: 0x03 /* PNG_FORMAT_RGBA */, channels: 4, bytes: [255, 0, 0, 255, 0, 255, 0, 0])
        // Opaque red stays red; fully transparent green composites onto black.
        #expect(try Image.load(path: dir.sub("rgba.png")).pixels == [255, 0, 0, 0, 0, 0])
    }

    @Test func corruptImagesThrowWithPath() throws {
        let dir = try TempDir("media")
        let image = Self.gradient()
        try image.savePNG(path: dir.sub("ok.png"))
        try image.saveJPEG(path: dir.sub("ok.jpg"))
        let png = try Data(contentsOf: URL(fileURLWithPath: dir.sub("ok.png")))
        let jpg = try Data(contentsOf: URL(fileURLWithPath: dir.sub("ok.jpg")))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: dir.sub("cut.png")))
        try jpg.prefix(jpg.count / 2).write(to: URL(fileURLWithPath: dir.sub("cut.jpg")))
        try Data().write(to: URL(fileURLWithPath: dir.sub("empty.png")))
        try "hello".write(toFile: dir.sub("text.jpg"), atomically: true, encoding: .utf8)
        for name in ["cut.png", "cut.jpg", "empty.png", "text.jpg", "missing.png"] {
            let error = #expect(throws: MediaError.self) { _ = try Image.load(path: dir.sub(name)) }
            #expect(error?.description.hasPrefix(dir.sub(name) + ": ") == true, "\(String(describing: error))")
        }
    }

    @Test func gifDecodesWithFFmpeg() throws {
        let dir = try TempDir("media")
        let path = dir.sub("anim.gif")
        let (w, h) = (30, 20)
        let gif = try GIFWriter(path: path, width: w, height: h, fps: 10)
        for t in 0 ..< 6 {
            var px = [UInt8](repeating: 0, count: w * h * 3)
            for i in 0 ..< w * h {  // left half red-ish by t, right half noise-like pattern
                let x = i % w
                px[3 * i] = x < 15 ? UInt8(t * 51) : UInt8((i * 37) % 256)
                px[3 * i + 1] = x < 15 ? 0 : UInt8((i * 91) % 256)
                px[3 * i + 2] = x < 15 ? 255 : UInt8((i * 13) % 256)
            }
            try gif.append(rgb: px)
        }
        try gif.finish()
        let reader = try VideoReader(path: path)
        #expect(reader.frameCount == 6 && reader.width == w && reader.height == h)
        let clip = try reader.decodeAll()
        for t in 0 ..< 6 {
            let o = t * clip.frameSize + (10 * w + 3) * 3
            #expect(Array(clip.pixels[o ..< o + 3]) == [UInt8(t * 51), 0, 255], "frame \(t)")
        }
    }

    @Test func lzwHandlesLongAndEmptyInputs() throws {
        // Long, high-entropy input forces table resets; decoding checks the bitstream.
        let dir = try TempDir("media")
        let path = dir.sub("big.gif")
        let (w, h) = (200, 150)
        var state: UInt64 = 42
        let px = (0 ..< w * h * 3).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let gif = try GIFWriter(path: path, width: w, height: h, fps: 5)
        try gif.append(rgb: px)
        try gif.finish()
        let frame = try VideoReader(path: path).decodeAll()
        // Every pixel must be its palette quantisation.
        var mismatches = 0
        for i in 0 ..< w * h {
            let q = [
                (Int(px[3 * i]) * 5 + 127) / 255 * 51, (Int(px[3 * i + 1]) * 6 + 127) / 255 * 255 / 6,
                (Int(px[3 * i + 2]) * 5 + 127) / 255 * 51
            ]
            if (0 ..< 3).contains(where: { Int(frame.pixels[3 * i + $0]) != q[$0] }) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(GIFWriter.lzw([]).count > 0)
    }
}

/// Hostile-input images (issue 24 item 5): 16-bit PNGs from other tools (no gAMA chunk) and CMYK/YCCK JPEGs.
@Suite struct ImageColourTests {
    /// A 16-bit RGB PNG with no colour chunks, as scanners and many tools write it: IHDR, one stored-deflate IDAT,
    /// IEND.
    static func png16(width: Int, height: Int, samples: [UInt16]) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        func crc32(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return ~c
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(UInt32(data.count)) + body + be32(crc32(body))
        }
        var raw: [UInt8] = []
        for y in 0 ..< height {
            raw.append(0)  // filter: none
            for v in samples[(y * width * 3) ..< ((y + 1) * width * 3)] { raw += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        }
        var (a, b): (UInt32, UInt32) = (1, 0)
        for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        let n = UInt16(raw.count)  // one stored block (small images only)
        let zlib: [UInt8] =
            [0x78, 0x01, 1, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + raw + be32(b << 16 | a)
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [16, 2, 0, 0, 0])
            + chunk("IDAT", zlib) + chunk("IEND", [])
    }

    /// 16-bit values read as their 8-bit values (v/257), not as linear light brightened by a gamma curve
    /// (mid grey 0x8080 became ≈ 188 before).
    @Test func sixteenBitPNGKeepsItsValues() throws {
        let dir = try TempDir()
        let values: [UInt16] = [
            0, 0x1010, 0x4040, 0x8080, 0xC0C0, 0xFFFF, 0x2000, 0x7FFF, 0x9abc, 0x0101, 0xFEFE, 0x3333
        ]
        let path = dir.sub("deep.png")
        try Data(Self.png16(width: 2, height: 2, samples: values)).write(to: URL(fileURLWithPath: path))
        let img = try Image.load(path: path)
        #expect(img.width == 2 && img.height == 2)
        for (got, v) in zip(img.pixels, values) {
            #expect(abs(Int(got) - Int((Double(v) / 257).rounded())) <= 1, "\(v) → \(got)")
        }
    }

    /// CMYK JPEGs (TurboJPEG writes YCCK from CMYK pixels, with Adobe's marker) decode instead of failing:
    /// R = c·k/255 on the stored (inverted) values.
    @Test func cmykJPEGDecodes() throws {
        let (w, h) = (16, 8)
        var cmyk = [UInt8](repeating: 0, count: w * h * 4)
        for i in 0 ..< w * h {
            cmyk[4 * i ..< 4 * i + 4] = [UInt8(40 + i), 255, UInt8(200 - i), i < 64 ? 255 : 128][...]
        }
        guard let handle = tjInitCompress() else { Issue.record("TurboJPEG"); return }
        defer { tjDestroy(handle) }
        var jpeg: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        defer { tjFree(jpeg) }
        let rc = cmyk.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(w), 0, Int32(h), Int32(TJPF_CMYK.rawValue), &jpeg, &size,
                Int32(TJSAMP_444.rawValue), 100, 0)
        }
        #expect(rc == 0)
        let dir = try TempDir()
        let path = dir.sub("print.jpg")
        try Data(bytes: jpeg!, count: Int(size)).write(to: URL(fileURLWithPath: path))
        let img = try Image.load(path: path)
        #expect(img.width == w && img.height == h)
        let expected = Image.rgb(fromInvertedCMYK: cmyk)
        let diff = zip(img.pixels, expected).map { abs(Int($0) - Int($1)) }
        #expect(diff.max()! <= 6, "max diff \(diff.max()!)")
        #expect(img.pixels[0] == UInt8((40 * 255 + 127) / 255) || diff[0] <= 6)
    }
}
