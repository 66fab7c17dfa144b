import ArgumentParser
import Torch

/// The engine's own kernels, switchable for A/B runs of `bench pretrain` and `bench infer`.
struct KernelOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Attention in stmae's fused kernels (bf16: head dims 32/64/128 on AVX-512 BF16 CPUs; fp32: 32/64/80/128 on AVX2/FMA) instead of libtorch's flash kernel.")
    var fusedAttention = true
    @Flag(inversion: .prefixedNo, help: "fp32 linears on oneDNN's matmul instead of MKL's sgemm (forward and input gradient).")
    var onednnLinear = true

    /// Sets the process-wide switches.
    func apply() {
        Runtime.fusedAttention = fusedAttention
        Runtime.oneDNNLinear = onednnLinear
    }
    /// The flags that pass these settings on to a child `--single` run.
    var childArgs: [String] { (fusedAttention ? [] : ["--no-fused-attention"]) + (onednnLinear ? [] : ["--no-onednn-linear"]) }
    /// JSON fields: which kernels a run in `bf16` (or fp32) took.
    func json(bf16: Bool) -> [String: Any] {
        ["fused_attention": fusedAttention && Runtime.fusedAttentionAvailable(bf16 ? .bfloat16 : .float32), "onednn_linear": !bf16 && onednnLinear]
    }
}
