import CTorch
import Foundation
@_spi(Engine) import Torch

/// Owns one c10d group (TCPStore + ProcessGroupGloo or ProcessGroupNCCL); freed when the last `ProcessGroup` copy
/// goes away.
final class GroupHandle: @unchecked Sendable {
    let raw: ctd_group
    var heartbeat: Heartbeat?
    init(_ raw: ctd_group) { self.raw = raw }
    deinit {
        heartbeat?.stop(finished: true)
        ctd_group_free(raw)
    }
}

@inline(__always)
func dcheck(_ rc: Int32, _ context: @autoclosure () -> String) throws {
    if rc != 0 { throw DistError("\(context()): \(String(cString: ct_last_error()))") }
}

public enum ReduceOp: Int32, Sendable { case sum = 0, average = 1, max = 2, min = 3 }

/// An in-flight collective. `wait()` blocks until it is done (throws the peer or timeout error) and writes the result
/// into the tensors it was started on.
public final class Work: @unchecked Sendable {
    let raw: ctd_work
    let keep: [Tensor]
    let what: String
    init(_ raw: ctd_work, keep: [Tensor], what: String) { self.raw = raw; self.keep = keep; self.what = what }
    deinit { ctd_work_free(raw) }
    /// timeout nil: the group's `--dist_timeout`.
    public func wait(timeout: Double? = nil) throws {
        try dcheck(ctd_wait(raw, timeout.map { Int64($0 * 1000) } ?? 0), what)
    }
}

/// A group of processes running collectives over PyTorch's c10d with the Gloo backend (CPU tensors) or NCCL (CUDA
/// tensors, one GPU per process), like `torch.distributed.init_process_group("gloo" | "nccl")`. Rank 0 serves the
/// rendezvous store at `masterAddr:masterPort`.
/// Every collective and the rendezvous itself fail (never hang) after `timeout` seconds; a rank that stops running
/// ends the job sooner, through the heartbeat (`Heartbeat`: `--heartbeat_timeout`, else `STMAE_HEARTBEAT_TIMEOUT`, else
/// 60 s).
public struct ProcessGroup: @unchecked Sendable {
    let handle: GroupHandle
    public let rank: Int
    public let worldSize: Int
    public let timeout: Double
    /// The backend, and the device its collectives take tensors on (the CPU for Gloo, cuda:LOCAL_RANK for NCCL).
    public let backend: DistBackend
    public let device: Device
    public var isMain: Bool { rank == 0 }

    /// Joins the group described by `env`. `GLOO_SOCKET_IFNAME` picks the network interface like in PyTorch;
    /// otherwise Gloo binds to the address this host uses to reach `masterAddr` (loopback when it is local).
    /// `heartbeat`: seconds without progress from a rank before this one stops naming it (0: no watch; nil:
    /// `STMAE_HEARTBEAT_TIMEOUT`, else 60).
    /// `backend` NCCL binds this process to `env.cudaDeviceIndex` (`DistBackend.resolve` picks the backend).
    public init(
        _ env: DistEnvironment, timeout: Double = 1800, heartbeat: Double? = nil, backend: DistBackend = .gloo
    ) throws {
        guard timeout > 0 else { throw DistError("--dist_timeout must be positive, got \(timeout)") }
        // A peer that dies mid-collective closes its sockets; a write to one raises SIGPIPE, which would end this
        // rank silently. Ignore it, as Python (hence torch.distributed) does at start-up: the write fails and c10d
        // reports the broken collective with its message.
        signal(SIGPIPE, SIG_IGN)
        let iface = ProcessInfo.processInfo.environment["GLOO_SOCKET_IFNAME"] ?? ""
        let local = ["127.0.0.1", "localhost", "::1"].contains(env.masterAddr)
        var out: ctd_group?
        try dcheck(
            ctd_group_new_backend(
                env.masterAddr, Int32(env.masterPort), Int32(env.rank), Int32(env.worldSize),
                Int64(timeout * 1000), iface, local ? env.masterAddr : "", backend.code, Int32(env.cudaDeviceIndex),
                &out),
            "init_process_group(\(backend), \(env.masterAddr):\(env.masterPort), "
                + "rank \(env.rank)/\(env.worldSize))")
        guard let out else { throw DistError("init_process_group returned no group") }
        handle = GroupHandle(out)
        rank = env.rank; worldSize = env.worldSize; self.timeout = timeout
        self.backend = backend; device = backend.device(env)
        if env.worldSize > 1, let beat = try heartbeat.map({ $0 > 0 ? $0 : nil }) ?? Heartbeat.configuredTimeout() {
            handle.heartbeat = try Heartbeat(
                group: out, rank: rank, worldSize: worldSize, timeout: beat,
                storeAddress: "\(env.masterAddr):\(env.masterPort)")
        }
    }

