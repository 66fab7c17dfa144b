import CTorch

/// Autograd: gradients, grad mode and autocast.
extension Tensor {
    public var requiresGrad: Bool { ct_requires_grad(raw) != 0 }
    public var isLeaf: Bool { ct_is_leaf(raw) != 0 }
    /// Sets `requires_grad` in place and returns self.
    @discardableResult
    public func requiresGrad(_ flag: Bool) throws -> Tensor {
        try check(ct_set_requires_grad(raw, flag ? 1 : 0), "requires_grad_ on a \(dtype) tensor")
        return self
    }
    /// `.grad`, nil when undefined.
    public var grad: Tensor? {
        var g: ct_tensor?
        guard ct_grad(raw, &g) == 0, let g else { return nil }
        return Tensor(owning: g)
    }
    /// Sets or clears (`nil`) `.grad`.
    public func setGrad(_ g: Tensor?) throws { try check(ct_set_grad(raw, g?.raw), "set grad") }
    /// `self.data = src`: this tensor (a parameter, say) takes `src`'s storage, shape and dtype in place.
    public func setData(_ src: Tensor) throws { try check(ct_set_data(raw, src.raw), "set data") }
    /// Mixed precision (self: a leaf copy of `master` in lower precision): whenever backward has accumulated this
    /// tensor's gradient, it is added into `master.grad` (or becomes it, converted to master's dtype) and cleared here.
    public func setGradSink(master: Tensor) throws { try check(ct_set_grad_sink(raw, master.raw), "grad sink") }
    /// Back-propagates from this tensor (a scalar unless `gradient` is given).
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false) throws {
        try check(ct_backward(raw, gradient?.raw, retainGraph ? 1 : 0), "backward from \(shape)")
    }
}

/// Runs `body` with gradient recording off (`torch.no_grad()`), restoring the previous mode after.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let prev = ct_grad_mode_enabled()
    ct_set_grad_mode(0)
    defer { ct_set_grad_mode(prev) }
    return try body()
}

/// Whether autograd records on this thread.
public var isGradEnabled: Bool { ct_grad_mode_enabled() != 0 }

/// Runs `body` under automatic mixed precision (`torch.autocast(device, dtype)`) when `enabled`.
public func withAutocast<R>(
    _ dtype: DType = .bfloat16, device: Device = .cpu, enabled: Bool = true,
    _ body: () throws -> R
) throws -> R {
    guard enabled else { return try body() }
    var prev: Int64 = 0
    let code = device.autocastCode
    try check(ct_autocast_enter(code, dtype.rawValue, &prev), "autocast(\(device), \(dtype))")
    defer { _ = ct_autocast_exit(code, prev) }
    return try body()
}

/// Whether autocast is on for `device` on this thread.
public func isAutocastEnabled(_ device: Device = .cpu) -> Bool { ct_autocast_enabled(device.autocastCode) != 0 }

/// Optimiser kernels over lists of tensors.
public enum Kernels {
    /// `torch._fused_adamw_` for one parameter group (increments each float `step` tensor by 1 first).
    public static func fusedAdamW(
        params: [Tensor], grads: [Tensor], expAvgs: [Tensor], expAvgSqs: [Tensor], steps: [Tensor],
        lr: Double, beta1: Double, beta2: Double, weightDecay: Double, eps: Double
    ) throws {
        let n = params.count
        guard grads.count == n, expAvgs.count == n, expAvgSqs.count == n, steps.count == n else {
            throw TorchError(
                "fused AdamW: \(n) params but \(grads.count) grads, \(expAvgs.count)/\(expAvgSqs.count) moments, "
                    + "\(steps.count) steps"
            )
        }
        let p: [ct_tensor?] = params.map { $0.raw }, g: [ct_tensor?] = grads.map { $0.raw }
        let m: [ct_tensor?] = expAvgs.map { $0.raw }, v: [ct_tensor?] = expAvgSqs.map { $0.raw },
            s: [ct_tensor?] = steps.map { $0.raw }
        try withExtendedLifetime((params, grads, expAvgs, expAvgSqs, steps)) {
            try check(ct_fused_adamw(p, g, m, v, s, Int32(n), lr, beta1, beta2, weightDecay, eps, 0), "fused AdamW")
        }
    }
    /// `torch.nn.utils.clip_grad_norm_`: returns the total 2-norm before clipping.
    @discardableResult
    public static func clipGradNorm(_ grads: [Tensor], maxNorm: Double) throws -> Double {
        let g: [ct_tensor?] = grads.map { $0.raw }
        var total = 0.0
        try withExtendedLifetime(grads) {
            try check(ct_clip_grad_norm(g, Int32(g.count), maxNorm, &total), "clip_grad_norm")
        }
        return total
    }
    /// `torch._amp_foreach_non_finite_check_and_unscale_`: each gradient × `invScale` (float [1]); `foundInf`
    /// (float [1]) set to 1 if any value is inf or NaN.
    public static func ampUnscale(_ grads: [Tensor], foundInf: Tensor, invScale: Tensor) throws {
        let g: [ct_tensor?] = grads.map { $0.raw }
        try withExtendedLifetime((grads, foundInf, invScale)) {
            try check(ct_amp_unscale_(g, Int32(g.count), foundInf.raw, invScale.raw), "amp unscale")
        }
    }
    /// `torch._amp_update_scale_`: `scale` (float [1]) and `growthTracker` (int32 [1]) updated in place.
    public static func ampUpdateScale(
        _ scale: Tensor, growthTracker: Tensor, foundInf: Tensor, growthFactor: Double, backoffFactor: Double,
        growthInterval: Int
    ) throws {
        try check(
            ct_amp_update_scale_(
                scale.raw, growthTracker.raw, foundInf.raw, growthFactor, backoffFactor, Int64(growthInterval)),
            "amp update scale")
    }
    public static func zero(_ ts: [Tensor]) throws {
        let h: [ct_tensor?] = ts.map { $0.raw }
        try withExtendedLifetime(ts) { try check(ct_foreach_zero_(h, Int32(h.count)), "foreach zero_") }
    }
    public static func mul(_ ts: [Tensor], _ s: Double) throws {
        let h: [ct_tensor?] = ts.map { $0.raw }
        try withExtendedLifetime(ts) { try check(ct_foreach_mul_scalar_(h, Int32(h.count), s), "foreach mul_") }
    }
}
