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
    /// Linear warmup from 0, then a half cosine down to `minLR`; `epoch` is fractional (step / steps_per_epoch + epoch).
    public func lr(at epoch: Double) -> Double {
        if epoch < warmupEpochs { return lr * epoch / warmupEpochs }
        let span = max(epochs - warmupEpochs, 1e-12)
        let progress = min((epoch - warmupEpochs) / span, 1)
        return minLR + (lr - minLR) * 0.5 * (1 + cos(.pi * progress))
    }
}

/// `lr = blr × effective_batch / 256` (effective batch = per-device batch × accum_iter × world size).
public func scaledLR(blr: Double, effectiveBatch: Int) -> Double { blr * Double(effectiveBatch) / 256 }
