// Autograd, grad mode, autocast, and the optimiser kernels.
#include "internal.h"
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/csrc/autograd/variable.h>
#include <cmath>

using ct::T;

namespace {
// copy.grad → master.grad (master's dtype, contiguous) right after accumulation; the low-precision one is freed at
// once.
// Not kept: writing the first gradient after `zero_grad` into an fp32 buffer kept across steps. It holds every
// weight's gradient from the first backward op on, so the bf16 ViT-B step's peak RSS rose 2140 → 2244 MB (above
// PyTorch's 2172), for 1.5% (4 pairs, within noise).
struct GradSink : torch::autograd::PostAccumulateGradHook {
  at::Tensor master;
  explicit GradSink(at::Tensor m) : master(std::move(m)) {}
  void operator()(const torch::autograd::Variable &copy) override {
    auto &g = const_cast<torch::autograd::Variable &>(copy).mutable_grad();
    if (!g.defined()) return;
    at::NoGradGuard ng;
    auto &mg = master.mutable_grad();
    if (mg.defined())
      mg.add_(g);
    else
      mg = g.to(master.scalar_type(), /*non_blocking=*/false, /*copy=*/false, at::MemoryFormat::Contiguous);
    g.reset();
  }
};
}  // namespace

static std::unique_ptr<torch::autograd::profiler::RecordProfile> g_trace;

extern "C" {
int ct_trace_start(const char *path) {
  CT_TRY(TORCH_CHECK(!g_trace, "a trace is already being recorded");
         g_trace = std::make_unique<torch::autograd::profiler::RecordProfile>(std::string(path)))
}
int ct_trace_stop(void) { CT_TRY(g_trace.reset()) }
int ct_set_grad_sink(ct_tensor copy, ct_tensor master) {
  CT_TRY(
      TORCH_CHECK(T(copy).is_leaf() && T(copy).requires_grad(),
                  "grad sink: the copy must be a leaf that requires grad");
      TORCH_CHECK(T(copy).sizes() == T(master).sizes(), "grad sink: copy and master shapes differ");
      torch::autograd::impl::set_post_acc_grad_hooks(T(copy), std::make_unique<GradSink>(T(master))))
}

int ct_set_requires_grad(ct_tensor t, int flag) { CT_TRY(T(t).set_requires_grad(flag != 0)) }
int ct_requires_grad(ct_tensor t) { return t->t.requires_grad() ? 1 : 0; }
int ct_is_leaf(ct_tensor t) { return t->t.is_leaf() ? 1 : 0; }
int ct_grad(ct_tensor t, ct_tensor *out) {
  CT_TRY(const auto &g = T(t).grad(); *out = g.defined() ? ct::wrap(g) : nullptr)
}
int ct_set_grad(ct_tensor t, ct_tensor g) { CT_TRY(T(t).mutable_grad() = g ? g->t : at::Tensor()) }
int ct_set_data(ct_tensor t, ct_tensor src) { CT_TRY(T(t).set_data(T(src))) }
int ct_backward(ct_tensor t, ct_tensor grad, int retain) {
  CT_TRY(torch::autograd::backward({T(t)},
                                   grad ? torch::autograd::variable_list{grad->t} : torch::autograd::variable_list{},
                                   retain ? std::optional<bool>(true) : std::nullopt))
}
int ct_grad_mode_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }
void ct_set_grad_mode(int enabled) { at::GradMode::set_enabled(enabled != 0); }

// prev packs (enabled, dtype) so a nested exit restores exactly what the enter replaced.
int ct_autocast_enter(int dev, int dt, int64_t *prev) {
  CT_TRY(
      auto type = ct::device(dev, 0).type();
      *prev = (at::autocast::is_autocast_enabled(type) ? 1 : 0) |
              (static_cast<int64_t>(at::autocast::get_autocast_dtype(type)) << 8);
      at::autocast::set_autocast_enabled(type, true);
      at::autocast::set_autocast_dtype(type, ct::dtype(dt));
      at::autocast::increment_nesting())
}
int ct_autocast_exit(int dev, int64_t prev) {
  CT_TRY(
      auto type = ct::device(dev, 0).type();
      if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
      at::autocast::set_autocast_enabled(type, (prev & 1) != 0);
      at::autocast::set_autocast_dtype(type, static_cast<at::ScalarType>(prev >> 8)))
}
int ct_autocast_enabled(int dev) { return at::autocast::is_autocast_enabled(dev == 0 ? at::kCPU : at::kCUDA) ? 1 : 0; }

