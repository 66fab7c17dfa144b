import Foundation
import Media
import Testing
@testable import Plot

/// Figures through cairo: tick arithmetic, and the pictures decoded back (size, ink, colours where they belong).
@Suite struct PlotTests {
    static func temp(_ name: String) throws -> String {
        let d = NSTemporaryDirectory() + "stmae-plot-\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
    /// Decodes `fig`'s PNG (through a file: `Image.load` reads paths).
    static func decode(_ fig: Figure, _ dir: String, _ name: String) throws -> Image {
        try fig.writePNG(dir + "/" + name + ".png")
        return try Image.load(path: dir + "/" + name + ".png")
    }
    static func count(_ img: Image, where f: (UInt8, UInt8, UInt8) -> Bool, rows: Range<Int>? = nil) -> Int {
        var n = 0
        for y in rows ?? 0 ..< img.height {
            for x in 0 ..< img.width {
                let i = (y * img.width + x) * 3
                if f(img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]) { n += 1 }
            }
        }
        return n
    }

    @Test func niceNumbers() {
        #expect(Ticks.nice(0.37, round: false) == 0.5 && Ticks.nice(0.37, round: true) == 0.5)
        #expect(Ticks.nice(1.2, round: false) == 2 && Ticks.nice(1.2, round: true) == 1)
        #expect(Ticks.nice(73, round: false) == 100 && Ticks.nice(73, round: true) == 100)
        #expect(Ticks.nice(2.5, round: true) == 2 && Ticks.nice(0.0031, round: false) == 0.005)
    }

    @Test func linearTicksEncloseTheRangeAtANiceStep() {
        let a = Ticks.linear(0, 1)
        #expect(a.step == 0.2 && a.values.count == 6 && a.values.first == 0 && abs(a.values.last! - 1) < 1e-12)
        let b = Ticks.linear(2.31, 2.87)
        #expect(abs(b.step - 0.2) < 1e-12 && b.values.count == 5)
        #expect(abs(b.values.first! - 2.2) < 1e-9 && abs(b.values.last! - 3.0) < 1e-9)
        #expect(Ticks.linear(1, 100).values == [0, 20, 40, 60, 80, 100])
        let flat = Ticks.linear(5, 5)  // a constant series still gets an axis around it
        #expect(flat.values.first! < 5 && flat.values.last! > 5)
        #expect(Ticks.linear(-0.3, 0.3).values.contains(0))
    }

    @Test func logTicksAreDecadesOrOneTwoFive() {
        #expect(Ticks.log(0.3, 40) == [0.1, 1, 10, 100])
        let few = Ticks.log(0.2, 0.9)
        #expect(few.count == 3 && abs(few[0] - 0.2) < 1e-12 && abs(few[1] - 0.5) < 1e-12 && few[2] == 1)
    }

    @Test func tickLabelsCarryTheDecimalsTheStepNeeds() {
        #expect(Ticks.label(0.2, step: 0.2) == "0.2" && Ticks.label(2.25, step: 0.05) == "2.25")
        #expect(Ticks.label(100, step: 20) == "100" && Ticks.label(0, step: 0.1) == "0")
        #expect(Ticks.label(0.0002, step: 0.0001) == "0.0002" && Ticks.label(3e6, step: 1e6) == "3e+06")
    }

    @Test func emaIsDebiasedLikeTensorBoard() {
        #expect(emaSmoothed([1, 1, 1], weight: 0.9).allSatisfy { abs($0 - 1) < 1e-12 })
        let s = emaSmoothed([0, 10], weight: 0.9)
        #expect(s[0] == 0 && abs(s[1] - 1 / 0.19) < 1e-9)
    }

