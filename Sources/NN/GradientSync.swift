import Torch

/// How the gradients of an optimizer step are combined over the processes of a run: not at all in one process
/// (`LocalGradientSync`), averaged over ranks in data-parallel training (`DataParallel` of Distributed, PyTorch's
/// DDP). The pre-training and fine-tuning engines call it around every backward:
///
///     try sync.beforeBackward(loss, willStep: endsWindow)   // DDP arms its hooks for the backward before a step
///     try loss.backward()
///     if endsWindow { try sync.syncGradients(); logged = try sync.reduceMean(logged); optimizer step }
public protocol GradientSync {
    /// True in one process: the gradients are this process's own, so nothing hooks the fp32 weights and the bf16
    /// compute copies of `BF16Weights` may stand in for them.
    var isLocal: Bool { get }
    /// Before the backward of `loss`; `willStep`: an optimizer step follows it (the end of an accumulation window).
    func beforeBackward(_ loss: Tensor, willStep: Bool) throws
    /// After the backward that ends an accumulation window, before clipping: `.grad` averaged over ranks.
    func syncGradients() throws
    /// The mean of a logged scalar over ranks (mae's `all_reduce_mean`).
    func reduceMean(_ value: Double) throws -> Double
}

/// One process: nothing to combine.
public struct LocalGradientSync: GradientSync {
    public init() {}
    public var isLocal: Bool { true }
    public func beforeBackward(_ loss: Tensor, willStep: Bool) throws {}
    public func syncGradients() throws {}
    public func reduceMean(_ value: Double) throws -> Double { value }
}