int ct_fused_adamw(const ct_tensor *params, const ct_tensor *grads, const ct_tensor *m, const ct_tensor *v,
                   const ct_tensor *steps, int n, double lr, double b1, double b2, double wd, double eps,
                   int maximize) {
  CT_TRY(
      if (n == 0) return 0;
      at::NoGradGuard no_grad;
      auto s = ct::list(steps, n);
      at::_foreach_add_(s, 1);
      auto P = ct::list(params, n), G = ct::list(grads, n), M = ct::list(m, n), V = ct::list(v, n);
      if (!P[0].is_meta()) {  // CPU and CUDA: libtorch's fused kernel
        at::_fused_adamw_(P, G, M, V, {}, s, lr, b1, b2, wd, eps, false, maximize != 0);
        return 0;
      }
      // meta (no fused kernel there): the same update per tensor (torch.optim.AdamW, capturable form)
      for (int i = 0; i < n; ++i) {
        const auto g = maximize ? -G[i] : G[i];
        P[i].mul_(1 - lr * wd);
        M[i].lerp_(g, 1 - b1);
        V[i].mul_(b2).addcmul_(g, g, 1 - b2);
        const auto bc1 = 1 - at::pow(b1, s[i]), bc2 = 1 - at::pow(b2, s[i]);
        P[i].sub_(M[i] * (lr / bc1) / (V[i].sqrt() / bc2.sqrt() + eps));
      })
}
int ct_clip_grad_norm(const ct_tensor *grads, int n, double max_norm, double *total) {
  CT_TRY(
      at::NoGradGuard no_grad;
      std::vector<at::Tensor> gs;
      for (int i = 0; i < n; ++i) if (grads[i] && grads[i]->t.defined()) gs.push_back(grads[i]->t);
      if (gs.empty()) { *total = 0; return 0; }
      auto norms = at::_foreach_norm(gs, 2);
      auto total_norm = at::linalg_vector_norm(at::stack(norms), 2);
      *total = total_norm.is_meta() ? NAN : total_norm.item<double>();  // meta: no value to read
      auto coef = (max_norm / (total_norm + 1e-6)).clamp_max(1.0);
      at::_foreach_mul_(gs, coef))
}
int ct_foreach_zero_(const ct_tensor *ts, int n) { CT_TRY(if (n) at::_foreach_zero_(ct::list(ts, n))) }
int ct_foreach_mul_scalar_(const ct_tensor *ts, int n, double s) {
  CT_TRY(if (n) at::_foreach_mul_(ct::list(ts, n), s))
}
int ct_amp_unscale_(const ct_tensor *grads, int n, ct_tensor found_inf, ct_tensor inv_scale) {
  CT_TRY(
      at::NoGradGuard no_grad;
      auto gs = ct::list(grads, n);
      if (gs.empty()) return 0;
      if (!gs[0].is_meta()) {
        at::Tensor found = T(found_inf);  // shares found_inf's storage
        at::_amp_foreach_non_finite_check_and_unscale_(gs, found, T(inv_scale));
        return 0;
      }
      // meta: the same ops unfused (no kernel of the fused one there)
      for (auto &g : gs) {
        const auto nonfinite = (g - g).ne(0).any();  // inf − inf and NaN − NaN are NaN (no isfinite kernel on meta)
        T(found_inf).copy_(at::maximum(T(found_inf), nonfinite.to(at::kFloat)));
        g.mul_(T(inv_scale));
      })
}
int ct_amp_update_scale_(ct_tensor scale, ct_tensor tracker, ct_tensor found_inf, double growth, double backoff,
                         int64_t interval) {
  CT_TRY(
      at::NoGradGuard no_grad;
      at::Tensor S = T(scale), G = T(tracker);  // handles sharing the storage updated in place
      const auto &F = T(found_inf);
      if (!S.is_meta()) {
        at::_amp_update_scale_(S, G, F, growth, backoff, interval);
        return 0;
      }
      // meta: torch's CPU kernel (aten/src/ATen/native/cpu/AmpGradScalerKernels.cpp) as tensor ops
      // (0/1 masks in arithmetic: no `where` kernel on meta)
      const auto inf = F.gt(0).to(at::kFloat), grown = (G + 1).ge(interval).to(at::kFloat);
      S.mul_(inf * backoff + (1 - inf) * (grown * growth + (1 - grown)));
      G.copy_(((G + 1).to(at::kFloat) * (1 - inf) * (1 - grown)).to(G.scalar_type())))
}
}
