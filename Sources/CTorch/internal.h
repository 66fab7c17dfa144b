// Shared helpers of the ctorch implementation files (not part of the C ABI).
#pragma once
#include "ctorch.h"
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <atomic>
#include <optional>
#include <string>
#include <vector>

namespace ct { inline std::atomic<int64_t> live_tensors{0}; }
/// A tensor handle; counts itself so leaks of handles are testable (`ct_live_tensors`).
struct ct_tensor_s {
  at::Tensor t;
  explicit ct_tensor_s(at::Tensor t) : t(std::move(t)) { ct::live_tensors.fetch_add(1, std::memory_order_relaxed); }
  ~ct_tensor_s() { ct::live_tensors.fetch_sub(1, std::memory_order_relaxed); }
  ct_tensor_s(const ct_tensor_s &) = delete;
  ct_tensor_s &operator=(const ct_tensor_s &) = delete;
};
struct ct_generator_s { at::Generator g; };

namespace ct {
void set_error(const char *msg);
inline ct_tensor wrap(at::Tensor t) { return new ct_tensor_s(std::move(t)); }
inline at::IntArrayRef ints(const int64_t *p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }
inline const at::Tensor &T(ct_tensor t) {
  TORCH_CHECK(t != nullptr, "null tensor handle");
  return t->t;
}
inline std::optional<at::Tensor> opt(ct_tensor t) { return t ? std::optional<at::Tensor>(t->t) : std::nullopt; }
inline std::optional<at::Generator> gen(ct_generator g) {
  return g ? std::optional<at::Generator>(g->g) : std::nullopt;
}
inline std::vector<at::Tensor> list(const ct_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(T(ts[i]));
  return v;
}
/// Device codes of the C ABI: 0 CPU, 1 CUDA (index), 2 meta (shapes without data: tests of the device paths).
inline at::Device device(int type, int index) {
  TORCH_CHECK(type >= 0 && type <= 2, "unknown device type ", type, " (0 cpu, 1 cuda, 2 meta)");
  if (type == 1) return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  return at::Device(type == 0 ? at::kCPU : at::kMeta);
}
inline at::ScalarType dtype(int code) {
  TORCH_CHECK(code >= 0 && code < static_cast<int>(at::ScalarType::NumOptions), "unknown dtype code ", code);
  return static_cast<at::ScalarType>(code);
}
inline at::TensorOptions options(int dt, int dev_type, int dev_index) {
  return at::TensorOptions().dtype(dtype(dt)).device(device(dev_type, dev_index));
}
/// Whether an op over (x, w, b) computes in bf16: all bf16, or autocast to bf16 with fp32/bf16 inputs (linear.cpp).
bool computes_in_bf16(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b);
}  // namespace ct

/// Runs the body; converts any C++ exception into a non-zero return code and the thread's last error.
#define CT_TRY(...)                                                        \
  try {                                                                    \
    __VA_ARGS__;                                                           \
    return 0;                                                              \
  } catch (const c10::Error &e) {                                          \
    ct::set_error(e.what_without_backtrace());                             \
    return 1;                                                              \
  } catch (const std::exception &e) {                                      \
    ct::set_error(e.what());                                               \
    return 1;                                                              \
  } catch (...) {                                                          \
    ct::set_error("unknown C++ exception");                                \
    return 1;                                                              \
  }

/// `*out = wrap(expr)` inside CT_TRY.
#define CT_OUT(expr) CT_TRY(*out = ct::wrap(expr))
