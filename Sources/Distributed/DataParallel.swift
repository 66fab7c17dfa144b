import CTorch
import Foundation
import NN
@_spi(Engine) import Torch

/// Data parallelism like `torch.nn.parallel.DistributedDataParallel`: every rank holds the whole model, parameters
/// start as rank 0's, and the gradients of every optimizer step are averaged over ranks.
///
/// Two ways to average, both in buckets (DDP's 25 MB, first bucket 1 MB) in reverse parameter order:
/// - `.overlapped` (default): c10d's own DDP `Reducer`. Call `prepareForBackward` before the backward that ends an
///   accumulation window; its autograd hooks all-reduce each bucket as soon as its gradients are ready, while backward
///   goes on, and the averaged gradients are in `.grad` when backward returns. Other backwards only accumulate
///   (DDP's `no_sync`). `syncGradients()` is then a no-op.
/// - `.afterBackward`: `syncGradients()` packs each bucket into one flat buffer and all-reduces the buckets
///   asynchronously (Gloo reduces bucket k while this thread packs k+1), after backward.
///
/// As a `GradientSync` it is what the pre-training and fine-tuning engines call around each backward.
public struct DataParallel: GradientSync {
    public enum Mode: Sendable { case overlapped, afterBackward }
    public let group: ProcessGroup
    public let parameters: [Tensor]
    public let mode: Mode
    /// Buckets of `.afterBackward` (indices into `parameters`); the Reducer's count for `.overlapped`.
    public let buckets: [[Int]]
    public var bucketCount: Int { reducer.map { Int(ctd_reducer_bucket_count($0.raw)) } ?? buckets.count }
    let reducer: ReducerHandle?

    public init(
        _ group: ProcessGroup, parameters: [Tensor], bucketCapMB: Double = 25, firstBucketMB: Double = 1,
        mode: Mode = .overlapped
    ) throws {
        self.group = group
        self.parameters = parameters.filter(\.requiresGrad)
        self.mode = mode
        let cap = Int(bucketCapMB * 1024 * 1024), first = Int(min(firstBucketMB, bucketCapMB) * 1024 * 1024)
        var buckets: [[Int]] = [], cur: [Int] = [], bytes = 0
        for i in self.parameters.indices.reversed() {
            let p = self.parameters[i]
            let b = p.count * p.dtype.elementSize
            let limit = buckets.isEmpty ? first : cap
            if !cur.isEmpty && (bytes + b > limit || self.parameters[cur[0]].dtype != p.dtype) {
                buckets.append(cur); cur = []; bytes = 0
            }
            cur.append(i); bytes += b
        }
        if !cur.isEmpty { buckets.append(cur) }
        self.buckets = buckets
        if mode == .overlapped && group.worldSize > 1 {
            let hs: [ct_tensor?] = self.parameters.map { $0.engineHandle }
            var r: ctd_reducer?
            try withExtendedLifetime(self.parameters) {
                try dcheck(
                    ctd_reducer_new(group.handle.raw, hs, Int32(hs.count), Int64(cap), Int64(max(first, 1)), &r),
                    "DDP reducer on rank \(group.rank)")
            }
            reducer = ReducerHandle(r!, group: group.handle)
        } else {
            reducer = nil
        }
    }

    /// Copies rank 0's parameters to every rank (DDP's constructor broadcast).
    public func broadcastParameters() throws {
        guard group.worldSize > 1 else { return }
        let works = try withNoGrad {
            try buckets.map { b in try group.broadcastAsync(b.map { try parameters[$0].detach() }, root: 0) }
        }
        for w in works { try w.wait() }
    }

    /// `.overlapped`: arms the Reducer for the next backward (the one before an optimizer step). `outputs`: what
    /// backward starts from (the loss).
    public func prepareForBackward(_ outputs: [Tensor]) throws {
        guard let reducer else { return }
        let hs: [ct_tensor?] = outputs.map { $0.engineHandle }
        try withExtendedLifetime(outputs) {
            try dcheck(
                ctd_reducer_prepare(reducer.raw, hs, Int32(hs.count)), "DDP prepare_for_backward on rank \(group.rank)")
        }
    }

    /// `.afterBackward`: averages `.grad` of every parameter over ranks, in place. A parameter without a gradient on
    /// this rank counts as zeros. `.overlapped`: nothing left to do (backward did it).
    public func syncGradients() throws {
        guard group.worldSize > 1, mode == .afterBackward else { return }
        var works: [Work] = []
        for b in buckets {
            var grads: [Tensor] = []
            for i in b {
                let p = parameters[i]
                if let g = p.grad {
                    grads.append(g)
                } else {
                    let z = try Tensor.zeros(p.shape, dtype: p.dtype, device: p.device)
                    try p.setGrad(z)
                    grads.append(z)
                }
            }
            works.append(try group.allReduceAsync(grads, op: .average))
        }
        for w in works { try w.wait() }
    }
}

extension DataParallel {
    /// Its gradient hooks sit on the fp32 weights: no bf16 compute copies.
    public var isLocal: Bool { false }

    /// Arms the Reducer (`prepareForBackward`) for the backward before an optimizer step; other backwards only
    /// accumulate (DDP's `no_sync`).
    public func beforeBackward(_ loss: Tensor, willStep: Bool) throws {
        if willStep { try prepareForBackward([loss]) }
    }

    /// The mean of `value` over ranks.
    public func reduceMean(_ value: Double) throws -> Double { try group.allReduceMean(value) }
}

/// Owns a c10d Reducer (and keeps its group alive).
final class ReducerHandle: @unchecked Sendable {
    let raw: ctd_reducer
    let group: GroupHandle
    init(_ raw: ctd_reducer, group: GroupHandle) { self.raw = raw; self.group = group }
    deinit { ctd_reducer_free(raw) }
}
