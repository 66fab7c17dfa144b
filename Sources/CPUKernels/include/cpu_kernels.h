// stmae's CPU kernels: fused attention (AVX2/FMA fp32, AVX-512 BF16), fp32 and bf16 linears on OpenBLAS and oneDNN,
// bf16 ⇄ fp32 conversions (AVX2). The C ABI shim (CTorch) routes CPU tensors here; this C++ interface over ATen
// tensors is not part of the C ABI, and everything CPU-specific (intrinsics, CPU feature checks, OpenBLAS) stays
// behind it.
#pragma once
#include <ATen/ATen.h>
#include <optional>

namespace stmae::cpu {
// ---- attention (attention.cpp: bf16 forward; attention_backward.cpp; attention_fp32.cpp) ------------------------

/// Whether this CPU runs the fused kernel of `dtype`: fp32 on AVX2/FMA, bf16 on AVX-512 BF16.
bool attention_available(at::ScalarType dtype);
/// Whether the fused kernel of `dtype` is the faster choice on this CPU's class (measured, docs/performance.md): not
/// fp32 where AMX-BF16 is present (libtorch's AVX-512 flash kernel beats the AVX2 one there); bf16 everywhere.
bool attention_preferred(at::ScalarType dtype);
/// Whether `attention` takes q, k, v: [B, H, L, D] CPU tensors of one dtype with rows of D contiguous, equal batch
/// and heads, fp32 with D ∈ {32, 64, 80, 128} on AVX2/FMA, bf16 with D ∈ {32, 64, 128} (even strides) on AVX-512 BF16,
/// or bf16 as the fp32 ones on AVX2/FMA CPUs without it (widened copies, output rounded to bf16).
bool attention_takes(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v);
/// softmax(q kᵀ · scale) v of inputs that `attention_takes`, without mask or dropout: [B, H, Lq, D] in q's dtype.
/// Differentiable (the fused backward) when grad mode is on and an input requires grad; recorded in traces as
/// `stmae::fused_attention`.
at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale);

// ---- linears (linear.cpp) -------------------------------------------------------------------------------------

/// GEMM libraries of the linears, numbered as ct_set_fp32_linear's codes.
enum Gemm : int { kLibtorch = 0, kOneDNN = 1, kOpenBLAS = 2 };
/// The fastest fp32 library measured on this CPU's class: oneDNN on AVX-512, else OpenBLAS.
Gemm default_fp32_gemm();
/// The bf16 one: libtorch (oneDNN's bf16 GEMM) with AVX-512 BF16 or AMX, else OpenBLAS on widened values.
Gemm default_bf16_gemm();
/// y = x wᵀ + b in fp32 on `gemm` (kOneDNN or kOpenBLAS): x [..., K], w [N, K], b [N] dense CPU fp32 → [..., N].
/// Differentiable when grad mode is on and an input requires grad.
at::Tensor linear_fp32(Gemm gemm, const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b);
/// A bf16 linear (bf16 inputs, or fp32 ones under bf16 autocast) as OpenBLAS's sgemm on the values widened to fp32,
/// output rounded to bf16: x is cast to bf16 (differentiably, as autocast does), fp32 weights and biases are rounded
/// at use. Differentiable; gradients come back in each input's dtype.
at::Tensor linear_bf16(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b);

// ---- bf16 on CPUs without bf16 dot products (bf16_convert.cpp) -------------------------------------------------

/// Turns the AVX2 code of the bf16 ⇄ fp32 conversions on or off (off: the scalar code, same results); returns the
/// previous setting.
bool set_convert_simd(bool on);
/// Whether the conversions run AVX2 code: the CPU has AVX2 and it is on.
bool convert_simd();
/// Whether libtorch's bf16 convolution reaches oneDNN on this CPU (AVX-512 BW, VL, DQ); otherwise it takes
/// `slow_conv3d`.
bool native_bf16_conv();
}  // namespace stmae::cpu
