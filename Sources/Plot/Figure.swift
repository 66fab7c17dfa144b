import CCairo
import Foundation

/// A picture drawn with cairo: the same drawing renders to PNG (image surface) and SVG (vector surface).
/// Text uses cairo's toy font API with "DejaVu Sans" (Debian fonts-dejavu-core, found through fontconfig).
public struct Figure {
    public let width: Int, height: Int
    /// Accessible text written into the SVG as `<title>` and `<desc>` (cairo draws glyphs as outlines).
    public var title = "", description: [String] = []
    let draw: (Painter) -> Void

    public init(width: Int, height: Int, draw: @escaping (Painter) -> Void) {
        (self.width, self.height, self.draw) = (width, height, draw)
    }

    /// The picture as encoded PNG bytes (RGB, white background).
    public func png() throws -> Data {
        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))
        defer { cairo_surface_destroy(surface) }
        try render(on: surface, what: "PNG")
        final class Sink { var data = Data() }
        let sink = Sink()
        let status = cairo_surface_write_to_png_stream(
            surface,
            { closure, bytes, length in
                guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
                Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
                return CAIRO_STATUS_SUCCESS
            }, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError("PNG encoding: \(message(status))") }
        return sink.data
    }

    public func writePNG(_ path: String) throws {
        do { try png().write(to: URL(fileURLWithPath: path)) } catch let e as PlotError { throw e } catch {
            throw PlotError("\(path): cannot write the PNG (\(error.localizedDescription))")
        }
    }

    /// An SVG file (vector; text as glyph outlines, plus `<title>`/`<desc>` holding the figure's words).
    public func writeSVG(_ path: String) throws {
        let surface = cairo_svg_surface_create(path, Double(width), Double(height))
        try render(on: surface, what: path)
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError("\(path): SVG write failed: \(message(status))") }
        guard !title.isEmpty || !description.isEmpty, var svg = try? String(contentsOfFile: path, encoding: .utf8),
            let open = svg.range(of: "<svg"), let end = svg[open.upperBound...].range(of: ">")
        else { return }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        svg.insert(
            contentsOf: "\n<title>\(esc(title))</title>\n<desc>\(esc(description.joined(separator: "; ")))</desc>",
            at: end.upperBound)
        try svg.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `path` (a .png) and the SVG beside it (same name, .svg); returns the PNG bytes.
    @discardableResult
    public func write(png path: String, svg: Bool = true) throws -> Data {
        let data = try png()
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw PlotError("\(path): cannot write the PNG (\(error.localizedDescription))")
        }
        if svg { try writeSVG((path as NSString).deletingPathExtension + ".svg") }
        return data
    }

    private func render(on surface: OpaquePointer?, what: String) throws {
        let cr = cairo_create(surface)
        defer { cairo_destroy(cr) }
        guard let cr, cairo_status(cr) == CAIRO_STATUS_SUCCESS else {
            throw PlotError("\(what): cannot create a \(width)×\(height) cairo surface")
        }
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        draw(Painter(cr))
        let status = cairo_status(cr)
        guard status == CAIRO_STATUS_SUCCESS else { throw PlotError("\(what): drawing failed: \(message(status))") }
    }
}

func message(_ s: cairo_status_t) -> String { String(cString: cairo_status_to_string(s)) }

/// A plotting error (what failed and where).
public struct PlotError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Drawing primitives over one cairo context (coordinates in pixels, y down).
public final class Painter {
    let cr: OpaquePointer
    init(_ cr: OpaquePointer) { self.cr = cr }

    public enum Align { case left, center, right }

    public func color(_ r: Double, _ g: Double, _ b: Double, _ a: Double = 1) { cairo_set_source_rgba(cr, r, g, b, a) }
    public func fill(_ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        cairo_rectangle(cr, x, y, w, h)
        cairo_fill(cr)
    }
    public func strokeRect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, width: Double = 1) {
        cairo_set_line_width(cr, width)
        cairo_rectangle(cr, x, y, w, h)
        cairo_stroke(cr)
    }
    public func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double = 1) {
        polyline([(x0, y0), (x1, y1)], width: width)
    }
    /// A connected line through `points`; NaN points break it.
    public func polyline(_ points: [(Double, Double)], width: Double = 1) {
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        var pen = false
        for (x, y) in points {
            guard x.isFinite, y.isFinite else { pen = false; continue }
            if pen { cairo_line_to(cr, x, y) } else { cairo_move_to(cr, x, y) }
            pen = true
        }
        cairo_stroke(cr)
    }
    /// Clips later drawing to a rectangle until `unclip`.
    public func clip(_ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        cairo_save(cr)
        cairo_rectangle(cr, x, y, w, h)
        cairo_clip(cr)
    }
    public func unclip() { cairo_restore(cr) }

    func font(_ size: Double, bold: Bool) {
        cairo_select_font_face(
            cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }
    /// The advance width of `s` at `size` pixels, measured before any figure exists (for layout).
    public static func measure(_ s: String, size: Double, bold: Bool = false) -> Double {
        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)
        defer { cairo_surface_destroy(surface) }
        guard let cr = cairo_create(surface) else { return Double(s.count) * size * 0.62 }
        defer { cairo_destroy(cr) }
        return Painter(cr).textWidth(s, size: size, bold: bold)
    }

    /// The advance width of `s` at `size` pixels.
    public func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        font(size, bold: bold)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }
    /// `s` with its anchor at (x, y): horizontally by `align`, vertically centred on y; `angle` in radians
    /// (−π/2: reading bottom to top, for a y-axis title).
    public func text(
        _ s: String, _ x: Double, _ y: Double, size: Double = 12, align: Align = .left, angle: Double = 0,
        bold: Bool = false
    ) {
        font(size, bold: bold)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        let dx = align == .left ? 0 : align == .center ? -e.x_advance / 2 : -e.x_advance
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_rotate(cr, angle)
        cairo_move_to(cr, dx, size * 0.36)  // baseline so that the x-height is centred on y
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }
    /// RGB bytes (`width` × `height` × 3, row-major) at (x, y), each pixel a `scale` × `scale` block.
    public func image(_ pixels: [UInt8], width: Int, height: Int, x: Double, y: Double, scale: Double = 1) {
        guard width > 0, height > 0, pixels.count >= width * height * 3 else { return }
        let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))
        defer { cairo_surface_destroy(surface) }
        let stride = Int(cairo_image_surface_get_stride(surface))
        cairo_surface_flush(surface)
        guard let base = cairo_image_surface_get_data(surface) else { return }
        for row in 0 ..< height {
            let dst = UnsafeMutableRawPointer(base + row * stride).assumingMemoryBound(to: UInt32.self)
            for col in 0 ..< width {
                let i = (row * width + col) * 3
                dst[col] = UInt32(pixels[i]) << 16 | UInt32(pixels[i + 1]) << 8 | UInt32(pixels[i + 2])
            }
        }
        cairo_surface_mark_dirty(surface)
        cairo_save(cr)
        cairo_translate(cr, x, y)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, surface, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_paint(cr)
        cairo_restore(cr)
    }
}
