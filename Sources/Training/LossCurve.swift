import Foundation
import Plot

/// A run's loss curve (`loss_curve.png` and `.svg` in the log dir, see `Figure.curve`): per-step losses raw and
/// EMA-smoothed against the optimizer step, with axis titles, ticks and an optional log-scale loss axis.
public enum LossCurve {
    public static func figure(_ losses: [Double], title: String = "training loss", logScale: Bool = false) -> Figure {
        Figure.curve(losses, title: title, xTitle: "optimizer step", yTitle: "loss", logScale: logScale)
    }

    public static func write(
        _ losses: [Double], to path: String, title: String = "training loss", logScale: Bool = false
    ) throws {
        try figure(losses, title: title, logScale: logScale).write(png: path)
    }
}