    /// Tells the other ranks that this one ended normally (they stop watching its heartbeat); also done when the last
    /// copy of the group goes away.
    public func finish() { handle.heartbeat?.stop(finished: true) }

    /// Starts an all-reduce of `tensors` as one flat buffer (a bucket); results land in place on `wait()`.
    public func allReduceAsync(_ tensors: [Tensor], op: ReduceOp = .sum) throws -> Work {
        let hs: [ct_tensor?] = tensors.map { $0.engineHandle }
        var w: ctd_work?
        try withExtendedLifetime(tensors) {
            try dcheck(ctd_allreduce(handle.raw, hs, Int32(hs.count), op.rawValue, &w), "all_reduce on rank \(rank)")
        }
        return Work(w!, keep: tensors, what: "all_reduce on rank \(rank) of \(worldSize) (--dist_timeout \(timeout) s)")
    }

    public func allReduce(_ tensors: [Tensor], op: ReduceOp = .sum) throws {
        try allReduceAsync(tensors, op: op).wait()
    }

    /// The mean of a scalar over ranks (mae's `all_reduce_mean`, for logged metrics).
    public func allReduceMean(_ value: Double) throws -> Double {
        let t = try Tensor.full([1], value, dtype: .float64, device: device)
        try allReduce([t], op: .average)
        return try t.to(.cpu).item()
    }

    /// The largest of an integer over ranks (one all-reduce of one int64).
    public func allReduceMax(_ value: Int) throws -> Int {
        let t = try Tensor.full([1], Double(value), dtype: .int64, device: device)
        try allReduce([t], op: .max)
        return try t.to(.cpu).itemInt()
    }

    /// The element-wise sums of `values` over ranks (float64: exact for integer counts below 2^53).
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        guard !values.isEmpty else { return values }
        let t = try Tensor(values, shape: [values.count]).to(.float64).to(device)
        try allReduce([t], op: .sum)
        return try t.to(.cpu).toArray(Double.self)
    }

    /// Starts a broadcast of `tensors` (one flat buffer) from `root`; results land in place on `wait()`.
    public func broadcastAsync(_ tensors: [Tensor], root: Int = 0) throws -> Work {
        let hs: [ct_tensor?] = tensors.map { $0.engineHandle }
        var w: ctd_work?
        try withExtendedLifetime(tensors) {
            try dcheck(ctd_broadcast(handle.raw, hs, Int32(hs.count), Int32(root), &w), "broadcast on rank \(rank)")
        }
        return Work(
            w!, keep: tensors,
            what: "broadcast from rank \(root) on rank \(rank) of \(worldSize) (--dist_timeout \(timeout) s)")
    }

    public func broadcast(_ tensors: [Tensor], root: Int = 0) throws { try broadcastAsync(tensors, root: root).wait() }

    public func barrier() throws {
        var w: ctd_work?
        try dcheck(ctd_barrier(handle.raw, &w), "barrier on rank \(rank)")
        try Work(w!, keep: [], what: "barrier on rank \(rank) of \(worldSize) (--dist_timeout \(timeout) s)").wait()
    }

    /// The group described by the launcher's environment (torchrun, Slurm, `stmae launch`); nil in a single process.
    /// `backend`: `--dist_backend` (auto, gloo, nccl), resolved with `DistBackend.resolve` for the run's device.
    public static func fromEnvironment(
        timeout: Double = 1800, heartbeat: Double? = nil, backend: String = "auto", deviceIsCUDA: Bool = false
    ) throws -> ProcessGroup? {
        let env = try DistEnvironment.detect()
        guard env.isDistributed else { return nil }
        let chosen = try DistBackend.resolve(
            requested: backend, deviceIsCUDA: deviceIsCUDA, ncclBuilt: DistBackend.ncclBuilt)
        return try ProcessGroup(env, timeout: timeout, heartbeat: heartbeat, backend: chosen)
    }

    /// Layout of the c10d classes as compiled here (the Gloo-headers check compares them with libtorch's).
    public static func abiSizes() throws -> (processGroupGloo: Int, glooOptions: Int, tcpStoreOptions: Int) {
        var a: Int64 = 0, b: Int64 = 0, c: Int64 = 0
        try dcheck(ctd_abi_sizes(&a, &b, &c), "abi sizes")
        return (Int(a), Int(b), Int(c))
    }
}
