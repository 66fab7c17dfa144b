// Fused fp32 attention for AVX2/FMA CPUs, head dims 32/64/80/128, no mask, no dropout: the fp32 counterpart of
// attention.cpp (forward) and attention_backward.cpp (backward), with 8-float FMAs instead of bf16 pairs.
// Forward: exact softmax per block of R query rows (scores, exp, P·V; a block's scores stay in L2). Backward:
// FlashAttention-2 order per head, for each block of KB keys and R query rows
//   P = exp(S − lse), dP = dO Vᵀ, dS = P ∘ (dP − Δ), Δ = rowsum(dO ∘ O),
//   dV_blk += Pᵀ dO, dK_blk += dSᵀ Q · scale, dQ += dS K · scale.
// K and V are packed per head in chunks of 8 keys transposed (kt[j/8][d][j%8]) for S and dP; the other operands are
// row-major copies. Register tiles are G = 6 rows × 16 columns: 12 accumulators, two loads and a broadcast per step.
#include "attention_kernels.h"
#include <cmath>
#include <vector>

#define CT_AVX2 __attribute__((target("avx2,fma")))

namespace stmae::cpu::attn {

bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

namespace {

/// 2^x for x ≤ 0 (0 below −127).
CT_AVX2 inline __m256 exp2_8(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-127.f));
  const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(exp2_poly[0]);
  for (int i = 1; i < 7; ++i) p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(exp2_poly[i]));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));   // n = −127 gives exponent bits 0: exactly 0
}

/// All-ones lanes for the keys j0 … j0+7 that exist (< n).
CT_AVX2 inline __m256 valid_keys(int64_t j0, int64_t n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i left = _mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n - j0, 8)));  // keys from j0 on, ≤ 8
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(left, lane));
}
CT_AVX2 inline float hsum(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
CT_AVX2 inline float hmax(__m256 x) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/// x [n, D] (row stride xs) → dst [⌈n/8⌉][D][8] (keys transposed in chunks of 8).
template <int D>
void pack_chunks(const float *x, int64_t xs, int64_t n, float *dst) {
  for (int64_t j = 0; j < n; ++j)
    for (int d = 0; d < D; ++d) dst[(j / 8) * D * 8 + d * 8 + j % 8] = x[j * xs + d];
}
template <int D>
void copy_rows(const float *x, int64_t xs, int64_t n, float *dst) {
  for (int64_t j = 0; j < n; ++j) std::copy(x + j * xs, x + j * xs + D, dst + j * D);
}

constexpr int G = 6;   // rows of a register tile: G × 16 columns = 12 accumulators, 2 loads and a broadcast

/// acc[r][h] = rows[r] · keys h·8 … h·8+7 of two packed chunks (RR rows, row stride rs).
template <int D, int RR>
CT_AVX2 inline void chunk_products(const float *rows, int64_t rs, const float *packed, __m256 (&acc)[RR][2]) {
  for (int r = 0; r < RR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int e = 0; e < D; ++e) {
    const __m256 a = _mm256_loadu_ps(packed + e * 8), b = _mm256_loadu_ps(packed + D * 8 + e * 8);
    for (int r = 0; r < RR; ++r) {
      const __m256 x = _mm256_broadcast_ss(rows + r * rs + e);
      acc[r][0] = _mm256_fmadd_ps(x, a, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b, acc[r][1]);
    }
  }
}

/// out[r][0..15] (+)= Σ_j w[r·ws + j] · x[j·D + 0..15] over n values of j, for RR rows; `add` keeps out's values.
template <int D, int RR>
CT_AVX2 inline void weighted_rows(const float *w, int64_t ws, const float *x, int64_t n, float *out, int64_t os,
                                  bool add) {
  __m256 a[RR][2];
  for (int r = 0; r < RR; ++r)
    for (int h = 0; h < 2; ++h) a[r][h] = add ? _mm256_loadu_ps(out + r * os + h * 8) : _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t j = 0; j < n; ++j) {
    const __m256 x0 = _mm256_loadu_ps(x + j * D), x1 = _mm256_loadu_ps(x + j * D + 8);
    for (int r = 0; r < RR; ++r) {
      const __m256 c = _mm256_broadcast_ss(w + r * ws + j);
      a[r][0] = _mm256_fmadd_ps(c, x0, a[r][0]);
      a[r][1] = _mm256_fmadd_ps(c, x1, a[r][1]);
    }
  }
  for (int r = 0; r < RR; ++r)
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + r * os + h * 8, a[r][h]);
}

