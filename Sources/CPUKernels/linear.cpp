// The linears' GEMMs on OpenBLAS and oneDNN (the shim's linear.cpp picks a library per call, `ct_set_fp32_linear`;
// the default is the one measured fastest on the CPU's class: `stmae bench linear`, figures in docs/performance.md):
// - OpenBLAS (AVX2 CPUs; the scipy-openblas32 wheel in .torch/): its single-threaded sgemm on each libtorch thread's
//   own block of the output. OpenBLAS's own thread pool is not used: beside libtorch's OpenMP workers, which spin
//   after each parallel region, it was slower.
// - oneDNN (AVX-512 CPUs; the `mkldnn::_linear_pointwise` op on dense tensors) for the forward and dX, `mm` for dW.
// bf16 linears on OpenBLAS run its sgemm on the bf16 values widened to fp32, output rounded to bf16 (what a bf16 GEMM
// with fp32 accumulation computes; fp32 weights under autocast are rounded to bf16 as they are widened, so they need
// no bf16 copy): the default on CPUs without bf16 dot products (AVX-512 BF16 or AMX), where libtorch's bf16 GEMM is
// emulated and several times slower than its fp32 one.
#include "bf16_convert.h"
#include "cpu_kernels.h"
#include "parallel.h"
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/record_function.h>
#include <array>
#include <cblas.h>
#include <climits>
#include <torch/csrc/autograd/custom_function.h>

using namespace stmae::cpu;

namespace {
/// y = x wᵀ + b through oneDNN. x: [M, K] fp32, w: [N, K] (any strides), b: [N] or undefined → [M, N].
at::Tensor onednn_linear(const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("mkldnn::_linear_pointwise", "");
  std::vector<c10::IValue> stack{x, w, b, c10::IValue(std::string("none")),
                                 c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()};
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}

/// A 2-D fp32 tensor as a row-major BLAS operand: element (i, j) is at data[i·ld + j], or at data[i + j·ld] when
/// `trans` (a transposed view, as `w.t()`). Other layouts are copied.
struct Operand {
  at::Tensor t;
  bool trans;
  int64_t ld;
  explicit Operand(const at::Tensor &a) : t(a), trans(false), ld(a.stride(0)) {
    if (a.stride(1) == 1 && a.stride(0) >= std::max<int64_t>(a.size(1), 1)) return;
    if (a.stride(0) == 1 && a.stride(1) >= std::max<int64_t>(a.size(0), 1)) { trans = true; ld = a.stride(1); return; }
    t = a.contiguous();
    ld = std::max<int64_t>(a.size(1), 1);
  }
  /// Where the sub-matrix from row i, column j starts.
  const float *at(int64_t i, int64_t j) const { return t.data_ptr<float>() + (trans ? i + j * ld : i * ld + j); }
};

/// a @ b (+ bias on every row) on OpenBLAS: a [M, K], b [K, N], bias [N] fp32, any strides → contiguous [M, N].
/// Each libtorch thread runs sgemm single-threaded on its own block of 16-column groups (of row groups when N is
/// narrow), so the two libraries' thread pools never compete.
/// The product goes into `into` when given (contiguous fp32 of M·N elements; added to it if `accumulate`), else into
/// a new tensor.
at::Tensor blas_mm(const at::Tensor &a, const at::Tensor &b, const std::optional<at::Tensor> &bias = std::nullopt,
                   const at::Tensor &into = {}, bool accumulate = false) {
  RECORD_FUNCTION("stmae::openblas_sgemm", std::vector<c10::IValue>{});
  static const bool single = (scipy_openblas_set_num_threads(1), true);
  (void)single;
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  TORCH_CHECK(b.size(0) == K, "matmul: [", M, ", ", K, "] @ [", b.size(0), ", ", N, "]");
  TORCH_CHECK(M < INT_MAX && N < INT_MAX && K < INT_MAX && a.stride(0) < INT_MAX && a.stride(1) < INT_MAX &&
                  b.stride(0) < INT_MAX && b.stride(1) < INT_MAX, "OpenBLAS sgemm: sizes beyond 32-bit indices");
  TORCH_CHECK(!into.defined() || (into.scalar_type() == at::kFloat && into.is_contiguous() && into.numel() == M * N),
              "OpenBLAS sgemm: destination of ", into.numel(), " elements for [", M, ", ", N, "]");
  TORCH_CHECK(!accumulate || (into.defined() && !bias), "OpenBLAS sgemm: accumulates into a destination, without bias");
  auto out = into.defined() ? into.view({M, N}) : at::empty({M, N}, a.options());
  if (M == 0 || N == 0) return out;
  const Operand A(a), B(b);
  const auto bc = bias ? bias->contiguous() : at::Tensor();
  const float *bp = bias ? bc.data_ptr<float>() : nullptr;
  float *cp = out.data_ptr<float>();
  const bool by_cols = N >= 64 * at::get_num_threads() || N >= M;
  const int64_t unit = by_cols ? 16 : 8, extent = by_cols ? N : M;
  parallel_range((extent + unit - 1) / unit, [&](int64_t g0, int64_t g1) {
    const int64_t lo = g0 * unit, hi = std::min(g1 * unit, extent);
    const int64_t m0 = by_cols ? 0 : lo, m = by_cols ? M : hi - lo, n0 = by_cols ? lo : 0, n = by_cols ? hi - lo : N;
    float *c = cp + m0 * N + n0;
    if (bp)
      for (int64_t i = 0; i < m; ++i) std::copy(bp + n0, bp + n0 + n, c + i * N);
    scipy_cblas_sgemm(CblasRowMajor, A.trans ? CblasTrans : CblasNoTrans, B.trans ? CblasTrans : CblasNoTrans,
                      static_cast<int>(m), static_cast<int>(n), static_cast<int>(K), 1.0f, A.at(m0, 0),
                      static_cast<int>(A.ld), B.at(0, n0), static_cast<int>(B.ld), bp || accumulate ? 1.0f : 0.0f, c,
                      static_cast<int>(N));
  });
  return out;
}

/// y = x wᵀ + b on `backend` (OpenBLAS or oneDNN). x: [M, K], w: [N, K], b: [N] or undefined → [M, N].
at::Tensor forward_2d(int backend, const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  return backend == kOpenBLAS ? blas_mm(x, w.t(), b) : onednn_linear(x, w, b);
}

/// [..., K] → contiguous [M, K].
at::Tensor rows(const at::Tensor &t) { return t.reshape({-1, t.size(-1)}).contiguous(); }

/// t's shape with the last size replaced by n.
std::vector<int64_t> last_dim(const at::Tensor &t, int64_t n) {
  auto shape = t.sizes().vec();
  shape.back() = n;
  return shape;
}

/// x: [..., K], w: [N, K], b: [N] or [0] (no bias: autograd inputs must be defined) → [..., N] on OpenBLAS (forward,
/// dX and dW) or oneDNN (forward and dX; dW is `mm`).
struct Fp32Linear : torch::autograd::Function<Fp32Linear> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                            const at::Tensor &b, int64_t backend) {
    const auto x2 = rows(x);
    ctx->save_for_backward({x2, w});
    ctx->saved_data["bias"] = b.numel() > 0;
    ctx->saved_data["backend"] = backend;
    const auto bias = b.numel() > 0 ? std::optional<at::Tensor>(b) : std::nullopt;
    return forward_2d(static_cast<int>(backend), x2, w, bias).view(last_dim(x, w.size(0)));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const auto &x2 = s[0], &w = s[1];
    const bool blas = ctx->saved_data["backend"].toInt() == kOpenBLAS;
    const auto g2 = rows(grads[0]);
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0))
      gx = (blas ? blas_mm(g2, w) : onednn_linear(g2, w.t(), std::nullopt)).view(last_dim(grads[0], w.size(1)));
    if (ctx->needs_input_grad(1)) gw = blas ? blas_mm(g2.t(), x2) : at::mm(g2.t(), x2);
    if (ctx->needs_input_grad(2) && ctx->saved_data["bias"].toBool()) gb = g2.sum(0);
    return {gx, gw, gb, at::Tensor()};
  }
};

