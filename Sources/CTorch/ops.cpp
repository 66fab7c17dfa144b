// Views, indexing, elementwise arithmetic and reductions.
#include "internal.h"

using ct::T;
using ct::ints;

namespace {
// a <op> b for a tensor or a scalar b (maximum/minimum of a scalar: clamp_min/clamp_max; logical ops: tensors only).
template <class B> at::Tensor binary(int op, const at::Tensor &a, const B &b) {
  constexpr bool scalar = std::is_same_v<B, at::Scalar>;
  switch (op) {
    case CT_ADD: return a.add(b);
    case CT_SUB: return a.sub(b);
    case CT_MUL: return a.mul(b);
    case CT_DIV: return a.div(b);
    case CT_POW: return a.pow(b);
    case CT_EQ: return a.eq(b);
    case CT_NE: return a.ne(b);
    case CT_LT: return a.lt(b);
    case CT_LE: return a.le(b);
    case CT_GT: return a.gt(b);
    case CT_GE: return a.ge(b);
  }
  if constexpr (scalar) {
    if (op == CT_MAXIMUM) return a.clamp_min(b);
    if (op == CT_MINIMUM) return a.clamp_max(b);
    TORCH_CHECK(false, "unknown scalar binary op ", op);
  } else {
    if (op == CT_MAXIMUM) return at::maximum(a, b);
    if (op == CT_MINIMUM) return at::minimum(a, b);
    if (op == CT_LOGICAL_AND) return a.logical_and(b);
    if (op == CT_LOGICAL_OR) return a.logical_or(b);
    TORCH_CHECK(false, "unknown binary op ", op);
  }
}
// a <op>= b in place (maximum/minimum: scalars only, as clamp_min_/clamp_max_).
template <class B> void binary_(int op, const at::Tensor &a, const B &b) {
  switch (op) {
    case CT_ADD: a.add_(b); return;
    case CT_SUB: a.sub_(b); return;
    case CT_MUL: a.mul_(b); return;
    case CT_DIV: a.div_(b); return;
    case CT_POW: a.pow_(b); return;
  }
  if constexpr (std::is_same_v<B, at::Scalar>) {
    if (op == CT_MAXIMUM) { a.clamp_min_(b); return; }
    if (op == CT_MINIMUM) { a.clamp_max_(b); return; }
    TORCH_CHECK(false, "scalar op ", op, " has no in-place form");
  } else {
    TORCH_CHECK(false, "binary op ", op, " has no in-place form");
  }
}
at::Tensor unary(int op, const at::Tensor &a) {
  switch (op) {
    case CT_NEG: return a.neg();
    case CT_EXP: return a.exp();
    case CT_LOG: return a.log();
    case CT_SQRT: return a.sqrt();
    case CT_RSQRT: return a.rsqrt();
    case CT_ABS: return a.abs();
    case CT_SIN: return a.sin();
    case CT_COS: return a.cos();
    case CT_TANH: return a.tanh();
    case CT_SIGMOID: return a.sigmoid();
    case CT_RELU: return a.relu();
    case CT_FLOOR: return a.floor();
    case CT_CEIL: return a.ceil();
    case CT_ROUND: return a.round();
    case CT_ERFINV: return a.erfinv();
    case CT_LOGICAL_NOT: return a.logical_not();
    case CT_RECIPROCAL: return a.reciprocal();
    case CT_SQUARE: return a.square();
    case CT_SIGN: return a.sign();
  }
  TORCH_CHECK(false, "unknown unary op ", op);
}
void unary_(int op, const at::Tensor &a) {
  switch (op) {
    case CT_NEG: a.neg_(); return;
    case CT_EXP: a.exp_(); return;
    case CT_LOG: a.log_(); return;
    case CT_SQRT: a.sqrt_(); return;
    case CT_RSQRT: a.rsqrt_(); return;
    case CT_ABS: a.abs_(); return;
    case CT_TANH: a.tanh_(); return;
    case CT_SIGMOID: a.sigmoid_(); return;
    case CT_RELU: a.relu_(); return;
    case CT_FLOOR: a.floor_(); return;
    case CT_ERFINV: a.erfinv_(); return;
    case CT_RECIPROCAL: a.reciprocal_(); return;
  }
  TORCH_CHECK(false, "unary op ", op, " has no in-place form");
}
at::OptionalIntArrayRef dims_or_all(const int64_t *d, int n) {
  return n > 0 ? at::OptionalIntArrayRef(ints(d, n)) : at::OptionalIntArrayRef();
}
}  // namespace

