import ArgumentParser
import Distributed
import Training

/// Makes `trainer` one rank of a data-parallel run (what `DistributedDataParallel(model)` does in mae_st's
/// main_pretrain): rank 0's weights everywhere, gradients averaged over ranks during the backward that ends each
/// accumulation window, logged loss averaged over ranks. Create the trainer with the group's worldSize/rank (lr
/// scaling, rank-0-only logs and checkpoints) and give the data loader the same rank/worldSize (its shard).
///
///     let pg = try ProcessGroup.fromEnvironment(timeout: distTimeout)       // nil: single process
///     let trainer = try Pretrainer(config, worldSize: pg?.worldSize ?? 1, rank: pg?.rank ?? 0)
///     if let pg { _ = try attachDataParallel(trainer, group: pg) }
@discardableResult
func attachDataParallel(
    _ trainer: Pretrainer, group: ProcessGroup, bucketCapMB: Double = 25,
    mode: DataParallel.Mode = .overlapped
) throws -> DataParallel {
    let ddp = try DataParallel(group, parameters: trainer.model.parameters(), bucketCapMB: bucketCapMB, mode: mode)
    try ddp.broadcastParameters()
    trainer.gradientSync = ddp
    return ddp
}

/// `--dist_timeout SECONDS` (default 1800, PyTorch's) taken out of pass-through flags.
func takeDistTimeout(_ args: [String]) throws -> (Double, [String]) {
    var rest: [String] = [], timeout = 1800.0, i = 0
    while i < args.count {
        let a = args[i]
        if a == "--dist_timeout" || a.hasPrefix("--dist_timeout=") {
            let v =
                a.contains("=")
                ? String(a.split(separator: "=", maxSplits: 1)[1]) : (i + 1 < args.count ? args[i + 1] : "")
            guard let t = Double(v), t > 0 else {
                throw ValidationError("--dist_timeout: expected seconds > 0, got '\(v)'")
            }
            timeout = t
            i += a.contains("=") ? 1 : 2
        } else {
            rest.append(a); i += 1
        }
    }
    return (timeout, rest)
}
