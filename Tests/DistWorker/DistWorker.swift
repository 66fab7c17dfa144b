import ArgumentParser
import Datasets
import Distributed
import Foundation
import Models
import NN
import Torch
import Training

/// `stmae-dist-worker <check>`: the per-process side of the distributed tests and benchmarks. Reads its rank
/// from the torchrun/Slurm environment (run it under `stmae launch` or with RANK/WORLD_SIZE/MASTER_* set) and prints
/// one JSON line on rank 0.
struct DistWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stmae-dist-worker",
        abstract: "Distributed self-checks.")

    @Argument(help: "allreduce | bench | ddp | pretrain | die") var check: String
    @Option(name: .customLong("dist_timeout"), help: "Seconds before a collective or the rendezvous fails.")
    var distTimeout = 60.0
    @Option(help: "bench: buffer size in MB.") var mb = 350.0
    @Option(help: "bench: timed repetitions (median).") var iters = 5
    @Option(help: "ddp/pretrain: optimizer steps.") var steps = 3
    @Option(help: "ddp/pretrain: batch per process.") var batch = 2
    @Option(help: "ddp: parameter file written by rank 0; pretrain: output dir.") var out = ""
    @Option(help: "ddp: micro-batches per optimizer step.") var accum = 1
    @Option(help: "die: rank that kills itself after --after all-reduces.") var dieRank = 1
    @Option(help: "die: all-reduces before the rank dies.") var after = 2
    @Flag(help: "die: the rank stops (SIGSTOP) instead of dying.") var hang = false
    @Option(help: "pretrain: bucket size in MB.") var bucketMb = 25.0
    @Flag(help: "ddp/pretrain: all-reduce after backward instead of c10d's overlapping Reducer.") var afterBackward =
        false
    var mode: DataParallel.Mode { afterBackward ? .afterBackward : .overlapped }
    @Option(help: "pretrain: clip size.") var imgSize = 32
    @Option(help: "pretrain: frames per clip.") var frames = 4
    @OptionGroup var kernels: KernelOptions

    func run() throws {
        kernels.apply()
        let env = try DistEnvironment.detect()
        let pg = try ProcessGroup(env, timeout: distTimeout)
        switch check {
        case "allreduce": try allReduceExact(pg)
        case "bench": try bench(pg)
        case "ddp": try ddpSteps(pg)
        case "pretrain": try pretrain(pg)
        case "die": try die(pg)
        default: throw ValidationError("unknown check '\(check)' (allreduce | bench | ddp | pretrain | die)")
        }
    }

    func emit(_ pg: ProcessGroup, _ line: [String: Any]) {
        guard pg.isMain, let d = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) else {
            return
        }
        print(String(decoding: d, as: UTF8.self)); fflush(stdout)
    }

    /// Sums of rank-dependent values every rank can predict: float32 integers (exact below 2^24), float64 fractions
    /// k/2^20, int64 — each in several shapes, flat-bucketed and single; compared bit for bit.
    func allReduceExact(_ pg: ProcessGroup) throws {
        let w = pg.worldSize, r = pg.rank
        var mismatches = 0, checked = 0
        for (n, dt) in [(1, DType.float32), (1000, .float32), (1 << 18, .float32), (4097, .float64), (333, .int64)] {
            func value(_ rank: Int, _ i: Int) -> Double {
                let v = Double((i * 7919 + rank * 104729) % 65536) - 32768
                return dt == .float64 ? v / 1048576 : v
            }
            let mine = (0 ..< n).map { value(r, $0) }
            let want = (0 ..< n).map { i in (0 ..< w).reduce(0.0) { $0 + value($1, i) } }
            let a = try Tensor.wrapping(mine.map(Float.init), shape: [n]).to(dt)
            let b = try Tensor.wrapping(mine.map(Float.init), shape: [n]).to(dt)  // same, reduced as part of a bucket
            let c = try Tensor.wrapping(mine.map(Float.init), shape: [n]).to(dt)
            try pg.allReduce([a])
            try pg.allReduce([b, c])
            for t in [a, b, c] {
                let got = try t.to(.float64).toArray(Double.self)
                mismatches += zip(got, want).filter { $0 != $1 }.count
                checked += n
            }
        }
        let avg = try pg.allReduceMean(Double(r))
        let expectAvg = Double((0 ..< w).reduce(0, +)) / Double(w)
        emit(
            pg,
            [
                "check": "allreduce", "world_size": w, "checked": checked, "mismatches": mismatches,
                "mean_of_ranks": avg, "expected_mean": expectAvg
            ])
        if mismatches > 0 || avg != expectAvg { throw ExitCode(2) }
    }

    /// All-reduce bandwidth of one float32 buffer of `mb` MB (nccl-tests' algbw and busbw).
    func bench(_ pg: ProcessGroup) throws {
        let n = Int(mb * 1e6) / 4
        let t = try Tensor.ones([n])
        try pg.allReduce([t])  // warm-up (connections, pages)
        var secs: [Double] = []
        for _ in 0 ..< iters {
            try pg.barrier()
            let t0 = DispatchTime.now()
            try pg.allReduce([t])
            secs.append(Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
        }
        let med = secs.sorted()[secs.count / 2], bytes = Double(n * 4), w = Double(pg.worldSize)
        emit(
            pg,
            [
                "check": "bench", "world_size": pg.worldSize, "mb": bytes / 1e6, "median_s": med,
                "algbw_gbps": bytes / med / 1e9,
                "busbw_gbps": bytes / med / 1e9 * 2 * (w - 1) / w
            ])
    }

    /// k AdamW steps of a tiny MAE on a fixed global batch of batch·world clips; rank r takes clips r, r+W, …
    /// (DistributedSampler order). Rank 0 writes the final parameters: equal to one process with the whole batch.
    func ddpSteps(_ pg: ProcessGroup) throws {
        var c = try MAEConfig.named("mae_vit_tiny")
        c.imgSize = 16; c.patchSize = 8; c.numFrames = 4; c.tPatchSize = 2; c.predTDim = 4; c.decoderDepth = 1;
        c.maskRatio = 0.5
        // Rank 1 starts from different weights: the broadcast must replace them with rank 0's.
        let model = try MaskedAutoencoderViT(c, generator: try Generator(seed: 7 + UInt64(pg.rank)))
        // attn.k.bias gets an analytically zero gradient (softmax ignores a per-query constant), i.e. pure roundoff
        // that AdamW's normalisation blows up to ±lr whichever way the batch is split; freezing it leaves the model's
        // math alone.
        try model.setRequiresGrad(false, where: { $0.hasSuffix("attn.k.bias") })
        let named = model.namedParameters()
        let opt = AdamW(paramGroups(named, weightDecay: 0.05), lr: 1e-3, betas: (0.9, 0.95))
        // several buckets
        let ddp = try DataParallel(pg, parameters: named.map(\.1), bucketCapMB: 0.05, firstBucketMB: 0.01, mode: mode)
        let before = try ddp.parameters.map { try $0.sum().item() }
        try ddp.broadcastParameters()
        let changed = try Tensor.full(
            [1], zip(before, try ddp.parameters.map { try $0.sum().item() }).contains { $0 != $1 } ? 1 : 0,
            dtype: .float64)
        try pg.allReduce([changed])
        let global = batch * pg.worldSize
        for step in 0 ..< steps {
            for micro in 0 ..< accum {  // gradient accumulation: only the last backward syncs (DDP's no_sync before)
                let seed = UInt64(step * accum + micro)
                let x = try Tensor.randn([global, 3, 4, 16, 16], generator: try Generator(seed: 100 + seed))
                let noise = try model.makeNoise(batch: global, generator: try Generator(seed: 200 + seed))
                let mine = try x.slice(dim: 0, start: pg.rank, step: pg.worldSize)
                let myNoise = try noise.slice(dim: 0, start: pg.rank, step: pg.worldSize)
                let loss = try model(mine, noise: myNoise).loss / Double(accum)
                if micro == accum - 1 { try ddp.prepareForBackward([loss]) }
                try loss.backward()
            }
            try ddp.syncGradients()
            try Kernels.clipGradNorm(opt.grads(), maxNorm: 1.0)
            try opt.step()
            try opt.zeroGrad()
        }
        if pg.isMain && !out.isEmpty { try TensorFile.save(try model.stateDict(), to: out) }
        emit(
            pg,
            [
                "check": "ddp", "world_size": pg.worldSize, "steps": steps, "buckets": ddp.bucketCount,
                "ranks_changed_by_broadcast": try changed.item()
            ])
    }

    /// The real pre-training loop (Pretrainer) on in-memory clips sharded by rank; each rank gets its own output dir
    /// `<out>/rank<r>` so the test can see that only rank 0 writes. Prints global clips/s.
    func pretrain(_ pg: ProcessGroup) throws {
        var c = PretrainConfig()
        c.patchSize = 8; c.decoderDepth = 1; c.maskRatio = 0.75; c.blr = 1.6e-3
        c.imgSize = imgSize; c.numFrames = frames
        c.batchSizePerGpu = batch; c.repeatAug = 1; c.epochs = 1; c.warmupEpochs = 0; c.maxSteps = 0; c.logEvery = 1000
        c.outputDir = "\(out)/rank\(pg.rank)"; c.checkpointPeriod = 1; c.threads = 0
        try FileManager.default.createDirectory(atPath: c.outputDir, withIntermediateDirectories: true)
        let trainer = try Pretrainer(c, worldSize: pg.worldSize, rank: pg.rank)
        let ddp = try dataParallel(trainer.model, group: pg, bucketCapMB: bucketMb, mode: mode)
        trainer.gradientSync = ddp
        let feed = ShardFeed(
            batchesPerEpoch: steps, shape: [batch, 3, frames, imgSize, imgSize], rank: pg.rank, worldSize: pg.worldSize)
        var stepTimes: [UInt64] = []  // steady state: from the first optimizer step to the last
        trainer.onStep = { _, _ in stepTimes.append(DispatchTime.now().uptimeNanoseconds) }
        let state = try trainer.run(feed: feed)
        try pg.barrier()
        let secs = Double((stepTimes.last ?? 0) - (stepTimes.first ?? 0)) / 1e9
        emit(
            pg,
            [
                "check": "pretrain", "world_size": pg.worldSize, "steps": state.step, "loss": state.lossHistory,
                "mode": afterBackward ? "after_backward" : "overlapped", "buckets": ddp.bucketCount,
                "clips_per_s": Double((stepTimes.count - 1) * batch * pg.worldSize) / max(secs, 1e-9), "lr": trainer.lr
            ])
    }

    /// `dieRank` kills itself (SIGKILL; with --hang it stops, SIGSTOP, like a wedged host) after `after` all-reduces;
    /// the others keep reducing and must fail.
    func die(_ pg: ProcessGroup) throws {
        let t = try Tensor.ones([1 << 16])
        for i in 0 ..< 10_000 {
            if pg.rank == dieRank && i == after { kill(getpid(), hang ? SIGSTOP : SIGKILL) }
            try pg.allReduce([t], op: .average)
        }
        throw ValidationError("rank \(pg.rank): 10000 all-reduces finished although rank \(dieRank) died")
    }
}

/// Deterministic in-memory clips; rank r of W takes global batch i's samples r, r+W, … (a DistributedSampler shard).
struct ShardFeed: ClipFeed {
    let batchesPerEpoch: Int
    let shape: [Int]
    let rank: Int, worldSize: Int
    func batches(epoch: Int, startBatch: Int) throws -> FeedIterator {
        FeedIterator(
            (startBatch ..< batchesPerEpoch).lazy.map { i in
                var g = shape
                g[0] *= worldSize
                let all = try! Tensor.randn(g, generator: try! Generator(seed: UInt64(epoch * 1000 + i)))
                let mine = try! all.slice(dim: 0, start: rank, step: worldSize).contiguous()
                return ClipBatch(data: try! mine.toArray(Float.self), shape: shape, index: i)
            })
    }
}
