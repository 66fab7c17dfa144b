// Linear layers. fp32 `at::linear` runs MKL's sgemm, which on this project's AMD EPYC (AVX-512) reaches 100–170
// GFLOP/s on ViT shapes, while oneDNN's fp32 matmul (inside libtorch, reached through the `mkldnn::_linear_pointwise`
// op on dense tensors) reaches 170–190. So fp32 linears outside autocast run the forward and the input gradient
// through oneDNN; the weight gradient stays `mm` (MKL and oneDNN are level there: dY is read transposed).
// bf16 (and autocast) keeps `at::linear`, which libtorch already sends to oneDNN.
#include "internal.h"
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <atomic>
#include <torch/csrc/autograd/custom_function.h>

using ct::T;

namespace {
/// y = x wᵀ + b through oneDNN. x: [M, K] fp32, w: [N, K] (any strides), b: [N] or undefined → [M, N].
at::Tensor onednn_linear(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  std::vector<c10::IValue> stack{x, w, b, c10::IValue(std::string("none")),
                                 c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()};
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}

/// [..., K] → contiguous [M, K].
at::Tensor rows(const at::Tensor &t) { return t.reshape({-1, t.size(-1)}).contiguous(); }

/// t's shape with the last size replaced by n.
std::vector<int64_t> last_dim(const at::Tensor &t, int64_t n) {
  auto shape = t.sizes().vec();
  shape.back() = n;
  return shape;
}

/// x: [..., K], w: [N, K], b: [N] or [0] (no bias: autograd inputs must be defined) → [..., N]; the backward's dX
/// also runs through oneDNN.
struct OneDNNLinear : torch::autograd::Function<OneDNNLinear> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                            const at::Tensor &b) {
    const auto x2 = rows(x);
    ctx->save_for_backward({x2, w});
    ctx->saved_data["bias"] = b.numel() > 0;
    return onednn_linear(x2, w, b.numel() > 0 ? std::optional<at::Tensor>(b) : std::nullopt).view(last_dim(x, w.size(0)));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const auto &x2 = s[0], &w = s[1];
    const auto g2 = rows(grads[0]);
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) gx = onednn_linear(g2, w.t(), std::nullopt).view(last_dim(grads[0], w.size(1)));
    if (ctx->needs_input_grad(1)) gw = at::mm(g2.t(), x2);
    if (ctx->needs_input_grad(2) && ctx->saved_data["bias"].toBool()) gb = g2.sum(0);
    return {gx, gw, gb};
  }
};

std::atomic<bool> g_onednn{true};

bool onednn_eligible(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  const auto plain = [](const at::Tensor &t) {
    return t.device().is_cpu() && t.layout() == at::kStrided && t.scalar_type() == at::kFloat;
  };
  return g_onednn.load(std::memory_order_relaxed) && !at::autocast::is_autocast_enabled(at::kCPU) && plain(x) &&
         plain(w) && (!b || (plain(*b) && b->dim() == 1)) && x.dim() >= 1 && w.dim() == 2 && x.numel() > 0 &&
         x.size(-1) == w.size(1) && w.size(0) > 0;
}
}  // namespace

extern "C" {
int ct_linear(ct_tensor x, ct_tensor w, ct_tensor b, ct_tensor *out) {
  CT_TRY(
      const auto &X = T(x); const auto &W = T(w); const auto B = ct::opt(b);
      if (!onednn_eligible(X, W, B)) {
        *out = ct::wrap(at::linear(X, W, B));
      } else if (at::GradMode::is_enabled() && (X.requires_grad() || W.requires_grad() || (B && B->requires_grad()))) {
        *out = ct::wrap(OneDNNLinear::apply(X, W, B ? *B : at::empty({0}, X.options())));
      } else {
        *out = ct::wrap(onednn_linear(rows(X), W, B).view(last_dim(X, W.size(0))));
      })
}
int ct_set_onednn_linear(int enabled) { return g_onednn.exchange(enabled != 0) ? 1 : 0; }
int ct_onednn_linear_enabled(void) { return g_onednn.load() ? 1 : 0; }
int ct_onednn_linear_takes(ct_tensor x, ct_tensor w, ct_tensor b) {
  return x && w && onednn_eligible(x->t, w->t, ct::opt(b)) ? 1 : 0;
}
}
