import Foundation
import Torch

/// Data parallelism like `torch.nn.parallel.DistributedDataParallel`: every rank holds the whole model, parameters
/// start as rank 0's, and before each optimizer step the gradients are averaged over ranks.
///
/// Gradients are all-reduced in buckets of about `bucketCapMB` (DDP's default 25 MB), in reverse parameter order as
/// DDP fills them. Each bucket is one flat buffer and its all-reduce is asynchronous: Gloo's threads reduce bucket k
/// while this thread packs bucket k+1. The all-reduces start after backward (no autograd hooks), so they overlap each
/// other and the packing, not the backward pass.
public struct DataParallel {
    public let group: ProcessGroup
    public let parameters: [Tensor]
    public let buckets: [[Int]]

    public init(_ group: ProcessGroup, parameters: [Tensor], bucketCapMB: Double = 25) {
        self.group = group
        self.parameters = parameters
        let cap = Int(bucketCapMB * 1024 * 1024)
        var buckets: [[Int]] = [], cur: [Int] = [], bytes = 0
        for i in parameters.indices.reversed() {
            let p = parameters[i]
            let b = p.count * p.dtype.elementSize
            if !cur.isEmpty && (bytes + b > cap || parameters[cur[0]].dtype != p.dtype) { buckets.append(cur); cur = []; bytes = 0 }
            cur.append(i); bytes += b
        }
        if !cur.isEmpty { buckets.append(cur) }
        self.buckets = buckets
    }

    /// Copies rank 0's parameters to every rank (DDP's constructor broadcast).
    public func broadcastParameters() throws {
        guard group.worldSize > 1 else { return }
        let works = try withNoGrad { try buckets.map { b in try group.broadcastAsync(b.map { try parameters[$0].detach() }, root: 0) } }
        for w in works { try w.wait() }
    }

    /// Averages `.grad` of every parameter over ranks, in place. A parameter without a gradient on this rank counts
    /// as zeros (so ranks that skipped it stay in step, like `find_unused_parameters`).
    public func allReduceGradients() throws {
        guard group.worldSize > 1 else { return }
        var works: [Work] = []
        for b in buckets {
            var grads: [Tensor] = []
            for i in b {
                let p = parameters[i]
                if let g = p.grad { grads.append(g) } else {
                    let z = try Tensor.zeros(p.shape, dtype: p.dtype)
                    try p.setGrad(z)
                    grads.append(z)
                }
            }
            works.append(try group.allReduceAsync(grads, op: .average))
        }
        for w in works { try w.wait() }
    }
}
