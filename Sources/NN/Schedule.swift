import Foundation

/// MAE's learning-rate rules.
public struct CosineSchedule: Sendable {
    public var lr: Double
    public var minLR: Double
    public var warmupEpochs: Double
    public var epochs: Double
    public init(lr: Double, minLR: Double = 0, warmupEpochs: Double, epochs: Double) {
        self.lr = lr; self.minLR = minLR; self.warmupEpochs = warmupEpochs; self.epochs = epochs
    }
    /// Linear warmup from 0, then a half cosine down to `minLR`; `epoch` is fractional (step / steps_per_epoch +
    /// epoch).
    public func lr(at epoch: Double) -> Double {
        if epoch < warmupEpochs { return lr * epoch / warmupEpochs }
        let span = max(epochs - warmupEpochs, 1e-12)
        let progress = min((epoch - warmupEpochs) / span, 1)
        return minLR + (lr - minLR) * 0.5 * (1 + cos(.pi * progress))
    }
}

/// `lr = blr × effective_batch / 256` (MAE's linear scaling rule; which factors make the batch is the recipe's).
public func scaledLR(blr: Double, effectiveBatch: Int) -> Double { blr * Double(effectiveBatch) / 256 }

/// The peak lr: `lr` when set (> 0), else `blr × Π factors / 256`; with the rule and its numbers, for the log.
public func peakLR(lr: Double, blr: Double, factors: KeyValuePairs<String, Int>, note: String) -> (
    lr: Double, rule: String
) {
    if lr > 0 { return (lr, String(format: "lr %.3e (--lr)", lr)) }
    let v = scaledLR(blr: blr, effectiveBatch: factors.reduce(1) { $0 * $1.value })
    let terms = factors.map { "\($0.key) \($0.value)" }.joined(separator: " × ")
    return (v, String(format: "lr %.3e = blr %.3e × ", v, blr) + terms + " / 256 (\(note))")
}
