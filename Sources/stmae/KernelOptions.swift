import ArgumentParser
import Torch

/// Parsed and listed by `name` (its `description`).
extension LinearBackend: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// The engine's own kernels, switchable for A/B runs of `bench pretrain` and `bench infer`.
struct KernelOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Attention in stmae's fused kernels (bf16: head dims 32/64/128 on AVX-512 BF16 CPUs; fp32: 32/64/80/128 on AVX2/FMA) instead of libtorch's flash kernel.")
    var fusedAttention = true
    @Option(name: .customLong("fp32-linear"), help: "GEMM library of fp32 linears: openblas (all three products), onednn (forward and input gradient; weight gradient on MKL) or libtorch (MKL). Default: onednn on AVX-512 CPUs, openblas on others.")
    var fp32Linear: LinearBackend?

    /// Sets the process-wide switches.
    func apply() {
        Runtime.fusedAttention = fusedAttention
        if let fp32Linear { Runtime.fp32Linear = fp32Linear }
    }
    /// The flags that pass these settings on to a child `--single` run.
    var childArgs: [String] { (fusedAttention ? [] : ["--no-fused-attention"]) + (fp32Linear.map { ["--fp32-linear", $0.name] } ?? []) }
    /// JSON fields: which kernels a run in `bf16` (or fp32) took.
    func json(bf16: Bool) -> [String: Any] {
        ["fused_attention": fusedAttention && Runtime.fusedAttentionAvailable(bf16 ? .bfloat16 : .float32),
         "linear": bf16 ? LinearBackend.libtorch.name : (fp32Linear ?? Runtime.fp32Linear).name]
    }
}