    @Test func lossCurveHasInkTitleTextAndBothSeries() throws {
        let dir = try Self.temp("curve")
        let losses = (0 ..< 200).map { 1.0 / (1 + Double($0) / 20) + 0.05 * sin(Double($0)) }
        let fig = Figure.curve(losses, title: "training loss", logScale: false)
        let img = try Self.decode(fig, dir, "curve")
        #expect(img.width == 720 && img.height == 420)
        // black title glyphs in the top band; light (raw) and dark (EMA) blue lines in the plot
        #expect(Self.count(img, where: { $0 < 80 && $1 < 80 && $2 < 80 }, rows: 0 ..< 36) > 100)
        #expect(Self.count(img, where: { $2 > 200 && $0 > 130 && $0 < 190 }) > 200)  // raw: (158, 191, 235)
        #expect(Self.count(img, where: { $2 > 130 && $0 < 60 && $1 < 90 }) > 200)  // EMA: (20, 61, 161)
        try fig.writeSVG(dir + "/curve.svg")
        let svg = try String(contentsOfFile: dir + "/curve.svg", encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("optimizer step") && svg.contains("loss"))
        #expect(svg.contains("glyph"))  // the text itself is drawn (as glyph outlines)
        let log = try Self.decode(Figure.curve(losses, title: "t", logScale: true), dir, "log")
        #expect(Self.count(log, where: { $2 > 130 && $0 < 60 && $1 < 90 }) > 200)
    }

    @Test func confusionShowsNamesCountsAndRates() throws {
        let dir = try Self.temp("confusion")
        let m = [[5, 0, 0], [1, 3, 0], [0, 0, 0]]  // class 2 has no videos
        let fig = Figure.confusion(m, classNames: ["circle_left", "square_up", "cat"], title: "confusion")
        let img = try Self.decode(fig, dir, "c")
        #expect(img.width == fig.width && img.height == fig.height && img.width > 3 * 56)
        // a 100 % cell is the ramp's end colour (20, 61, 161), and there is at least one 56×56 cell of it
        #expect(Self.count(img, where: { $0 == 20 && $1 == 61 && $2 == 161 }) > 56 * 40)
        try fig.write(png: dir + "/c.png")
        let svg = try String(contentsOfFile: dir + "/c.svg", encoding: .utf8)
        for word in ["true class", "predicted class", "circle_left", "square_up", "cat"] {
            #expect(svg.contains(word), "\(word)")
        }
    }

    @Test func framePanelPlacesEnlargedFramesUnderTheirLabels() throws {
        let dir = try Self.temp("frames")
        // 4 frames of 16×16, frame t filled with grey level 40·t + 20, red in row 1
        func clip(red: UInt8) -> FrameStrip {
            var px: [UInt8] = []
            for t in 0 ..< 4 { for _ in 0 ..< 256 { px += [red, UInt8(40 * t + 20), UInt8(40 * t + 20)] } }
            return FrameStrip(frames: 4, height: 16, width: 16, pixels: px)
        }
        let fig = Figure.frameRows(
            [("original", clip(red: 0)), ("masked", clip(red: 255)), ("prediction", clip(red: 0))],
            title: "epoch 3", columns: 4)
        let img = try Self.decode(fig, dir, "f")
        #expect(img.width == 96 + 4 * 102 + 10 && img.height == 60 + 3 * 102 + 6)
        func px(_ x: Int, _ y: Int) -> [UInt8] {
            Array(img.pixels[(y * img.width + x) * 3 ..< (y * img.width + x) * 3 + 3])
        }
        // row 1 ("masked"), column 2: frame 2 enlarged 6× from (96 + 2·102, 60 + 102)
        #expect(px(96 + 204 + 48, 60 + 102 + 48) == [255, 100, 100])
        #expect(px(96 + 48, 60 + 48) == [0, 20, 20])
        try fig.writeSVG(dir + "/f.svg")
        let svg = try String(contentsOfFile: dir + "/f.svg", encoding: .utf8)
        #expect(svg.contains("original") && svg.contains("prediction") && svg.contains("frame 2"))
    }
}