extern "C" {
int ct_reshape(ct_tensor t, const int64_t *s, int n, ct_tensor *out) { CT_OUT(T(t).reshape(ints(s, n))) }
int ct_view(ct_tensor t, const int64_t *s, int n, ct_tensor *out) { CT_OUT(T(t).view(ints(s, n))) }
int ct_permute(ct_tensor t, const int64_t *d, int n, ct_tensor *out) { CT_OUT(T(t).permute(ints(d, n))) }
int ct_transpose(ct_tensor t, int64_t a, int64_t b, ct_tensor *out) { CT_OUT(T(t).transpose(a, b)) }
int ct_slice(ct_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor *out) {
  CT_OUT(T(t).slice(dim, start, end, step))
}
int ct_select(ct_tensor t, int64_t dim, int64_t i, ct_tensor *out) { CT_OUT(T(t).select(dim, i)) }
int ct_index_select(ct_tensor t, int64_t dim, ct_tensor idx, ct_tensor *out) {
  CT_TRY(
      const auto &X = T(t); const auto &I = T(idx);
      if (!X.is_meta()) {
        *out = ct::wrap(X.index_select(dim, I));
        return 0;
      }
      // meta (no index_select kernel there): gather with the index broadcast over the other dims
      const int64_t d = dim < 0 ? dim + X.dim() : dim;
      std::vector<int64_t> view(static_cast<size_t>(X.dim()), 1), shape = X.sizes().vec();
      view[d] = I.numel();
      shape[d] = I.numel();
      *out = ct::wrap(X.gather(d, I.reshape(view).expand(shape))))
}
int ct_gather(ct_tensor t, int64_t dim, ct_tensor idx, ct_tensor *out) { CT_OUT(T(t).gather(dim, T(idx))) }
int ct_scatter(ct_tensor t, int64_t dim, ct_tensor idx, ct_tensor src, ct_tensor *out) {
  CT_OUT(T(t).scatter(dim, T(idx), T(src)))
}
int ct_masked_fill(ct_tensor t, ct_tensor m, double v, ct_tensor *out) { CT_OUT(T(t).masked_fill(T(m), v)) }
int ct_where(ct_tensor c, ct_tensor a, ct_tensor b, ct_tensor *out) { CT_OUT(at::where(T(c), T(a), T(b))) }
int ct_cat(const ct_tensor *ts, int n, int64_t dim, ct_tensor *out) { CT_OUT(at::cat(ct::list(ts, n), dim)) }
int ct_stack(const ct_tensor *ts, int n, int64_t dim, ct_tensor *out) { CT_OUT(at::stack(ct::list(ts, n), dim)) }
int ct_expand(ct_tensor t, const int64_t *s, int n, ct_tensor *out) { CT_OUT(T(t).expand(ints(s, n))) }
int ct_repeat(ct_tensor t, const int64_t *r, int n, ct_tensor *out) { CT_OUT(T(t).repeat(ints(r, n))) }
int ct_repeat_interleave(ct_tensor t, int64_t r, int64_t dim, ct_tensor *out) { CT_OUT(T(t).repeat_interleave(r, dim)) }
int ct_flatten(ct_tensor t, int64_t a, int64_t b, ct_tensor *out) { CT_OUT(T(t).flatten(a, b)) }
int ct_unsqueeze(ct_tensor t, int64_t d, ct_tensor *out) { CT_OUT(T(t).unsqueeze(d)) }
int ct_squeeze(ct_tensor t, int64_t d, ct_tensor *out) { CT_OUT(T(t).squeeze(d)) }
int ct_flip(ct_tensor t, const int64_t *d, int n, ct_tensor *out) { CT_OUT(T(t).flip(ints(d, n))) }
int ct_roll(ct_tensor t, int64_t s, int64_t d, ct_tensor *out) { CT_OUT(T(t).roll(s, d)) }

int ct_binary(int op, ct_tensor a, ct_tensor b, ct_tensor *out) { CT_OUT(binary(op, T(a), T(b))) }
int ct_binary_scalar(int op, ct_tensor a, double b, ct_tensor *out) { CT_OUT(binary(op, T(a), at::Scalar(b))) }
int ct_binary_(int op, ct_tensor a, ct_tensor b) { CT_TRY(binary_(op, T(a), T(b))) }
int ct_binary_scalar_(int op, ct_tensor a, double b) { CT_TRY(binary_(op, T(a), at::Scalar(b))) }
int ct_add_scaled_(ct_tensor a, ct_tensor b, double alpha) { CT_TRY(T(a).add_(T(b), alpha)) }
int ct_unary(int op, ct_tensor a, ct_tensor *out) { CT_OUT(unary(op, T(a))) }
int ct_unary_(int op, ct_tensor a) { CT_TRY(unary_(op, T(a))) }
int ct_clamp(ct_tensor a, double lo, double hi, int has_lo, int has_hi, ct_tensor *out) {
  CT_OUT(T(a).clamp(has_lo ? std::optional<at::Scalar>(lo) : std::nullopt,
                    has_hi ? std::optional<at::Scalar>(hi) : std::nullopt))
}
int ct_clamp_(ct_tensor a, double lo, double hi, int has_lo, int has_hi) {
  CT_TRY(T(a).clamp_(has_lo ? std::optional<at::Scalar>(lo) : std::nullopt,
                     has_hi ? std::optional<at::Scalar>(hi) : std::nullopt))
}
int ct_lerp(ct_tensor a, ct_tensor b, double w, ct_tensor *out) { CT_OUT(T(a).lerp(T(b), w)) }

int ct_sum(ct_tensor t, const int64_t *d, int n, int keep, ct_tensor *out) {
  CT_OUT(T(t).sum(dims_or_all(d, n), keep != 0))
}
int ct_mean(ct_tensor t, const int64_t *d, int n, int keep, ct_tensor *out) {
  CT_OUT(T(t).mean(dims_or_all(d, n), keep != 0))
}
int ct_var(ct_tensor t, const int64_t *d, int n, int64_t corr, int keep, ct_tensor *out) {
  CT_OUT(T(t).var(dims_or_all(d, n), at::Scalar(corr), keep != 0))
}
int ct_amax(ct_tensor t, const int64_t *d, int n, int keep, ct_tensor *out) { CT_OUT(T(t).amax(ints(d, n), keep != 0)) }
int ct_amin(ct_tensor t, const int64_t *d, int n, int keep, ct_tensor *out) { CT_OUT(T(t).amin(ints(d, n), keep != 0)) }
int ct_argmax(ct_tensor t, int64_t dim, int keep, ct_tensor *out) { CT_OUT(T(t).argmax(dim, keep != 0)) }
int ct_argsort(ct_tensor t, int64_t dim, int desc, int stable, ct_tensor *out) {
  CT_OUT(T(t).argsort(stable != 0, dim, desc != 0))
}
int ct_topk(ct_tensor t, int64_t k, int64_t dim, int largest, ct_tensor *values, ct_tensor *indices) {
  CT_TRY(auto r = T(t).topk(k, dim, largest != 0, true); *values = ct::wrap(std::get<0>(r));
         *indices = ct::wrap(std::get<1>(r)))
}
int ct_vector_norm(ct_tensor t, double ord, ct_tensor *out) { CT_OUT(at::linalg_vector_norm(T(t), ord)) }
int ct_cumsum(ct_tensor t, int64_t dim, ct_tensor *out) { CT_OUT(T(t).cumsum(dim)) }
}
