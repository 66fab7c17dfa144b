import CTorch

/// An error raised by libtorch (its message, without the C++ backtrace) or by argument checks in this layer.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Throws the thread's last engine error when a shim call returned non-zero.
@inline(__always)
func check(_ rc: Int32, _ context: @autoclosure () -> String = "") throws {
    if rc != 0 {
        let msg = String(cString: ct_last_error())
        let ctx = context()
        throw TorchError(ctx.isEmpty ? msg : "\(ctx): \(msg)")
    }
}

/// Calls a shim function that produces one tensor.
@inline(__always)
func make(_ context: @autoclosure () -> String = "", _ body: (UnsafeMutablePointer<ct_tensor?>) -> Int32) throws
    -> Tensor
{
    var out: ct_tensor?
    try check(body(&out), context())
    guard let out else { throw TorchError("\(context()): engine returned no tensor") }
    return Tensor(owning: out)
}

/// A GEMM library for fp32 `linear` (see `Runtime.fp32Linear`).
public enum LinearBackend: CaseIterable, Sendable, CustomStringConvertible {
    /// `at::linear`: MKL's sgemm.
    case libtorch
    /// oneDNN's matmul for the forward and the input gradient, `mm` for the weight gradient.
    case oneDNN
    /// OpenBLAS's sgemm, single-threaded on each engine thread's block of the output, for all three.
    case openBLAS

    /// The shim's code (`ct_set_fp32_linear`).
    var code: Int32 { Int32(Self.allCases.firstIndex(of: self)!) }
    init?(code: Int32) {
        guard code >= 0 && Int(code) < Self.allCases.count else { return nil }
        self = Self.allCases[Int(code)]
    }
    /// The name on the command line and in benchmark JSON.
    public var name: String { ["libtorch", "onednn", "openblas"][Int(code)] }
    public var description: String { name }
    /// The backend called `name` ("libtorch", "onednn", "openblas").
    public init?(name: String) {
        guard let b = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = b
    }
}

/// `Runtime.fusedAttention`'s modes (values as ct_set_fused_attention's).
public enum FusedAttention: Int32, Sendable {
    case off = 0, on = 1, auto = -1
}

/// Process-wide engine settings.
public enum Runtime {
    /// libtorch's version string, e.g. "2.13.0".
    public static var version: String { String(cString: ct_version()) }
    public static var numThreads: Int { Int(ct_get_num_threads()) }
    public static func setNumThreads(_ n: Int) throws { try check(ct_set_num_threads(Int32(n)), "set_num_threads") }
    public static var cudaAvailable: Bool { ct_cuda_is_available() != 0 }
    /// glibc malloc for a loop that frees and re-allocates the same large tensors every step: blocks up to 32 MB come
    /// from the heap (not fresh mmaps the kernel zeroes on first touch) and freed memory stays mapped. Call once at
    /// start-up; false if glibc refused a setting.
    @discardableResult
    public static func keepFreedMemoryMapped() -> Bool { ct_keep_freed_memory() == 0 }
    /// When `scaledDotProductAttention` uses stmae's fused kernels (no mask/dropout/causal; bf16 with head dim
    /// 32/64/128 on AVX-512 BF16 CPUs, fp32 with head dim 32/64/80/128 on AVX2/FMA CPUs) instead of libtorch's:
    /// `.auto` (the default) where they are the faster choice on this CPU (`fusedAttentionPreferred`), `.on`
    /// wherever they take the inputs, `.off` never.
    public static var fusedAttention: FusedAttention {
        get { FusedAttention(rawValue: ct_fused_attention_mode()) ?? .auto }
        set { _ = ct_set_fused_attention(newValue.rawValue) }
    }
    /// Whether this CPU runs the fused attention kernel of `dtype` (bf16: AVX-512 BF16; fp32: AVX2 and FMA).
    public static func fusedAttentionAvailable(_ dtype: DType) -> Bool {
        ct_fused_attention_available(dtype.rawValue) != 0
    }
    /// Whether `.auto` uses the fused kernel of `dtype` here: available and measured faster than libtorch's flash
    /// attention on this CPU's class (all but fp32 where AMX-BF16 is present: docs/performance.md).
    public static func fusedAttentionPreferred(_ dtype: DType) -> Bool {
        ct_fused_attention_preferred(dtype.rawValue) != 0
    }
    /// Whether `scaledDotProductAttention(q, k, v)` (no mask, dropout or causal masking) runs a fused kernel: bf16 on
    /// AVX2/FMA CPUs without AVX-512 BF16 runs the fp32 one on widened copies (head dims 32/64/80/128), output in bf16.
    public static func fusedAttentionTakes(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Bool {
        ct_fused_attention_takes(q.raw, k.raw, v.raw) != 0
    }
    /// The GEMM library of fp32 `linear` outside autocast (Sources/CTorch/linear.cpp). By default the one measured
    /// fastest on the CPU's class: oneDNN with AVX-512, OpenBLAS without.
    public static var fp32Linear: LinearBackend {
        get { LinearBackend(code: ct_fp32_linear()) ?? .libtorch }
        set { _ = ct_set_fp32_linear(newValue.code) }
    }
    /// The GEMM library of bf16 `linear` (bf16 inputs, or autocast to bf16): `.libtorch` (oneDNN's bf16 GEMM) or
    /// `.openBLAS` (fp32 sgemm on the bf16 values widened, rounded to bf16; `.oneDNN` is taken as `.libtorch`). By
    /// default `.libtorch` on CPUs with AVX-512 BF16 or AMX, `.openBLAS` on others (where libtorch's bf16 GEMM is
    /// emulated, several times slower than fp32: docs/performance.md).
    public static var bf16Linear: LinearBackend {
        get { LinearBackend(code: ct_bf16_linear()) ?? .libtorch }
        set {
            _ = ct_set_bf16_linear(newValue == .openBLAS ? LinearBackend.openBLAS.code : LinearBackend.libtorch.code)
        }
    }
    /// Whether the bf16 ⇄ fp32 conversions of `.openBLAS` bf16 linears run AVX2 code (true where the CPU has it);
    /// false runs the scalar code of CPUs without AVX2, which gives the same results.
    public static var vectorizedBf16Conversions: Bool {
        get { ct_bf16_convert_simd() != 0 }
        set { _ = ct_set_bf16_convert_simd(newValue ? 1 : 0) }
    }
    /// The library `linear(x, weight:, bias:)` runs on: `fp32Linear` for dense fp32 outside autocast, `bf16Linear`
    /// for bf16 ones, else libtorch.
    public static func linearBackend(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> LinearBackend {
        LinearBackend(code: ct_linear_backend(x.raw, weight.raw, bias?.raw)) ?? .libtorch
    }
    /// Tensor handles alive in this process (created and not yet released).
    public static var liveTensors: Int { Int(ct_live_tensors()) }
    /// Records every op until `stopTrace()`, which writes a Chrome trace (JSON, chrome://tracing) to `path`.
    public static func startTrace(_ path: String) throws { try check(ct_trace_start(path), "trace \(path)") }
    public static func stopTrace() throws { try check(ct_trace_stop(), "trace") }
    /// Seeds libtorch's default generator (`torch.manual_seed`).
    public static func manualSeed(_ seed: UInt64) throws { try check(ct_manual_seed(seed), "manual_seed") }
}
