import CPNG
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
            _ = bytes.withUnsafeBytes { png_image_write_to_file(&img, dir.sub(name), 0, $0.baseAddress, Int32(2 * channels), nil) }
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
            let q = [(Int(px[3 * i]) * 5 + 127) / 255 * 51, (Int(px[3 * i + 1]) * 6 + 127) / 255 * 255 / 6,
                     (Int(px[3 * i + 2]) * 5 + 127) / 255 * 51]
            if (0 ..< 3).contains(where: { Int(frame.pixels[3 * i + $0]) != q[$0] }) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(GIFWriter.lzw([]).count > 0)
    }
}
