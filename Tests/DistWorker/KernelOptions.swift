import ArgumentParser
import Torch
import Training

/// Parsed and listed by `name` (its `description`).
extension LinearBackend: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// The engine's own kernels as ArgumentParser options, for `dist-worker` alone (a test worker leaving the CLI, branch
/// `support`); the user-facing commands take them from their flag tables (`KernelSettings`, `BenchFlags.swift`).
struct KernelOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: kernelHelp("fused_attention")) var fusedAttention = true
    @Option(name: .customLong("fp32-linear"), help: kernelHelp("fp32_linear")) var fp32Linear: LinearBackend?
    @Option(name: .customLong("bf16-linear"), help: kernelHelp("bf16_linear")) var bf16Linear: LinearBackend?

    /// Sets the process-wide switches.
    func apply() {
        Runtime.fusedAttention = fusedAttention ? .auto : .off
        if let fp32Linear { Runtime.fp32Linear = fp32Linear }
        if let bf16Linear { Runtime.bf16Linear = bf16Linear }
    }
    /// Rejects `--bf16-linear onednn` (libtorch's bf16 linear is oneDNN's: name it `libtorch`).
    func validate() throws {
        if bf16Linear == .oneDNN { throw ValidationError("--bf16-linear: expected libtorch or openblas, got onednn") }
    }
}

/// The help of the user-facing kernel flag `name` (the `bench pretrain` flag table's).
private func kernelHelp(_ name: String) -> ArgumentHelp {
    ArgumentHelp(BenchPretrainSettings.flags.fields.first { $0.name == name }?.help ?? "")
}
