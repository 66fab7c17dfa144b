import Foundation
import Media
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

/// Renders a confusion matrix as a PNG heat map: white (0) to dark blue (row maximum = 100 % of the class),
/// with the diagonal outlined in red, class indices on both axes and the overall top-1 in the title.
public enum ConfusionPlot {
    public static func write(_ r: EvalResult, to path: String, cell: Int = 0) throws {
        let n = max(r.confusion.count, 1)
        let size = cell > 0 ? cell : max(8, min(48, 480 / n))
        let (left, top) = (30, 24)
        let width = left + n * size + 10, height = top + n * size + 10
        var img = Image(width: width, height: height, pixels: [UInt8](repeating: 255, count: width * height * 3))
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in max(y0, 0) ..< min(y0 + h, height) {
                for x in max(x0, 0) ..< min(x0 + w, width) {
                    let i = (y * width + x) * 3
                    img.pixels[i] = c.0; img.pixels[i + 1] = c.1; img.pixels[i + 2] = c.2
                }
            }
        }
        for (t, row) in r.confusion.enumerated() {
            let total = max(row.reduce(0, +), 1)
            for (p, v) in row.enumerated() {
                let f = Double(v) / Double(total)
                let c = (UInt8(255 - 235 * f), UInt8(255 - 195 * f), UInt8(255 - 95 * f))
                fill(left + p * size, top + t * size, size, size, c)
                if t == p && size >= 6 {  // outline the diagonal
                    let (x, y) = (left + p * size, top + t * size)
                    fill(x, y, size, 1, (200, 30, 30)); fill(x, y + size - 1, size, 1, (200, 30, 30))
                    fill(x, y, 1, size, (200, 30, 30)); fill(x + size - 1, y, 1, size, (200, 30, 30))
                }
            }
            if size >= 8 || t % 5 == 0 {
                Glyphs.draw("\(t)", x: 2, y: top + t * size + max(size / 2 - 3, 0), into: &img)
            }
        }
        for p in 0 ..< n where size >= 8 || p % 5 == 0 {
            Glyphs.draw("\(p)", x: left + p * size + 1, y: top - 9, into: &img)
        }
        Glyphs.draw(String(format: "%.1f", r.top1), x: left, y: 2, into: &img)
        try img.savePNG(path: path)
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
