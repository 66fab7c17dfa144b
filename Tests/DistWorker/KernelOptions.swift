import ArgumentParser
import Torch

/// Parsed and listed by `name` (its `description`).
extension LinearBackend: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// The engine's own kernels as ArgumentParser options, for `dist-worker` alone (a test worker leaving the CLI, branch
/// `support`); the user-facing commands take them from their flag tables (`KernelSettings`, `BenchFlags.swift`).
struct KernelOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Attention in stmae's fused kernels (bf16: head dims 32/64/128 on AVX-512 BF16 CPUs, and 32/64/80/128 "
                + "widened to fp32 on other AVX2/FMA CPUs; fp32: 32/64/80/128 on AVX2/FMA) instead of libtorch's flash "
                + "kernel.")
    )
    var fusedAttention = true
    @Option(
        name: .customLong("fp32-linear"),
        help: ArgumentHelp(
            "GEMM library of fp32 linears: openblas (all three products), onednn (forward and input gradient; weight "
                + "gradient on MKL) or libtorch (MKL). Default: onednn on AVX-512 CPUs, openblas on others.")
    )
    var fp32Linear: LinearBackend?
    @Option(
        name: .customLong("bf16-linear"),
        help: ArgumentHelp(
            "GEMM library of bf16 linears: libtorch (oneDNN's bf16 GEMM) or openblas (fp32 sgemm on the bf16 values "
                + "widened, rounded to bf16). Default: libtorch on CPUs with AVX-512 BF16 or AMX, openblas on others.")
    )
    var bf16Linear: LinearBackend?

    /// Sets the process-wide switches.
    func apply() {
        Runtime.fusedAttention = fusedAttention
        if let fp32Linear { Runtime.fp32Linear = fp32Linear }
        if let bf16Linear { Runtime.bf16Linear = bf16Linear }
    }
    /// Rejects `--bf16-linear onednn` (libtorch's bf16 linear is oneDNN's: name it `libtorch`).
    func validate() throws {
        if bf16Linear == .oneDNN { throw ValidationError("--bf16-linear: expected libtorch or openblas, got onednn") }
    }
}
