// Builds without stmae's CPU kernels (CMake STMAE_CPU_KERNELS=OFF: CUDA or non-x86 libtorch builds): the interface
// of Sources/CPUKernels/include/cpu_kernels.h on libtorch's own ops, so that the shim's files compile unchanged.
// This folder is on the include path only then (CMakeLists.txt); nothing here is reached on a kernels build.
#pragma once
#if STMAE_CPU_KERNELS
#error "fallback/cpu_kernels.h included in a build with STMAE_CPU_KERNELS"
#endif
#include <ATen/ATen.h>
#include <optional>

namespace stmae::cpu {
/// No fused kernels: ct_sdpa always takes libtorch's SDPA.
inline bool attention_available(at::ScalarType) { return false; }
inline bool attention_preferred(at::ScalarType) { return false; }
inline bool attention_takes(const at::Tensor &, const at::Tensor &, const at::Tensor &) { return false; }
inline at::Tensor attention(const at::Tensor &, const at::Tensor &, const at::Tensor &, double) {
  TORCH_CHECK(false, "stmae was built without its CPU kernels (STMAE_CPU_KERNELS=OFF): no fused attention");
}

enum Gemm : int { kLibtorch = 0, kOneDNN = 1, kOpenBLAS = 2 };
inline Gemm default_fp32_gemm() { return kLibtorch; }
inline Gemm default_bf16_gemm() { return kLibtorch; }
/// Every library code runs libtorch's `at::linear` (ct_set_fp32_linear still records the choice).
inline at::Tensor linear_fp32(Gemm, const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  return at::linear(x, w, b);
}
/// bf16 linear as autocast computes it: operands cast to bf16, libtorch's GEMM.
inline at::Tensor linear_bf16(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  const auto bf = [](const at::Tensor &t) { return t.to(at::kBFloat16); };
  return at::linear(bf(x), bf(w), b ? std::optional<at::Tensor>(bf(*b)) : std::nullopt);
}

inline bool set_convert_simd(bool) { return false; }
inline bool convert_simd() { return false; }
/// libtorch's own bf16 convolution everywhere (no widened fp32 path).
inline bool native_bf16_conv() { return true; }
}  // namespace stmae::cpu