template <int D>
struct Forward {
  static constexpr int R = 4 * G, JB = 64;        // query rows per block (in groups of G); keys per P·V block
  int64_t Lk, keys;                               // keys padded to 16
  std::vector<float> kt, vr, s, qc, ob;           // kt [keys/8][D][8], vr [Lk][D], s [R][keys] scores, then P;
                                                  // qc [R][D] q · scale · log2e; ob [R][D] unnormalised output

  explicit Forward(int64_t lk)
      : Lk(lk), keys((lk + 15) / 16 * 16), kt(keys * D, 0.f), vr(lk * D), s(R * keys), qc(R * D), ob(R * D) {}

  /// n ≤ R query rows (stride qs) → out rows (stride os), lse. Each 16 keys of K serve every group of G rows, each
  /// JB keys of V too: K and V pass through L1 once per R rows.
  CT_AVX2 void rows(int n, const float *q, int64_t qs, float c, float *o, int64_t os, float *lse, int64_t ls) {
    for (int r = 0; r < R; ++r)
      for (int d = 0; d < D; ++d) qc[r * D + d] = r < n ? q[r * qs + d] * c : 0.f;
    const int groups = (n + G - 1) / G;
    __m256 m[R];
    for (int r = 0; r < R; ++r) m[r] = _mm256_set1_ps(-INFINITY);
    for (int64_t j0 = 0; j0 < keys; j0 += 16)
      for (int g = 0; g < groups; ++g) {
        __m256 acc[G][2];
        chunk_products<D, G>(qc.data() + G * g * D, D, kt.data() + j0 * D, acc);
        for (int h = 0; h < 2; ++h) {
          const bool partial = j0 + h * 8 + 8 > Lk;
          const __m256 valid = partial ? valid_keys(j0 + h * 8, Lk) : __m256{};
          for (int r = 0; r < G; ++r) {
            const __m256 x = partial ? _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), acc[r][h], valid) : acc[r][h];
            _mm256_storeu_ps(s.data() + (G * g + r) * keys + j0 + h * 8, x);
            m[G * g + r] = _mm256_max_ps(m[G * g + r], x);
          }
        }
      }
    float inv[R];
    for (int r = 0; r < n; ++r) {
      const float mx = hmax(m[r]);
      float *sr = s.data() + r * keys;
      const __m256 vm = _mm256_set1_ps(mx);
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      for (int64_t j = 0; j < keys; j += 16) {
        const __m256 e0 = exp2_8(_mm256_sub_ps(_mm256_loadu_ps(sr + j), vm));
        const __m256 e1 = exp2_8(_mm256_sub_ps(_mm256_loadu_ps(sr + j + 8), vm));
        acc0 = _mm256_add_ps(acc0, e0);
        acc1 = _mm256_add_ps(acc1, e1);
        _mm256_storeu_ps(sr + j, e0);
        _mm256_storeu_ps(sr + j + 8, e1);
      }
      const float sum = hsum(_mm256_add_ps(acc0, acc1));
      inv[r] = 1.f / sum;
      lse[r * ls] = (mx + std::log2(sum)) / log2e;
    }
    for (int64_t j0 = 0; j0 < Lk; j0 += JB)
      for (int g = 0; g < groups; ++g)
        for (int d = 0; d < D; d += 16)
          weighted_rows<D, G>(s.data() + G * g * keys + j0, keys, vr.data() + j0 * D + d,
                              std::min<int64_t>(JB, Lk - j0), ob.data() + G * g * D + d, D, j0 > 0);
    for (int r = 0; r < n; ++r)
      for (int d = 0; d < D; d += 8)
        _mm256_storeu_ps(o + r * os + d, _mm256_mul_ps(_mm256_loadu_ps(ob.data() + r * D + d), _mm256_set1_ps(inv[r])));
  }
};

