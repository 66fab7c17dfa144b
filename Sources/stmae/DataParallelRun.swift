import ArgumentParser
import Distributed
import NN
import Torch
import Training

/// Makes `model`'s training data parallel (what `DistributedDataParallel(model)` does in mae_st's main_pretrain /
/// main_finetune): rank 0's weights everywhere, gradients averaged over ranks during the backward that ends each
/// accumulation window. Create the trainer with the group's worldSize/rank (lr scaling, rank-0-only logs and
/// checkpoints) and give the data loader the same rank/worldSize (its shard).
///
///     let pg = try ProcessGroup.fromEnvironment(timeout: c.distTimeout, heartbeat: c.heartbeat)  // nil: one process
///     let trainer = try Pretrainer(config, worldSize: pg?.worldSize ?? 1, rank: pg?.rank ?? 0)
///     if let pg { try attachDataParallel(trainer, group: pg) }
func dataParallel(
    _ model: Module, group: ProcessGroup, bucketCapMB: Double = 25, mode: DataParallel.Mode = .overlapped
) throws -> DataParallel {
    let ddp = try DataParallel(group, parameters: model.parameters(), bucketCapMB: bucketCapMB, mode: mode)
    try ddp.broadcastParameters()
    return ddp
}

/// The process group of a launched run (nil: one process), its backend from `--dist_backend` and `--device` (auto:
/// NCCL for CUDA, else Gloo). On CUDA each rank computes on its own GPU, `cuda:LOCAL_RANK` (torchrun scripts'
/// `torch.cuda.set_device(local_rank)`): `s.device` is set to it. `--distributed` without a launcher environment is
/// an error that says how to launch `command`.
func launchedGroup<S: RunSettings>(_ s: inout S, command: String) throws -> ProcessGroup? {
    let pg = try ProcessGroup.fromEnvironment(
        timeout: s.distTimeout, heartbeat: s.heartbeat, backend: s.distBackend, deviceIsCUDA: s.device.isCUDA)
    if s.distributed && pg == nil {
        throw ValidationError(
            "--distributed: no launcher environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT or SLURM_*); "
                + "start with `stmae launch --nproc_per_node N -- \(command) …`")
    }
    if let pg, s.device.isCUDA { s.device = pg.device }
    return pg
}

/// Pre-training as one rank: gradients averaged, logged loss averaged, the ranks agree on the step to stop at.
func attachDataParallel(_ trainer: Pretrainer, group: ProcessGroup) throws {
    trainer.gradientSync = try dataParallel(trainer.model, group: group)
    trainer.stopVote = group.stopVote
}

/// Fine-tuning as one rank, as `attachDataParallel(_: Pretrainer …)`; `shardedEval` (`--dist_eval`): each rank
/// validates its shard and the counts are summed over ranks.
func attachDataParallel(_ trainer: Finetuner, group: ProcessGroup, shardedEval: Bool) throws {
    trainer.gradientSync = try dataParallel(trainer.model, group: group)
    trainer.stopVote = group.stopVote
    if shardedEval { trainer.sumOverRanks = { try group.allReduceSum($0) } }
}

extension ProcessGroup {
    /// The largest signal number over ranks (0: none asked to stop): one all-reduce per optimizer step.
    var stopVote: StopVote { { try allReduceMax($0) } }

    /// After a signal stopped training: waits until every rank (rank 0 writing the checkpoint) is done, so that no rank
    /// ends first and the launcher stops the others mid-save.
    func afterStop() {
        if stoppedBySignalStatus != nil { try? barrier() }
    }
}
