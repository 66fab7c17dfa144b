// Linear algebra and the nn functional ops the models use.
#include "cpu_kernels.h"
#include "internal.h"
#include <c10/core/impl/LocalDispatchKeySet.h>

using ct::T;
using ct::ints;

namespace {
/// A convolution whose stride is its kernel and without padding (patch embeddings) on the meta device, where libtorch
/// has no convolution kernel: patches [N, T', H', W', C·k…] × weightᵀ, the same shapes and autograd graph.
at::Tensor patch_conv_meta(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  const int64_t d = w.dim() - 2;  // 2 or 3 spatial dims
  std::vector<int64_t> split{x.size(0), x.size(1)}, perm{0}, out{x.size(0)};
  for (int64_t i = 0; i < d; ++i) {
    split.push_back(x.size(2 + i) / w.size(2 + i));
    split.push_back(w.size(2 + i));
    perm.push_back(2 + 2 * i);
    out.push_back(x.size(2 + i) / w.size(2 + i));
  }
  perm.push_back(1);
  for (int64_t i = 0; i < d; ++i) perm.push_back(3 + 2 * i);
  auto patches = x.reshape(split).permute(perm).flatten(d + 1);  // [N, grid…, C·k…]
  auto y = at::linear(patches, w.flatten(1), b);                  // [N, grid…, O]
  std::vector<int64_t> back{0, d + 1};
  for (int64_t i = 0; i < d; ++i) back.push_back(1 + i);
  return y.permute(back);
}

/// `conv(x, w, b)` of a bf16 convolution: on CPUs without oneDNN's bf16 path (`stmae::cpu::native_bf16_conv`; else
/// libtorch takes `slow_conv3d`: a ViT-B video patch embedding, 1.96 s forward+backward on a 2-core AVX2 EPYC, 0.08 s
/// in fp32), the fp32 convolution of the operands rounded to bf16 (differentiable casts, as autocast's), output
/// rounded to bf16 — what a bf16 convolution with fp32 accumulation computes. Otherwise `conv` as given.
template <class Conv>
at::Tensor conv_bf16_aware(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b, Conv conv) {
  if (!x.device().is_cpu() || stmae::cpu::native_bf16_conv() || !ct::computes_in_bf16(x, w, b)) {
    return x.is_meta() ? patch_conv_meta(x, w, b) : conv(x, w, b);
  }
  const auto widen = [](const at::Tensor &t) { return t.to(at::kBFloat16).to(at::kFloat); };
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return conv(widen(x), widen(w), b ? std::optional<at::Tensor>(widen(*b)) : std::nullopt).to(at::kBFloat16);
}
}  // namespace

extern "C" {
int ct_matmul(ct_tensor a, ct_tensor b, ct_tensor *out) { CT_OUT(at::matmul(T(a), T(b))) }
int ct_bmm(ct_tensor a, ct_tensor b, ct_tensor *out) { CT_OUT(at::bmm(T(a), T(b))) }
int ct_baddbmm(ct_tensor s, ct_tensor a, ct_tensor b, double beta, double alpha, ct_tensor *out) {
  CT_OUT(at::baddbmm(T(s), T(a), T(b), beta, alpha))
}
int ct_conv3d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *st, const int64_t *pad, ct_tensor *out) {
  CT_OUT(conv_bf16_aware(T(x), T(w), ct::opt(b), [&](const at::Tensor &x, const at::Tensor &w, const auto &b) {
    return at::conv3d(x, w, b, ints(st, 3), ints(pad, 3));
  }))
}
int ct_conv2d(ct_tensor x, ct_tensor w, ct_tensor b, const int64_t *st, const int64_t *pad, ct_tensor *out) {
  CT_OUT(conv_bf16_aware(T(x), T(w), ct::opt(b), [&](const at::Tensor &x, const at::Tensor &w, const auto &b) {
    return at::conv2d(x, w, b, ints(st, 2), ints(pad, 2));
  }))
}
int ct_layer_norm(ct_tensor x, const int64_t *s, int n, ct_tensor w, ct_tensor b, double eps, ct_tensor *out) {
  CT_TRY(
      const auto &X = T(x);
      if (!X.is_meta()) {
        *out = ct::wrap(at::layer_norm(X, ints(s, n), ct::opt(w), ct::opt(b), eps));
        return 0;
      }
      // meta (no native_layer_norm or var kernel there): the same shapes and graph from means
      std::vector<int64_t> dims;
      for (int i = 0; i < n; ++i) dims.push_back(X.dim() - n + i);
      const auto centred = X - X.mean(dims, true);
      auto y = centred * (centred.square().mean(dims, true) + eps).rsqrt();
      if (w) y = y * T(w);
      if (b) y = y + T(b);
      *out = ct::wrap(std::move(y)))
}
int ct_gelu(ct_tensor x, int tanh_approx, ct_tensor *out) { CT_OUT(at::gelu(T(x), tanh_approx ? "tanh" : "none")) }
int ct_softmax(ct_tensor x, int64_t dim, ct_tensor *out) { CT_OUT(at::softmax(T(x), dim)) }
int ct_log_softmax(ct_tensor x, int64_t dim, ct_tensor *out) { CT_OUT(at::log_softmax(T(x), dim)) }
int ct_dropout(ct_tensor x, double p, int train, ct_tensor *out) { CT_OUT(at::dropout(T(x), p, train != 0)) }
int ct_interpolate(ct_tensor x, const int64_t *size, int n, int mode, int align, ct_tensor *out) {
  CT_TRY(
      const auto &t = T(x);
      TORCH_CHECK(t.dim() == n + 2, "interpolate: input of ", t.dim(), " dims for a ", n, "-d size");
      at::Tensor r;
      if (mode == 0) {
        r = n == 1 ? at::upsample_nearest1d(t, ints(size, n)) : n == 2 ? at::upsample_nearest2d(t, ints(size, n))
                                                                     : at::upsample_nearest3d(t, ints(size, n));
      } else if (mode == 1) {
        r = n == 1 ? at::upsample_linear1d(t, ints(size, n), align != 0)
            : n == 2 ? at::upsample_bilinear2d(t, ints(size, n), align != 0)
                     : at::upsample_trilinear3d(t, ints(size, n), align != 0);
      } else {
        TORCH_CHECK(mode == 2 && n == 2, "bicubic interpolation needs a 2-d size");
        r = at::upsample_bicubic2d(t, ints(size, n), align != 0);
      }
      *out = ct::wrap(std::move(r)))
}
int ct_one_hot(ct_tensor idx, int64_t c, ct_tensor *out) { CT_OUT(at::one_hot(T(idx), c)) }
int ct_mse_loss(ct_tensor x, ct_tensor y, int red, ct_tensor *out) { CT_OUT(at::mse_loss(T(x), T(y), red)) }
int ct_cross_entropy(ct_tensor logits, ct_tensor target, int red, double smoothing, ct_tensor *out) {
  CT_OUT(at::cross_entropy_loss(T(logits), T(target), std::nullopt, red, -100, smoothing))
}
}