template <int D>
void forward_heads(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, at::Tensor &out,
                   at::Tensor &lse) {
  const int64_t H = q.size(1), Lq = q.size(2), Lk = k.size(2);
  const float c = static_cast<float>(scale) * log2e;
  parallel_range(q.size(0) * H, [&](int64_t begin, int64_t end) {
    Forward<D> head(Lk);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto at_ = [&](const at::Tensor &t) { return t.data_ptr<float>() + b * t.stride(0) + h * t.stride(1); };
      pack_chunks<D>(at_(k), k.stride(2), Lk, head.kt.data());
      copy_rows<D>(at_(v), v.stride(2), Lk, head.vr.data());
      const float *qh = at_(q);
      float *oh = at_(out), *lh = at_(lse);
      const int64_t qs = q.stride(2), os = out.stride(2), ls = lse.stride(2);
      for (int64_t i = 0; i < Lq; i += Forward<D>::R)
        head.rows(static_cast<int>(std::min<int64_t>(Forward<D>::R, Lq - i)), qh + i * qs, qs, c, oh + i * os, os,
                  lh + i * ls, ls);
    }
  });
}

template <int D>
struct Backward {
  static constexpr int R = 4 * G, KB = 48;        // query rows, keys per tile (KB: a multiple of 16 and of G)
  int64_t Lq, Lk, rows, keys;                     // padded to R, KB
  std::vector<float> kt, vt, kr, qr, dor, delta, lse2, dq, dkb, dvb;   // row copies zero padded; dkb, dvb [KB][D]

  Backward(int64_t lq, int64_t lk)
      : Lq(lq), Lk(lk), rows((lq + R - 1) / R * R), keys((lk + KB - 1) / KB * KB), kt(keys * D, 0.f), vt(keys * D, 0.f),
        kr(keys * D, 0.f), qr(rows * D, 0.f), dor(rows * D, 0.f), delta(rows), lse2(rows), dq(rows * D), dkb(KB * D),
        dvb(KB * D) {}

  CT_AVX2 void run(const float *q, int64_t qs, const float *k, int64_t ks, const float *v, int64_t vs, const float *o,
                   int64_t os, const float *go, int64_t gs, const float *lse, int64_t ls, float scale, float *dqo,
                   int64_t dqs, float *dko, int64_t dks, float *dvo, int64_t dvs) {
    std::fill(dq.begin(), dq.end(), 0.f);   // padding stays zero: every head has the same Lq, Lk
    pack_chunks<D>(k, ks, Lk, kt.data());
    pack_chunks<D>(v, vs, Lk, vt.data());
    copy_rows<D>(k, ks, Lk, kr.data());
    copy_rows<D>(q, qs, Lq, qr.data());
    copy_rows<D>(go, gs, Lq, dor.data());
    row_terms<D>(go, gs, o, os, lse, ls, Lq, rows, delta.data(), lse2.data(), [](float x) { return x; });
    const __m256 c = _mm256_set1_ps(scale * log2e);
    alignas(32) float p[R][KB], ds[R][KB];
    for (int64_t kb = 0; kb < keys; kb += KB) {
      std::fill(dkb.begin(), dkb.end(), 0.f); std::fill(dvb.begin(), dvb.end(), 0.f);
      for (int64_t rb = 0; rb < rows; rb += R) {
        for (int j0 = 0; j0 < KB; j0 += 16) {
          __m256 valid[2];
          for (int h = 0; h < 2; ++h) valid[h] = valid_keys(kb + j0 + h * 8, Lk);
          for (int r0 = 0; r0 < R; r0 += G) {
            __m256 a[G][2];
            chunk_products<D, G>(qr.data() + (rb + r0) * D, D, kt.data() + (kb + j0) * D, a);   // S = Q Kᵀ
            for (int r = 0; r < G; ++r)
              for (int h = 0; h < 2; ++h)
                _mm256_store_ps(&p[r0 + r][j0 + h * 8], _mm256_and_ps(valid[h], exp2_8(_mm256_fmsub_ps(
                                    a[r][h], c, _mm256_set1_ps(lse2[rb + r0 + r])))));
            chunk_products<D, G>(dor.data() + (rb + r0) * D, D, vt.data() + (kb + j0) * D, a);  // dP = dO Vᵀ
            for (int r = 0; r < G; ++r)
              for (int h = 0; h < 2; ++h)
                _mm256_store_ps(&ds[r0 + r][j0 + h * 8], _mm256_mul_ps(_mm256_load_ps(&p[r0 + r][j0 + h * 8]),
                                    _mm256_sub_ps(a[r][h], _mm256_set1_ps(delta[rb + r0 + r]))));
          }
        }
        for (int r0 = 0; r0 < R; r0 += G)                                        // dQ += dS K_blk
          for (int d = 0; d < D; d += 16)
            weighted_rows<D, G>(&ds[r0][0], KB, kr.data() + kb * D + d, KB, dq.data() + (rb + r0) * D + d, D, true);
        accumulate_keys(p, dor.data() + rb * D, dvb.data());                    // dV_blk += Pᵀ dO
        accumulate_keys(ds, qr.data() + rb * D, dkb.data());                    // dK_blk += dSᵀ Q
      }
      for (int64_t j = kb; j < std::min<int64_t>(kb + KB, Lk); ++j)
        for (int d = 0; d < D; ++d) {
          dko[j * dks + d] = dkb[(j - kb) * D + d] * scale;
          dvo[j * dvs + d] = dvb[(j - kb) * D + d];
        }
    }
    for (int64_t i = 0; i < Lq; ++i)
      for (int d = 0; d < D; ++d) dqo[i * dqs + d] = dq[i * D + d] * scale;
  }

