// ct_linear: where each linear runs. fp32 `linear` outside autocast runs on one of three GEMM libraries
// (`ct_set_fp32_linear`): libtorch's `at::linear` (MKL's sgemm), or oneDNN or OpenBLAS (CPUKernels: linear.cpp); the
// default is the one measured fastest on the CPU's class (docs/performance.md, `stmae bench linear`). bf16 linears
// (bf16 inputs, or autocast to bf16) run on `ct_set_bf16_linear`'s library: `at::linear` (oneDNN), or OpenBLAS's
// sgemm on the bf16 values widened to fp32, output rounded to bf16 (the default on CPUs without bf16 dot products).
#include "cpu_kernels.h"
#include "internal.h"
#include <ATen/autocast_mode.h>
#include <atomic>

using ct::T;
using stmae::cpu::kLibtorch;
using stmae::cpu::kOpenBLAS;

bool ct::computes_in_bf16(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  const bool autocast = at::autocast::is_autocast_enabled(at::kCPU);
  if (autocast && at::autocast::get_autocast_dtype(at::kCPU) != at::kBFloat16) return false;
  const auto ok = [autocast](const at::Tensor &t) {
    return t.scalar_type() == at::kBFloat16 || (autocast && t.scalar_type() == at::kFloat);
  };
  return ok(x) && ok(w) && (!b || ok(*b));
}

namespace {
std::atomic<int> g_backend{stmae::cpu::default_fp32_gemm()};
std::atomic<int> g_bf16{stmae::cpu::default_bf16_gemm()};

/// Where ct_linear_on(backend, x, w, b) runs a linear: for dense fp32 outside autocast on `backend` (the process-wide
/// fp32 one if < 0); for bf16 linears (`ct::computes_in_bf16`, then `bf16` is set) on OpenBLAS if `backend` is, or if
/// < 0 and ct_set_bf16_linear's is; else on libtorch.
struct Route {
  int backend;
  bool bf16;
};
Route route_for(int backend, const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  const auto strided = [](const at::Tensor &t) { return t.device().is_cpu() && t.layout() == at::kStrided; };
  const bool shaped = strided(x) && strided(w) && (!b || (strided(*b) && b->dim() == 1)) && x.dim() >= 1 &&
                      w.dim() == 2 && x.numel() > 0 && x.size(-1) == w.size(1) && w.size(0) > 0 &&
                      (!b || b->size(0) == w.size(0));
  if (!shaped) return {kLibtorch, false};
  if (ct::computes_in_bf16(x, w, b)) {
    const int chosen = backend < 0 ? g_bf16.load(std::memory_order_relaxed) : backend;
    return {chosen == kOpenBLAS ? kOpenBLAS : kLibtorch, true};
  }
  const auto fp32 = [](const at::Tensor &t) { return t.scalar_type() == at::kFloat; };
  const bool eligible = !at::autocast::is_autocast_enabled(at::kCPU) && fp32(x) && fp32(w) && (!b || fp32(*b));
  return {!eligible ? kLibtorch : backend < 0 ? g_backend.load(std::memory_order_relaxed) : backend, false};
}
}  // namespace

extern "C" {
int ct_linear(ct_tensor x, ct_tensor w, ct_tensor b, ct_tensor *out) { return ct_linear_on(-1, x, w, b, out); }
int ct_linear_on(int backend_code, ct_tensor x, ct_tensor w, ct_tensor b, ct_tensor *out) {
  CT_TRY(
      TORCH_CHECK(backend_code >= -1 && backend_code <= kOpenBLAS, "unknown fp32 linear backend ", backend_code);
      const auto &X = T(x); const auto &W = T(w); const auto B = ct::opt(b);
      const auto [backend, bf16] = route_for(backend_code, X, W, B);
      if (backend == kLibtorch) {
        *out = ct::wrap(at::linear(X, W, B));
      } else if (bf16) {
        *out = ct::wrap(stmae::cpu::linear_bf16(X, W, B));
      } else {
        *out = ct::wrap(stmae::cpu::linear_fp32(static_cast<stmae::cpu::Gemm>(backend), X, W, B));
      })
}
int ct_set_fp32_linear(int backend) {
  if (backend < kLibtorch || backend > kOpenBLAS) {
    ct::set_error(
        ("unknown fp32 linear backend " + std::to_string(backend) + " (0 libtorch, 1 oneDNN, 2 OpenBLAS)").c_str());
    return -1;
  }
  return g_backend.exchange(backend);
}
int ct_fp32_linear(void) { return g_backend.load(); }
int ct_set_bf16_linear(int backend) {
  if (backend != kLibtorch && backend != kOpenBLAS) {
    ct::set_error(("unknown bf16 linear backend " + std::to_string(backend) + " (0 libtorch, 2 OpenBLAS)").c_str());
    return -1;
  }
  return g_bf16.exchange(backend);
}
int ct_bf16_linear(void) { return g_bf16.load(); }
int ct_linear_backend(ct_tensor x, ct_tensor w, ct_tensor b) {
  return x && w ? route_for(-1, x->t, w->t, ct::opt(b)).backend : kLibtorch;
}
int ct_set_bf16_convert_simd(int on) { return stmae::cpu::set_convert_simd(on != 0) ? 1 : 0; }
int ct_bf16_convert_simd(void) { return stmae::cpu::convert_simd() ? 1 : 0; }
}
