/// The data-parallel settings pre-training and fine-tuning share (used under `stmae launch`, torchrun or Slurm).
public protocol DistRunSettings {
    var distTimeout: Double { get set }
    var heartbeatTimeout: Double { get set }
    var distBackend: String { get set }
}

extension PretrainConfig: DistRunSettings {}
extension FinetuneConfig: DistRunSettings {}

extension DistRunSettings {
    /// `--heartbeat_timeout` as the process group takes it: nil = `STMAE_HEARTBEAT_TIMEOUT`, else 60 s.
    public var heartbeat: Double? { heartbeatTimeout < 0 ? nil : heartbeatTimeout }
}

extension ConfigFlag where Config: DistRunSettings {
    /// `--dist_timeout`, `--heartbeat_timeout`, `--dist_backend`.
    static func distRun() -> [ConfigFlag] {
        [
            .option(
                "dist_timeout", \.distTimeout, .above(0.0),
                "seconds before a collective or the rendezvous fails (data-parallel runs)"),
            .option(
                "heartbeat_timeout", \.heartbeatTimeout, Valid("-1 or ≥ 0") { $0 == -1 || $0 >= 0 },
                "seconds a rank may make no progress before the job stops naming it (0 = off; "
                    + "-1 = $STMAE_HEARTBEAT_TIMEOUT, else 60)"),
            .option(
                "dist_backend", \.distBackend, .oneOf(["auto", "gloo", "nccl"]),
                "c10d backend of data-parallel runs: auto (NCCL when the device is CUDA, else Gloo), gloo or nccl")
        ]
    }
}
