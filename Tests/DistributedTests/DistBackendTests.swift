import Distributed
import Foundation
import Testing
import TestSupport
import Torch

/// The folder of the libstmae_ctorch.so this process loaded (its CMake build folder), read from /proc/self/maps.
func loadedLibraryPath(_ name: String) throws -> String? {
    // /proc files report size 0: read to EOF rather than by the file's size.
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps"))
    defer { try? handle.close() }
    let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    return maps.split(separator: "\n").compactMap { line -> String? in
        guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last, path.hasSuffix("/" + name)
        else { return nil }
        return String(path)
    }.first
}

/// `--dist_backend` resolution and the rank → GPU mapping (issue 25 item 4).
struct DistBackendTests {
    @Test func autoPicksNCCLOnCUDAAndGlooOnCPU() throws {
        #expect(try DistBackend.resolve(requested: "auto", deviceIsCUDA: false, ncclBuilt: true) == .gloo)
        #expect(try DistBackend.resolve(requested: "auto", deviceIsCUDA: false, ncclBuilt: false) == .gloo)
        #expect(try DistBackend.resolve(requested: "auto", deviceIsCUDA: true, ncclBuilt: true) == .nccl)
        #expect(try DistBackend.resolve(requested: "nccl", deviceIsCUDA: true, ncclBuilt: true) == .nccl)
        #expect(try DistBackend.resolve(requested: "gloo", deviceIsCUDA: false, ncclBuilt: true) == .gloo)
    }

    @Test func impossibleChoicesNameTheFlag() {
        func message(_ requested: String, cuda: Bool, built: Bool) -> String {
            do {
                let b = try DistBackend.resolve(requested: requested, deviceIsCUDA: cuda, ncclBuilt: built)
                return "resolved to \(b)"
            } catch { return "\(error)" }
        }
        // NCCL on the CPU, NCCL in a build without it (also what auto reaches on CUDA), Gloo with CUDA tensors.
        #expect(message("nccl", cuda: false, built: true).contains("--dist_backend nccl needs a CUDA device"))
        #expect(message("nccl", cuda: true, built: false).contains("built without NCCL"))
        #expect(message("auto", cuda: true, built: false).contains("built without NCCL"))
        #expect(message("gloo", cuda: true, built: true).contains("--dist_backend gloo carries CPU tensors only"))
        #expect(message("mpi", cuda: false, built: true) == "--dist_backend must be auto, gloo or nccl, got mpi")
    }

    /// torchrun's LOCAL_RANK and Slurm's SLURM_LOCALID pick the rank's GPU; one process uses cuda:0.
    @Test func localRankPicksTheGPU() throws {
        let torchrun = try DistEnvironment.detect([
            "RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "4", "MASTER_ADDR": "10.0.0.1"
        ])
        #expect(torchrun.cudaDeviceIndex == 1)
        #expect(DistBackend.nccl.device(torchrun) == .cuda(1))
        #expect(DistBackend.gloo.device(torchrun) == .cpu)
        let slurm = try DistEnvironment.detect([
            "SLURM_PROCID": "7", "SLURM_NTASKS": "8", "SLURM_LOCALID": "3", "SLURM_NTASKS_PER_NODE": "4",
            "MASTER_ADDR": "10.0.0.2"
        ])
        #expect(slurm.cudaDeviceIndex == 3 && DistBackend.nccl.device(slurm) == .cuda(3))
        #expect(try DistEnvironment.detect([:]).cudaDeviceIndex == 0)
    }

    /// The shim reports the backends its CMake configuration compiled (stmae-config.txt beside the library).
    @Test func shimReportsItsBuiltBackends() throws {
        let lib = try #require(try loadedLibraryPath("libstmae_ctorch.so"), "libstmae_ctorch.so not loaded")
        let config = try String(
            contentsOfFile: URL(fileURLWithPath: lib).deletingLastPathComponent().path + "/stmae-config.txt",
            encoding: .utf8)
        #expect(config.contains("nccl=\(DistBackend.ncclBuilt ? "ON" : "OFF")"), "\(config)")
        #expect(config.contains("gloo=\(DistBackend.glooBuilt ? "ON" : "OFF")"), "\(config)")
    }

    /// An NCCL group where it cannot exist fails with the reason: no NCCL in this build, or no GPU on this machine.
    /// Where both exist (a GPU machine), a one-rank NCCL group all-reduces a CUDA tensor.
    @Test func ncclGroupFailsClearlyWithoutNCCLOrGPU() throws {
        let env = DistEnvironment(masterAddr: "127.0.0.1", masterPort: freePort())
        if DistBackend.ncclBuilt && Runtime.cudaAvailable {
            let pg = try ProcessGroup(env, timeout: 60, heartbeat: 0, backend: .nccl)
            #expect(pg.device == .cuda(0))
            #expect(try pg.allReduceSum([1.5, 2]) == [1.5, 2])
            return
        }
        var message = ""
        do { _ = try ProcessGroup(env, timeout: 10, heartbeat: 0, backend: .nccl) } catch { message = "\(error)" }
        let expected = DistBackend.ncclBuilt ? "NCCL needs a CUDA GPU" : "built without NCCL"
        #expect(message.contains(expected) && message.contains("init_process_group(nccl"), "\(message)")
    }
}
