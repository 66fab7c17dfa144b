import Foundation

/// Where this process sits in a data-parallel job, read from the launcher's environment like
/// `torch.distributed.init_process_group("env://")` and mae's `init_distributed_mode`.
///
/// - torchrun / `stmae launch`: `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`.
/// - Slurm (`srun`): `SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, `SLURM_NTASKS_PER_NODE`; the master is
///   `MASTER_ADDR` if set, else `SLURM_LAUNCH_NODE_IPADDR`; the port is `MASTER_PORT` if set, else 29500.
/// - neither: a single process (rank 0 of 1).
public struct DistEnvironment: Equatable, Sendable {
    public enum Source: String, Sendable { case single, torchrun, slurm }
    public var source: Source
    public var rank: Int
    public var worldSize: Int
    public var localRank: Int
    public var localWorldSize: Int
    public var masterAddr: String
    public var masterPort: Int
    public var isDistributed: Bool { worldSize > 1 }

    public init(
        source: Source = .single, rank: Int = 0, worldSize: Int = 1, localRank: Int = 0, localWorldSize: Int = 1,
        masterAddr: String = "127.0.0.1", masterPort: Int = 29500
    ) {
        self.source = source; self.rank = rank; self.worldSize = worldSize; self.localRank = localRank
        self.localWorldSize = localWorldSize; self.masterAddr = masterAddr; self.masterPort = masterPort
    }

    /// Reads the environment (default: this process's). Errors name the variable and what was expected.
    public static func detect(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> DistEnvironment {
        func int(_ key: String) throws -> Int? {
            guard let s = env[key], !s.isEmpty else { return nil }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
                throw DistError("environment variable \(key)=\(s) is not an integer")
            }
            return v
        }
        func port() throws -> Int {
            let p = try int("MASTER_PORT") ?? 29500
            guard (1 ... 65535).contains(p) else { throw DistError("MASTER_PORT=\(p) must be in 1...65535") }
            return p
        }
        var e: DistEnvironment
        if let rank = try int("RANK"), let world = try int("WORLD_SIZE") {
            guard let addr = env["MASTER_ADDR"], !addr.isEmpty else {
                throw DistError(
                    "RANK and WORLD_SIZE are set but MASTER_ADDR is not (expected the rank-0 host, as torchrun sets it)"
                )
            }
            e = DistEnvironment(
                source: .torchrun, rank: rank, worldSize: world, localRank: try int("LOCAL_RANK") ?? 0,
                localWorldSize: try int("LOCAL_WORLD_SIZE") ?? world, masterAddr: addr, masterPort: try port())
        } else if let rank = try int("SLURM_PROCID"), let world = try int("SLURM_NTASKS") {
            let addr = env["MASTER_ADDR"].flatMap { $0.isEmpty ? nil : $0 } ?? env["SLURM_LAUNCH_NODE_IPADDR"] ?? ""
            guard !addr.isEmpty else {
                throw DistError(
                    "Slurm job (SLURM_PROCID=\(rank)) without MASTER_ADDR or SLURM_LAUNCH_NODE_IPADDR: "
                        + "set MASTER_ADDR to the first node"
                )
            }
            // SLURM_NTASKS_PER_NODE may read "2(x3)"; the leading number is this node's count.
            let perNode = env["SLURM_NTASKS_PER_NODE"].flatMap { Int($0.prefix { $0.isNumber }) } ?? world
            e = DistEnvironment(
                source: .slurm, rank: rank, worldSize: world, localRank: try int("SLURM_LOCALID") ?? 0,
                localWorldSize: perNode, masterAddr: addr, masterPort: try port())
        } else {
            return DistEnvironment()
        }
        guard e.worldSize >= 1 else { throw DistError("world size must be ≥ 1, got \(e.worldSize)") }
        guard (0 ..< e.worldSize).contains(e.rank) else { throw DistError("rank \(e.rank) outside 0..<\(e.worldSize)") }
        guard (0 ..< max(e.localWorldSize, 1)).contains(e.localRank) else {
            throw DistError("local rank \(e.localRank) outside 0..<\(e.localWorldSize)")
        }
        return e
    }
}

/// A failure of the distributed layer: bad environment, rendezvous timeout, a peer that died.
public struct DistError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