/// x: [..., K], w: [N, K], b: [N] or [0], all bf16 → bf16 [..., N]: OpenBLAS's sgemm (forward, dX and dW) on the
/// values widened to fp32, each product rounded to bf16. Saves the bf16 inputs, as a bf16 GEMM would.
/// Per-thread fp32 buffers for the widened operands and products of the bf16 linears, which never outlive a call:
/// grown to the largest size seen and kept, so these temporaries neither scatter the heap nor fault in fresh pages.
at::Tensor scratch(int slot, int64_t n) {
  thread_local std::array<at::Tensor, 4> buffers;
  auto &b = buffers.at(static_cast<size_t>(slot));
  if (!b.defined() || b.numel() < n) {
    b = at::Tensor();
    b = at::empty({n}, at::kFloat);
  }
  return b.slice(0, 0, n);
}

/// Rows of x per widened block: the scratch of a ViT-B MAE decoder linear stays ≈4 MB per operand at any batch.
constexpr int64_t kBlockRows = 512;

struct Bf16OnFp32Linear : torch::autograd::Function<Bf16OnFp32Linear> {
  /// x: [..., K] bf16, w: [N, K] and b: [N] or [0], each bf16 or fp32 (rounded to bf16 at each use, so an fp32
  /// weight needs no bf16 copy) → bf16 [..., N]. Gradients come back in each input's dtype, rounded to bf16.
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, const at::Tensor &w,
                            const at::Tensor &b) {
    const auto x2 = x.reshape({-1, x.size(-1)});
    ctx->save_for_backward({x2, w});
    ctx->saved_data["bias"] = b.numel() > 0;
    ctx->saved_data["bias_dtype"] = b.scalar_type();
    return widened(x2, w, b).view(last_dim(x, w.size(0)));
  }
  /// Blocks of kBlockRows rows of x and of the output gradient; dW and db sum over the blocks in fp32.
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const auto &x2 = s[0], &w = s[1];
    const int64_t M = x2.size(0), K = x2.size(1), N = w.size(0), R = std::min(M, kBlockRows);
    const auto g2 = grads[0].reshape({M, N});
    const bool want_x = ctx->needs_input_grad(0), want_w = ctx->needs_input_grad(1);
    const bool want_b = ctx->needs_input_grad(2) && ctx->saved_data["bias"].toBool();
    const auto wf = want_x ? bf16::values(w, scratch(1, N * K)) : at::Tensor();
    const bool w_bf16 = w.scalar_type() == at::kBFloat16;  // else dW is returned: its own tensor
    const auto gx = want_x ? at::empty({M, K}, x2.options()) : at::Tensor();
    const auto gw = want_w ? (w_bf16 ? scratch(3, N * K) : at::empty({N * K}, w.options())) : at::Tensor();
    at::Tensor gb;
    for (int64_t r0 = 0; r0 < M; r0 += R) {
      const int64_t r = std::min(R, M - r0);
      const auto gf = bf16::values(g2.slice(0, r0, r0 + r), scratch(0, r * N));
      if (want_x) bf16::narrow(blas_mm(gf, wf, std::nullopt, scratch(2, r * K)), gx.slice(0, r0, r0 + r));
      if (want_w) blas_mm(gf.t(), bf16::widen(x2.slice(0, r0, r0 + r), scratch(2, r * K)), std::nullopt, gw, r0 > 0);
      if (want_b) gb = r0 > 0 ? gb + gf.sum(0) : gf.sum(0);
    }
    return {want_x ? gx.view(last_dim(grads[0], K)) : at::Tensor(),
            want_w ? in_dtype(gw.view({N, K}), w.scalar_type()) : at::Tensor(),
            want_b ? in_dtype(gb, ctx->saved_data["bias_dtype"].toScalarType()) : at::Tensor()};
  }
  /// x2: [M, K] bf16, w: [N, K], b: [N] or [0] → bf16 [M, N], in blocks of kBlockRows rows.
  static at::Tensor widened(const at::Tensor &x2, const at::Tensor &w, const at::Tensor &b) {
    const int64_t M = x2.size(0), K = x2.size(1), N = w.size(0), R = std::min(M, kBlockRows);
    const auto bias = b.numel() > 0 ? std::optional<at::Tensor>(bf16::values(b)) : std::nullopt;
    const auto wf = bf16::values(w, scratch(1, N * K));
    auto out = at::empty({M, N}, x2.options());
    for (int64_t r0 = 0; r0 < M; r0 += R) {
      const int64_t r = std::min(R, M - r0);
      const auto xf = bf16::widen(x2.slice(0, r0, r0 + r), scratch(0, r * K));
      bf16::narrow(blas_mm(xf, wf.t(), bias, scratch(2, r * N)), out.slice(0, r0, r0 + r));
    }
    return out;
  }
  /// An fp32 gradient rounded to bf16, in `dtype` (bf16, or fp32 holding the bf16 value).
  static at::Tensor in_dtype(at::Tensor g, at::ScalarType dtype) {
    return dtype == at::kBFloat16 ? bf16::narrow(g) : bf16::round_(g);
  }
};
}  // namespace