  /// acc[j][:] += Σ_r w[r][j] · x[r][:] for the KB keys of a tile (x: R rows of D).
  CT_AVX2 static void accumulate_keys(const float (*w)[KB], const float *x, float *acc) {
    for (int j0 = 0; j0 < KB; j0 += G)
      for (int d = 0; d < D; d += 16) {
        __m256 a[G][2];
        for (int j = 0; j < G; ++j)
          for (int h = 0; h < 2; ++h) a[j][h] = _mm256_loadu_ps(acc + (j0 + j) * D + d + h * 8);
        for (int r = 0; r < R; ++r) {
          const __m256 x0 = _mm256_loadu_ps(x + r * D + d), x1 = _mm256_loadu_ps(x + r * D + d + 8);
          for (int j = 0; j < G; ++j) {
            const __m256 c = _mm256_broadcast_ss(&w[r][j0 + j]);
            a[j][0] = _mm256_fmadd_ps(c, x0, a[j][0]);
            a[j][1] = _mm256_fmadd_ps(c, x1, a[j][1]);
          }
        }
        for (int j = 0; j < G; ++j)
          for (int h = 0; h < 2; ++h) _mm256_storeu_ps(acc + (j0 + j) * D + d + h * 8, a[j][h]);
      }
  }
};

template <int D>
void backward_heads(const at::Tensor &go, const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                    const at::Tensor &o, const at::Tensor &lse, double scale, at::Tensor &dq, at::Tensor &dk,
                    at::Tensor &dv) {
  const int64_t H = q.size(1), Lq = q.size(2), Lk = k.size(2);
  parallel_range(q.size(0) * H, [&](int64_t begin, int64_t end) {
    Backward<D> head(Lq, Lk);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto at_ = [&](const at::Tensor &t) { return t.data_ptr<float>() + b * t.stride(0) + h * t.stride(1); };
      head.run(at_(q), q.stride(2), at_(k), k.stride(2), at_(v), v.stride(2), at_(o), o.stride(2), at_(go),
               go.stride(2), at_(lse), lse.stride(2), static_cast<float>(scale), at_(dq), dq.stride(2), at_(dk),
               dk.stride(2), at_(dv), dv.stride(2));
    }
  });
}
}  // namespace

void forward_fp32(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale, at::Tensor &out,
                  at::Tensor &lse) {
  switch (q.size(3)) {
    case 32: forward_heads<32>(q, k, v, scale, out, lse); break;
    case 64: forward_heads<64>(q, k, v, scale, out, lse); break;
    case 80: forward_heads<80>(q, k, v, scale, out, lse); break;
    default: forward_heads<128>(q, k, v, scale, out, lse); break;
  }
}

void backward_fp32(const at::Tensor &go, const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                   const at::Tensor &out, const at::Tensor &lse, double scale, at::Tensor &dq, at::Tensor &dk,
                   at::Tensor &dv) {
  switch (q.size(3)) {
    case 32: backward_heads<32>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
    case 64: backward_heads<64>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
    case 80: backward_heads<80>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
    default: backward_heads<128>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
  }
}
}  // namespace stmae::cpu::attn
