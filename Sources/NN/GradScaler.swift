import Torch

/// Dynamic loss scaling for fp16 autocast, as `torch.amp.GradScaler` (torch/amp/grad_scaler.py): the loss is
/// multiplied by `scale` before backward; `unscale(_:)` divides the gradients by it and records whether any is inf or
/// NaN (`torch._amp_foreach_non_finite_check_and_unscale_`); `step(_:)` skips the optimizer step when one was;
/// `update()` halves the scale after a skipped step and doubles it after `growthInterval` steps in a row without one
/// (`torch._amp_update_scale_`). The scale and the growth tracker are tensors on the loss's device (made by the first
/// `scale(_:)`), so nothing waits for the device until `step` reads the inf flag.
///
/// Per optimizer step: `scale(loss).backward()` (each micro-batch) → [`unscale(opt)` → clip] → `step(opt)` →
/// `update()`.
public final class GradScaler {
    public let growthFactor: Double
    public let backoffFactor: Double
    public let growthInterval: Int
    /// Where the scale starts (`init_scale`), and where a restored state puts it.
    private var initScale: Double
    private var initGrowthTracker = 0
    /// float32 [] and int32 [], on the device of the first scaled loss.
    private var scaleTensor: Tensor?
    private var growthTracker: Tensor?
    /// float32 [] of this step (1 = an inf/NaN gradient), set by `unscale`; nil before it (`OptState.READY`).
    private var foundInf: Tensor?
    private var stepped = false

    public init(
        initScale: Double = 65536, growthFactor: Double = 2, backoffFactor: Double = 0.5, growthInterval: Int = 2000
    ) throws {
        guard initScale > 0, growthFactor > 1, backoffFactor > 0, backoffFactor < 1, growthInterval > 0 else {
            throw TorchError(
                "GradScaler: expected init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1, growth_interval > 0; "
                    + "got \(initScale), \(growthFactor), \(backoffFactor), \(growthInterval)")
        }
        self.initScale = initScale
        self.growthFactor = growthFactor
        self.backoffFactor = backoffFactor
        self.growthInterval = growthInterval
    }

    /// `loss × scale` (the scale created on the loss's device at the first call).
    public func scale(_ loss: Tensor) throws -> Tensor {
        if scaleTensor == nil {
            scaleTensor = try Tensor.full([], initScale, dtype: .float32, device: loss.device)
            growthTracker = try Tensor.full([], Double(initGrowthTracker), dtype: .int32, device: loss.device)
        }
        return try loss * scaleTensor!
    }

    /// Divides the optimizer's gradients by the scale (grouped by dtype, as torch) and records inf/NaN; once per step,
    /// before clipping.
    public func unscale(_ optimizer: AdamW) throws {
        guard let scale = scaleTensor else { throw TorchError("GradScaler.unscale before any scale(loss)") }
        guard foundInf == nil else { throw TorchError("GradScaler.unscale called twice since the last update()") }
        guard !stepped else { throw TorchError("GradScaler.unscale after step(): call update() first") }
        // inv_scale = scale.double().reciprocal().float()
        let invScale = try scale.to(.float64).reciprocal().to(.float32)
        let found = try Tensor.full([], 0, dtype: .float32, device: scale.device)
        let grads = optimizer.grads()
        if grads.contains(where: { $0.dtype == .float16 }) {
            throw TorchError("GradScaler: attempting to unscale fp16 gradients (the parameters must be fp32)")
        }
        for dtype in Set(grads.map(\.dtype)).sorted(by: { $0.rawValue < $1.rawValue }) {
            try Kernels.ampUnscale(grads.filter { $0.dtype == dtype }, foundInf: found, invScale: invScale)
        }
        foundInf = found
    }

    /// Unscales (unless `unscale` ran) and takes the optimizer step unless a gradient was inf/NaN. Returns whether
    /// the step was taken. On the meta device, which has no values to read, the step is always taken.
    @discardableResult
    public func step(_ optimizer: AdamW) throws -> Bool {
        guard !stepped else { throw TorchError("GradScaler.step called twice since the last update()") }
        if foundInf == nil { try unscale(optimizer) }
        stepped = true
        let found = foundInf!
        if found.device.holdsValues, try found.item() != 0 { return false }
        try optimizer.step()
        return true
    }

    /// The scale for the next step: × backoff after a skipped step; × growth after `growthInterval` clean steps.
    public func update() throws {
        guard let scale = scaleTensor, let tracker = growthTracker else {
            throw TorchError("GradScaler.update before any scale(loss)")
        }
        guard let found = foundInf else { throw TorchError("GradScaler.update without a step since the last one") }
        try Kernels.ampUpdateScale(
            scale, growthTracker: tracker, foundInf: found, growthFactor: growthFactor, backoffFactor: backoffFactor,
            growthInterval: growthInterval)
        foundInf = nil
        stepped = false
    }

    /// The current scale (`get_scale()`; a device read), or the initial one before the first `scale(_:)`. NaN on meta.
    public var currentScale: Double {
        get throws {
            guard let s = scaleTensor else { return initScale }
            return s.device.holdsValues ? try s.item() : .nan
        }
    }

    /// The state a checkpoint keeps (`state_dict()`'s `scale` and `_growth_tracker`).
    public func state() throws -> GradScalerState {
        guard let s = scaleTensor, let t = growthTracker, s.device.holdsValues else {
            return GradScalerState(scale: initScale, growthTracker: initGrowthTracker)
        }
        return GradScalerState(scale: try s.item(), growthTracker: try t.itemInt())
    }

    /// Restores a saved state (`load_state_dict`): the next `scale(_:)` starts from it.
    public func load(_ state: GradScalerState) throws {
        guard state.scale > 0, state.scale.isFinite, state.growthTracker >= 0 else {
            throw TorchError("GradScaler state: scale \(state.scale), growth tracker \(state.growthTracker)")
        }
        initScale = state.scale
        initGrowthTracker = state.growthTracker
        if let s = scaleTensor, let t = growthTracker {
            try s.fill_(state.scale)
            try t.fill_(Double(state.growthTracker))
        }
    }
}

/// A `GradScaler`'s saved state (the checkpoint's settings JSON).
public struct GradScalerState: Codable, Equatable, Sendable {
    public var scale: Double
    public var growthTracker: Int
    public init(scale: Double, growthTracker: Int) { self.scale = scale; self.growthTracker = growthTracker }
    enum CodingKeys: String, CodingKey { case scale, growthTracker = "growth_tracker" }
}
