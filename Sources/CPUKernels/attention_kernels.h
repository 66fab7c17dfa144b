// Shared parts of the fused attention kernels (attention.cpp forward, attention_backward.cpp backward: bf16;
// attention_fp32.cpp: fp32).
#pragma once
#include "parallel.h"
#include <ATen/ATen.h>
#include <immintrin.h>

#define CT_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

namespace stmae::cpu::attn {

inline bool cpu_has_avx512bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  return has;
}

constexpr float log2e = 1.4426950408889634f;

/// 2^f on [−½, ½], Taylor degree 6 (relative error < 2e-7), highest power first; both kernels' exp2 use it.
constexpr float exp2_poly[7] = {1.5403530e-4f, 1.3333558e-3f, 9.6181291e-3f, 5.5504109e-2f, 2.4022651e-1f,
                                6.9314718e-1f, 1.f};

/// 2^x for x ≤ 0 (clamped at −127).
CT_AVX512BF16 inline __m512 exp2_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-127.f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(exp2_poly[0]);
  for (int i = 1; i < 7; ++i) p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(exp2_poly[i]));
  return _mm512_scalef_ps(p, n);
}

/// Per query row of one head's backward: Δ[i] = Σ_d dO[i][d]·O[i][d] and lse2[i] = lse[i]·log2e for i < Lq, 0 for
/// the padding rows up to `rows`. `value` reads an element as float.
template <int D, class E, class F>
void row_terms(const E *go, int64_t gs, const E *o, int64_t os, const float *lse, int64_t ls, int64_t Lq, int64_t rows,
               float *delta, float *lse2, F value) {
  for (int64_t i = 0; i < rows; ++i) {
    float acc = 0;
    if (i < Lq)
      for (int d = 0; d < D; ++d) acc += value(go[i * gs + d]) * value(o[i * os + d]);
    delta[i] = acc;
    lse2[i] = i < Lq ? lse[i * ls] * log2e : 0.f;
  }
}

/// Lanes of the 16 keys from j0 that exist (keys < n).
inline __mmask16 key_mask(int64_t j0, int64_t n) {
  return j0 + 16 <= n ? 0xFFFF : j0 >= n ? 0 : static_cast<__mmask16>((1u << (n - j0)) - 1);
}

/// K or V of one head with pairs along D, 16 keys a chunk: dst[(j/16)·D/2·16 + e·16 + j%16] = x[j][2e..2e+1].
template <int D>
void pack_rows_by_dim(const uint16_t *x, int64_t xs, int64_t n, uint32_t *dst) {
  for (int64_t j = 0; j < n; ++j) {
    const auto *xr = reinterpret_cast<const uint32_t *>(x + j * xs);
    for (int e = 0; e < D / 2; ++e) dst[(j / 16) * (D / 2) * 16 + e * 16 + j % 16] = xr[e];
  }
}

/// Rows in pairs: dst[(j/2)·D + d] = (x[j][d], x[j+1][d]).
template <int D>
void pack_row_pairs(const uint16_t *x, int64_t xs, int64_t n, uint32_t *dst) {
  auto *d16 = reinterpret_cast<uint16_t *>(dst);
  for (int64_t j = 0; j < n; ++j)
    for (int d = 0; d < D; ++d) d16[((j / 2) * D + d) * 2 + j % 2] = x[j * xs + d];
}

CT_AVX512BF16 inline __m512 dp(__m512 acc, uint32_t pair, __m512i v) {
  return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32(static_cast<int>(pair)), (__m512bh)v);
}

/// Whether this CPU runs the fp32 kernels (attention_fp32.cpp).
bool cpu_has_avx2_fma();
/// fp32 forward into out [B, H, Lq, D], lse [B, H, Lq] (allocated by the caller); head dims 32/64/80/128.
void forward_fp32(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, at::Tensor &out,
                  at::Tensor &lse);
/// fp32 gradients of forward_fp32 into dq, dk, dv (allocated by the caller).
void backward_fp32(const at::Tensor &go, const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                   const at::Tensor &out, const at::Tensor &lse, double scale, at::Tensor &dq, at::Tensor &dk,
                   at::Tensor &dv);

/// Gradients of one attention call whose forward was `fused_forward`: grad_out, q, k, v, out: [B, H, L, D] bf16 or
/// fp32, lse: [B, H, Lq] fp32. Returns (dq, dk, dv), same dtype and shapes.
std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_backward(const at::Tensor &grad_out, const at::Tensor &q,
                                                              const at::Tensor &k, const at::Tensor &v,
                                                              const at::Tensor &out, const at::Tensor &lse,
                                                              double scale);
}  // namespace stmae::cpu::attn
