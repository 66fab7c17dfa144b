import Foundation
import Torch

/// A set of parameters sharing weight decay and an lr multiplier (`lr_scale`, for layer-wise decay).
public struct ParamGroup {
    public var names: [String]
    public var params: [Tensor]
    public var weightDecay: Double
    public var lrScale: Double
    public init(names: [String], params: [Tensor], weightDecay: Double, lrScale: Double = 1) {
        self.names = names; self.params = params; self.weightDecay = weightDecay; self.lrScale = lrScale
    }
}

/// Parameter groups as MAE (mae_st `util.misc.add_weight_decay`): no weight decay for 1-D tensors (norms, biases;
/// decayed with `decay1D`, mae_st's `bias_wd`), names ending in `.bias`, and `skip` (e.g. a model's
/// `no_weight_decay`); optionally layer-wise lr decay (`util.lr_decay.param_groups_lrd`):
/// `lr_scale = decay^(layers − layerId(name))`.
public func paramGroups(
    _ named: [(String, Tensor)], weightDecay: Double, skip: Set<String> = [], decay1D: Bool = false,
    layerDecay: Double? = nil, numLayers: Int = 0, layerId: ((String) -> Int)? = nil
) -> [ParamGroup] {
    var groups: [String: ParamGroup] = [:]
    var order: [String] = []
    for (name, p) in named {
        let noDecay = (!decay1D && p.rank <= 1) || name.hasSuffix(".bias") || skip.contains(name)
        let wd = noDecay ? 0 : weightDecay
        var scale = 1.0, key = noDecay ? "no_decay" : "decay"
        if let layerDecay, let layerId {
            let id = layerId(name)
            scale = pow(layerDecay, Double(numLayers - id))
            key = "layer_\(id)_\(key)"
        }
        if groups[key] == nil {
            groups[key] = ParamGroup(names: [], params: [], weightDecay: wd, lrScale: scale); order.append(key)
        }
        groups[key]!.names.append(name)
        groups[key]!.params.append(p)
    }
    return order.map { groups[$0]! }
}

/// AdamW over parameter groups using libtorch's fused kernel (`torch.optim.AdamW(fused=True)`). Set `lr` before each
/// `step()` (the schedule does); each group uses `lr × lrScale`. Parameters without a gradient are skipped. The state
/// lives on each parameter's device (created there; restored there from a checkpoint's CPU tensors).
public final class AdamW {
    public var groups: [ParamGroup]
    public var lr: Double
    public let beta1: Double, beta2: Double, eps: Double
    /// Per parameter: exp_avg, exp_avg_sq, step (float scalar tensor), created on first use.
    public private(set) var state: [ObjectIdentifier: (expAvg: Tensor, expAvgSq: Tensor, step: Tensor)] = [:]

    public init(_ groups: [ParamGroup], lr: Double, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8) {
        self.groups = groups; self.lr = lr; beta1 = betas.0; beta2 = betas.1; self.eps = eps
    }

    private func slot(_ p: Tensor) throws -> (expAvg: Tensor, expAvgSq: Tensor, step: Tensor) {
        let id = ObjectIdentifier(p.identity)
        if let s = state[id] { return s }
        let d = p.device
        let s = (
            try Tensor.zeros(p.shape, dtype: p.dtype, device: d), try Tensor.zeros(p.shape, dtype: p.dtype, device: d),
            try Tensor.zeros([], dtype: .float32, device: d)
        )
        state[id] = s
        return s
    }

    public func step() throws {
        for g in groups {
            var ps: [Tensor] = [], gs: [Tensor] = [], ms: [Tensor] = [], vs: [Tensor] = [], ss: [Tensor] = []
            for p in g.params {
                guard let grad = p.grad else { continue }
                let s = try slot(p)
                ps.append(p); gs.append(grad); ms.append(s.expAvg); vs.append(s.expAvgSq); ss.append(s.step)
            }
            try Kernels.fusedAdamW(
                params: ps, grads: gs, expAvgs: ms, expAvgSqs: vs, steps: ss, lr: lr * g.lrScale,
                beta1: beta1, beta2: beta2, weightDecay: g.weightDecay, eps: eps)
        }
    }

    /// Clears every gradient (`set_to_none`).
    public func zeroGrad() throws { for g in groups { for p in g.params { try p.setGrad(nil) } } }

    /// All gradients of the groups' parameters (for clipping).
    public func grads() -> [Tensor] { groups.flatMap { $0.params.compactMap(\.grad) } }

    /// Optimizer state keyed `<param name>.exp_avg|exp_avg_sq|step`, for checkpoints.
    public func stateDict() throws -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for g in groups {
            for (name, p) in zip(g.names, g.params) {
                guard let s = state[ObjectIdentifier(p.identity)] else { continue }
                out += [("\(name).exp_avg", s.expAvg), ("\(name).exp_avg_sq", s.expAvgSq), ("\(name).step", s.step)]
            }
        }
        return out
    }

    /// Restores what `stateDict` wrote; every parameter with a saved state must match its shape.
    public func loadStateDict(_ d: [String: Tensor]) throws {
        for g in groups {
            for (name, p) in zip(g.names, g.params) {
                guard let m = d["\(name).exp_avg"], let v = d["\(name).exp_avg_sq"], let st = d["\(name).step"] else {
                    continue
                }
                guard m.shape == p.shape, v.shape == p.shape else {
                    throw TorchError("optimizer state for \(name): shape \(m.shape), parameter \(p.shape)")
                }
                let d = p.device
                state[ObjectIdentifier(p.identity)] = (
                    try m.to(p.dtype).to(d).clone(), try v.to(p.dtype).to(d).clone(), try st.to(.float32).to(d).clone()
                )
            }
        }
    }
}
