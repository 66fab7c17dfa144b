import Foundation

extension Figure {
    /// A confusion matrix (rows = true class, columns = predicted class) coloured by the row's rate (white 0 % to
    /// dark blue 100 % of the class's videos) with per-cell counts where the cells are large enough, the class names
    /// on both axes (indices where `classNames` is short), the diagonal outlined, "true class" / "predicted class"
    /// axis titles and a colour bar.
    public static func confusion(_ matrix: [[Int]], classNames: [String], title: String) -> Figure {
        let n = max(matrix.count, 1)
        let names = (0 ..< n).map { $0 < classNames.count && !classNames[$0].isEmpty ? classNames[$0] : "\($0)" }
        let cell = Double(max(6, min(56, 560 / n)))
        let font = min(12, cell * 0.7)
        let showNames = cell >= 9
        // the widest name sets the margins
        let longest = showNames ? names.map { Painter.measure($0, size: font) }.max() ?? 0 : 0
        let left = 40 + longest + 10, top = 44.0
        let side = cell * Double(n)
        let bottom = top + side + longest + 44
        let barX = left + side + 24
        let width = Int(barX + 16 + 60), height = Int(bottom)
        let rates = matrix.map { row -> [Double] in
            let total = Double(max(row.reduce(0, +), 1))
            return row.map { Double($0) / total }
        }
        func ramp(_ f: Double) -> (Double, Double, Double) { (1 - 0.92 * f, 1 - 0.76 * f, 1 - 0.37 * f) }
        var fig = Figure(width: width, height: height) { p in
            p.color(0, 0, 0)
            p.text(title, Double(width) / 2, 20, size: 15, align: .center, bold: true)
            for (t, row) in rates.enumerated() {
                for (q, f) in row.enumerated() {
                    let c = ramp(f)
                    p.color(c.0, c.1, c.2)
                    p.fill(left + Double(q) * cell, top + Double(t) * cell, cell, cell)
                    if cell >= 22, matrix[t][q] > 0 {
                        let dark = f > 0.5
                        p.color(dark ? 1 : 0, dark ? 1 : 0, dark ? 1 : 0)
                        p.text(
                            "\(matrix[t][q])", left + (Double(q) + 0.5) * cell, top + (Double(t) + 0.5) * cell,
                            size: min(12, cell * 0.4), align: .center)
                    }
                }
            }
            p.color(0.85, 0.33, 0.1)  // the diagonal (correct predictions) outlined
            for k in 0 ..< matrix.count where cell >= 8 {
                p.strokeRect(left + Double(k) * cell + 1, top + Double(k) * cell + 1, cell - 2, cell - 2, width: 1.5)
            }
            p.color(0.6, 0.6, 0.6)
            p.strokeRect(left, top, side, side)
            p.color(0, 0, 0)
            for (k, name) in names.enumerated() where showNames {
                let c = (Double(k) + 0.5) * cell
                p.text(name, left - 6, top + c, size: font, align: .right)
                p.text(name, left + c, top + side + 6, size: font, align: .right, angle: -Double.pi / 2)
            }
            p.text("true class", 14, top + side / 2, size: 13, align: .center, angle: -Double.pi / 2)
            p.text("predicted class", left + side / 2, bottom - 14, size: 13, align: .center)
            // colour bar: share of the true class's videos
            let steps = 64
            for k in 0 ..< steps {
                let c = ramp(1 - Double(k) / Double(steps - 1))
                p.color(c.0, c.1, c.2)
                p.fill(barX, top + side * Double(k) / Double(steps), 16, side / Double(steps) + 0.5)
            }
            p.color(0.6, 0.6, 0.6); p.strokeRect(barX, top, 16, side)
            p.color(0, 0, 0)
            for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let y = top + side * (1 - v)
                p.line(barX + 16, y, barX + 20, y)
                p.text(String(format: "%.0f%%", v * 100), barX + 23, y, size: 10)
            }
        }
        fig.title = title
        fig.description = ["true class", "predicted class"] + names
        return fig
    }
}
