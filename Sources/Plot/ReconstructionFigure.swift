import Foundation

/// Frames of one clip: `frames` × `height` × `width` × 3 RGB bytes.
public struct FrameStrip {
    public var frames: Int, height: Int, width: Int
    public var pixels: [UInt8]
    public init(frames: Int, height: Int, width: Int, pixels: [UInt8]) {
        (self.frames, self.height, self.width, self.pixels) = (frames, height, width, pixels)
    }
}

extension Figure {
    /// Labelled rows of frames (e.g. original / masked / prediction), one column per frame ("frame t"), each frame
    /// enlarged (nearest neighbour) to at least `minSide` pixels; `columns` frames spread over the clip.
    public static func frameRows(
        _ rows: [(label: String, clip: FrameStrip)], title: String, columns: Int = 8, minSide: Int = 96
    ) -> Figure {
        guard let first = rows.first?.clip else { return Figure(width: 1, height: 1) { _ in } }
        let n = max(1, min(columns, first.frames))
        let scale = Double(max(1, (minSide + first.height - 1) / max(first.height, 1)))
        let (fw, fh) = (Double(first.width) * scale, Double(first.height) * scale)
        let labelW = 96.0, top = 60.0, gap = 6.0
        let width = Int(labelW + Double(n) * (fw + gap) + 10), height = Int(top + Double(rows.count) * (fh + gap) + 6)
        let picks = (0 ..< n).map { $0 * first.frames / n }
        var fig = Figure(width: width, height: height) { p in
            p.color(0, 0, 0)
            p.text(title, Double(width) / 2, 18, size: 14, align: .center, bold: true)
            for (c, t) in picks.enumerated() {
                p.text("frame \(t)", labelW + Double(c) * (fw + gap) + fw / 2, top - 12, size: 11, align: .center)
            }
            for (r, row) in rows.enumerated() {
                let y = top + Double(r) * (fh + gap)
                p.color(0, 0, 0)
                p.text(row.label, labelW - 8, y + fh / 2, size: 12, align: .right)
                let v = row.clip, size = v.height * v.width * 3
                for (c, t) in picks.enumerated() where t < v.frames {
                    p.image(
                        Array(v.pixels[t * size ..< (t + 1) * size]), width: v.width, height: v.height,
                        x: labelW + Double(c) * (fw + gap), y: y, scale: scale)
                }
            }
        }
        fig.title = title
        fig.description = rows.map(\.label) + picks.map { "frame \($0)" }
        return fig
    }
}
