// ct_sdpa: scaled dot-product attention on libtorch's SDPA, or on stmae's fused CPU kernels (CPUKernels:
// attention*.cpp) for the inputs they take without mask, dropout or causal masking, unless turned off.
#include "cpu_kernels.h"
#include "internal.h"
#include <cmath>

using ct::T;

namespace {
/// ct_set_fused_attention's mode: 1 on, 0 off, -1 auto (where `stmae::cpu::attention_preferred`).
std::atomic<int> g_fused{-1};

/// Whether ct_sdpa runs a fused kernel: `plain` (no mask, dropout or causal masking), the mode (on, or auto and the
/// kernel preferred on this CPU), and the inputs taken by the kernels (`stmae::cpu::attention_takes`).
bool takes_fused(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool plain) {
  const int mode = g_fused.load(std::memory_order_relaxed);
  return plain && mode != 0 && (mode > 0 || stmae::cpu::attention_preferred(q.scalar_type())) &&
         stmae::cpu::attention_takes(q, k, v);
}
}  // namespace

extern "C" {
int ct_sdpa(ct_tensor q, ct_tensor k, ct_tensor v, ct_tensor mask, double p, int causal, double scale, int has_scale,
            ct_tensor *out) {
  CT_TRY(
      const auto &Q = T(q); const auto &K = T(k); const auto &V = T(v);
      if (Q.is_meta()) {  // libtorch has no meta kernel of SDPA's backend choice: the math form, for shapes
        const double s = has_scale ? scale : 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
        auto a = at::matmul(Q, K.transpose(-2, -1)) * s;
        if (mask) a = T(mask).dtype() == at::kBool ? a.masked_fill(T(mask).logical_not(), -INFINITY) : a + T(mask);
        *out = ct::wrap(at::matmul(at::dropout(at::softmax(a, -1), p, p > 0), V));
      } else if (!takes_fused(Q, K, V, !mask && p <= 0 && !causal)) {
        *out = ct::wrap(at::scaled_dot_product_attention(Q, K, V, ct::opt(mask), p, causal != 0,
                                                         has_scale ? std::optional<double>(scale) : std::nullopt));
      } else {
        const double s = has_scale ? scale : 1.0 / std::sqrt(static_cast<double>(Q.size(-1)));
        *out = ct::wrap(stmae::cpu::attention(Q, K, V, s));
      })
}
int ct_set_fused_attention(int mode) { return g_fused.exchange(mode > 0 ? 1 : mode == 0 ? 0 : -1); }
int ct_fused_attention_mode(void) { return g_fused.load(); }
int ct_fused_attention_preferred(int dtype) {
  return ct_fused_attention_available(dtype) && stmae::cpu::attention_preferred(static_cast<at::ScalarType>(dtype));
}
int ct_fused_attention_available(int dtype) {
  return (dtype == static_cast<int>(at::kFloat) || dtype == static_cast<int>(at::kBFloat16)) &&
         stmae::cpu::attention_available(static_cast<at::ScalarType>(dtype));
}
int ct_fused_attention_takes(ct_tensor q, ct_tensor k, ct_tensor v) {
  return q && k && v && takes_fused(q->t, k->t, v->t, true) ? 1 : 0;
}
}
