import Foundation
import Media
import Plot
import Torch

/// Multi-view testing (mae_st `--num_temporal_views` × `--num_spatial_crops`): the softmax of every view of a video
/// is summed and averaged, then the video is scored once.
public struct ViewAggregator {
    public let numClasses: Int
    /// Per video (sample index): summed probabilities, view count, label.
    private var sums: [Int: [Double]] = [:]
    private var views: [Int: Int] = [:]
    private var labels: [Int: Int] = [:]

    public init(numClasses: Int) { self.numClasses = numClasses }

    /// probs: [B, C] row-major softmax outputs of one batch; `samples[i]` identifies the video of row i.
    public mutating func add(probs: [Float], samples: [Int], labels batchLabels: [Int]) {
        precondition(
            probs.count == samples.count * numClasses && batchLabels.count == samples.count,
            "ViewAggregator.add: shapes")
        for (i, s) in samples.enumerated() {
            var acc = sums[s] ?? [Double](repeating: 0, count: numClasses)
            for c in 0 ..< numClasses { acc[c] += Double(probs[i * numClasses + c]) }
            sums[s] = acc
            views[s, default: 0] += 1
            labels[s] = batchLabels[i]
        }
    }

    /// Averaged probabilities per video, by sample index.
    public var averaged: [Int: [Double]] {
        var out: [Int: [Double]] = [:]
        for (s, sum) in sums {
            let n = Double(views[s]!)
            out[s] = sum.map { $0 / n }
        }
        return out
    }

    public func result() -> EvalResult {
        var r = EvalResult(numClasses: numClasses)
        for (s, p) in averaged {
            let label = labels[s]!
            let order = p.indices.sorted { p[$0] > p[$1] || (p[$0] == p[$1] && $0 < $1) }
            r.count += 1
            if order[0] == label { r.correct1 += 1 }
            if order.prefix(5).contains(label) { r.correct5 += 1 }
            if (0 ..< numClasses).contains(label) { r.confusion[label][order[0]] += 1 }
        }
        // Views per video (a video standing in for an unreadable one is seen twice per view; its mean is unchanged).
        r.views = views.values.min() ?? 0
        return r
    }
}

/// Top-1 / top-5 / per-class accuracy and the confusion matrix (rows = true class, columns = prediction).
public struct EvalResult: Codable, Equatable {
    public var count = 0, correct1 = 0, correct5 = 0
    public var views = 0
    public var confusion: [[Int]]
    public var loss = Double.nan

    public init(numClasses: Int) {
        confusion = Array(repeating: Array(repeating: 0, count: numClasses), count: numClasses)
    }

    public var top1: Double { count > 0 ? 100 * Double(correct1) / Double(count) : 0 }
    public var top5: Double { count > 0 ? 100 * Double(correct5) / Double(count) : 0 }
    /// Per-class accuracy in percent (nan for a class without videos).
    public var perClass: [Double] {
        confusion.enumerated().map { c, row in
            let n = row.reduce(0, +)
            return n > 0 ? 100 * Double(row[c]) / Double(n) : .nan
        }
    }
    /// Mean of the per-class accuracies of classes with videos.
    public var meanClassAccuracy: Double {
        let v = perClass.filter { !$0.isNaN }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }
}

/// The confusion matrix as a figure (`Figure.confusion`): class names on both axes, "true" / "predicted" axis
/// titles, per-cell counts, a colour bar of the row rate; the title gives top-1 and the video count.
public enum ConfusionPlot {
    public static func figure(_ r: EvalResult, classNames: [String], title: String = "confusion matrix") -> Figure {
        Figure.confusion(
            r.confusion, classNames: classNames,
            title: String(format: "%@: top-1 %.1f%% of %d", title, r.top1, r.count))
    }

    /// `path` (PNG) and the SVG beside it.
    public static func write(_ r: EvalResult, classNames: [String], to path: String) throws {
        try figure(r, classNames: classNames).write(png: path)
    }
}

/// Refuses weights holding NaN or ±inf (a diverged run's checkpoint would give NaN embeddings or accuracies
/// silently); the error names `source` and the first offending tensor.
public func requireFinite(_ tensors: [(String, Tensor)], source: String) throws {
    for (name, t) in tensors where t.dtype.isFloatingPoint {
        // finite × 0 = 0, NaN or ±inf × 0 = NaN: one reduction in the tensor's own dtype
        guard try (t.detach() * 0.0).sum().item().isFinite else {
            throw TorchError(
                "\(source): tensor '\(name)' holds non-finite values (NaN or ±inf): the checkpoint is "
                    + "not usable (a diverged run?); pick an earlier one")
        }
    }
}