namespace stmae::cpu {
Gemm default_fp32_gemm() { return __builtin_cpu_supports("avx512f") ? kOneDNN : kOpenBLAS; }
Gemm default_bf16_gemm() {
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16") ? kLibtorch : kOpenBLAS;
}

at::Tensor linear_fp32(Gemm gemm, const at::Tensor &x, const at::Tensor &w, const std::optional<at::Tensor> &b) {
  TORCH_CHECK(gemm == kOneDNN || gemm == kOpenBLAS, "fp32 linear kernels: oneDNN or OpenBLAS, not ", int(gemm));
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b && b->requires_grad())))
    return Fp32Linear::apply(x, w, b ? *b : at::empty({0}, x.options()), static_cast<int64_t>(gemm));
  return forward_2d(gemm, rows(x), w, b).view(last_dim(x, w.size(0)));
}

/// x is cast to bf16 (as autocast does; differentiable), so its saved copy is bf16; fp32 weights and biases are
/// rounded inside (their bf16 casts would cost a pass and an allocation each).
at::Tensor linear_bf16(const at::Tensor &X, const at::Tensor &w, const std::optional<at::Tensor> &B) {
  const auto x = X.to(at::kBFloat16);
  const auto b = B ? *B : at::empty({0}, w.options());
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || b.requires_grad()))
    return Bf16OnFp32Linear::apply(x, w, b);
  return Bf16OnFp32Linear::widened(x.reshape({-1, x.size(-1)}), w, b).view(last_dim(x, w.size(0)));
}
}  // namespace stmae::cpu
