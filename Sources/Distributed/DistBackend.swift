import CTorch
import Torch

/// The c10d backend of a data-parallel job (`--dist_backend gloo|nccl|auto`): Gloo for CPU tensors, NCCL for CUDA
/// tensors (one process per GPU), as `torch.distributed.init_process_group(backend)`.
public enum DistBackend: String, Sendable, CaseIterable {
    case gloo, nccl

    /// The values `--dist_backend` takes.
    public static let flagValues = ["auto", "gloo", "nccl"]

    /// Whether this build's shim has c10d's NCCL backend (compiled against a CUDA libtorch, CMake STMAE_NCCL).
    public static var ncclBuilt: Bool { ctd_nccl_available() != 0 }
    /// Whether it has Gloo (built with Gloo's headers, CMake STMAE_GLOO).
    public static var glooBuilt: Bool { ctd_gloo_available() != 0 }

    /// The backend for `requested` (`--dist_backend`): auto → NCCL when the run's device is CUDA, Gloo on the CPU.
    /// Errors name the flag: NCCL asked for on a CPU device or in a build without NCCL, Gloo asked for with CUDA
    /// tensors (stmae's Gloo groups carry CPU tensors only), or an unknown name.
    public static func resolve(requested: String, deviceIsCUDA: Bool, ncclBuilt: Bool) throws -> DistBackend {
        switch requested {
        case "auto":
            return deviceIsCUDA ? try resolve(requested: "nccl", deviceIsCUDA: true, ncclBuilt: ncclBuilt) : .gloo
        case "nccl":
            guard deviceIsCUDA else {
                throw DistError(
                    "--dist_backend nccl needs a CUDA device (NCCL all-reduces GPU tensors); this run computes on "
                        + "the CPU: use --dist_backend gloo or auto")
            }
            guard ncclBuilt else {
                throw DistError(
                    "--dist_backend nccl: this stmae's libstmae_ctorch was built without NCCL (it needs a CUDA "
                        + "libtorch: rebuild with TORCH_DIR=<CUDA torch> scripts/build_ctorch.sh, see README \"GPU\")")
            }
            return .nccl
        case "gloo":
            guard !deviceIsCUDA else {
                throw DistError(
                    "--dist_backend gloo carries CPU tensors only and this run computes on CUDA: use --dist_backend "
                        + "nccl or auto")
            }
            return .gloo
        default:
            throw DistError("--dist_backend must be auto, gloo or nccl, got \(requested)")
        }
    }

    /// The device the group's collectives run on: the CPU for Gloo, the rank's GPU (`env.cudaDeviceIndex`) for NCCL.
    public func device(_ env: DistEnvironment) -> Device {
        self == .nccl ? .cuda(env.cudaDeviceIndex) : .cpu
    }

    var code: Int32 { self == .nccl ? 1 : 0 }
}

extension DistEnvironment {
    /// The GPU of this rank on its node, as torchrun scripts pick it: `LOCAL_RANK` (Slurm: `SLURM_LOCALID`) →
    /// `cuda:LOCAL_RANK`; 0 in a single process.
    public var cudaDeviceIndex: Int { localRank }
}
