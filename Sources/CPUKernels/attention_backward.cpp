// Backward of the fused bf16 attention (FlashAttention-2 order, per head): for each block of KB keys, every block of
// R query rows recomputes P = exp(S − lse) from the saved log-sum-exp, then
//   dP = dO Vᵀ,  dS = P ∘ (dP − Δ),  Δ = rowsum(dO ∘ O),
//   dV_blk += Pᵀ dO,  dK_blk += dSᵀ Q · scale,  dQ += dS K · scale  (dQ accumulated in fp32 over key blocks).
// All five products are vdpbf16ps on operands packed once per head: K and V with pairs along D (for S and dP), K with
// pairs of keys (dQ), Q and dO with pairs of rows (dK, dV). P and dS go to bf16 like libtorch's kernel.
#include "attention_kernels.h"
#include <cmath>
#include <cstring>
#include <vector>

namespace stmae::cpu::attn {
namespace {

template <int D>
struct HeadBackward {
  static constexpr int P = D / 2, V = D / 16;
  static constexpr int R = 16, KB = 32, RS = 8;    // rows, keys per tile; rows per S/dP pass
  static constexpr int G = V == 2 ? 8 : 16 / V;    // rows (dQ) or keys (dK, dV) per register group: G·V ≤ 16

  int64_t Lq, Lk, rows, keys;                      // padded to R, KB
  std::vector<uint32_t> kp, vk, k2, q2, do2;       // see file comment; zero padded
  std::vector<float> delta, lse2, dq, dkb, dvb;    // dq [rows][D]; dkb, dvb [KB][D]
  std::vector<uint16_t> zero;                      // a zero row for padded queries

  HeadBackward(int64_t lq, int64_t lk)
      : Lq(lq), Lk(lk), rows((lq + R - 1) / R * R), keys((lk + KB - 1) / KB * KB), kp(keys * P), vk(keys * P),
        k2(keys * P), q2(rows * P), do2(rows * P), delta(rows), lse2(rows), dq(rows * D), dkb(KB * D), dvb(KB * D),
        zero(D, 0) {}

  CT_AVX512BF16 void run(const uint16_t *q, int64_t qs, const uint16_t *k, int64_t ks, const uint16_t *v, int64_t vs,
                         const uint16_t *o, int64_t os, const uint16_t *go, int64_t gs, const float *lse, int64_t ls,
                         float scale, uint16_t *dqo, int64_t dqs, uint16_t *dko, int64_t dks, uint16_t *dvo,
                         int64_t dvs) {
    std::fill(dq.begin(), dq.end(), 0.f);   // the packed operands' padding stays zero: every head has the same Lq, Lk
    pack_rows_by_dim<D>(k, ks, Lk, kp.data());
    pack_rows_by_dim<D>(v, vs, Lk, vk.data());
    pack_row_pairs<D>(k, ks, Lk, k2.data());
    pack_row_pairs<D>(q, qs, Lq, q2.data());
    pack_row_pairs<D>(go, gs, Lq, do2.data());
    row_terms<D>(go, gs, o, os, lse, ls, Lq, rows, delta.data(), lse2.data(), bf);
    const float c = scale * log2e;
    alignas(64) uint16_t dsr[R][KB];               // dS, row-major bf16 (pairs of keys for dQ)
    alignas(64) uint32_t pt[R / 2][KB], dst[R / 2][KB];   // P, dS with pairs of rows (for dV, dK)
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                                6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t kb = 0; kb < keys; kb += KB) {
      std::fill(dkb.begin(), dkb.end(), 0.f); std::fill(dvb.begin(), dvb.end(), 0.f);
      const uint32_t *k0 = kp.data() + kb * P, *v0 = vk.data() + kb * P;
      for (int64_t rb = 0; rb < rows; rb += R) {
        // S and dP for RS rows × KB keys (two chunks of 16) at a time, then P and dS.
        alignas(64) float pf[R][KB];               // P, fp32
        for (int hr = 0; hr < R; hr += RS) {
          const uint32_t *qr[RS], *gr[RS];
          for (int r = 0; r < RS; ++r) {
            const bool in = rb + hr + r < Lq;
            qr[r] = reinterpret_cast<const uint32_t *>(in ? q + (rb + hr + r) * qs : zero.data());
            gr[r] = reinterpret_cast<const uint32_t *>(in ? go + (rb + hr + r) * gs : zero.data());
          }
          {
            __m512 s[RS][2];
            row_products(qr, k0, s);                 // S = Q Kᵀ
            for (int h = 0; h < 2; ++h) {
              const int64_t j0 = kb + h * 16;
              const __mmask16 valid = key_mask(j0, Lk);
              for (int r = 0; r < RS; ++r)
                s[r][h] = _mm512_maskz_mov_ps(
                    valid, exp2_ps(_mm512_fmsub_ps(s[r][h], _mm512_set1_ps(c), _mm512_set1_ps(lse2[rb + hr + r]))));
              for (int r = 0; r < RS; ++r) _mm512_store_ps(&pf[hr + r][h * 16], s[r][h]);
              for (int rp = 0; rp < RS / 2; ++rp)
                _mm512_store_si512(&pt[hr / 2 + rp][h * 16], row_pairs(interleave, s[2 * rp][h], s[2 * rp + 1][h]));
            }
          }
          {
            __m512 g[RS][2];
            row_products(gr, v0, g);                 // dP = dO Vᵀ
            for (int h = 0; h < 2; ++h) {
              for (int r = 0; r < RS; ++r) {
                g[r][h] = _mm512_mul_ps(_mm512_load_ps(&pf[hr + r][h * 16]),
                                        _mm512_sub_ps(g[r][h], _mm512_set1_ps(delta[rb + hr + r])));
                _mm256_store_si256(reinterpret_cast<__m256i *>(&dsr[hr + r][h * 16]),
                                   (__m256i)_mm512_cvtneps_pbh(g[r][h]));
              }
              for (int rp = 0; rp < RS / 2; ++rp)
                _mm512_store_si512(&dst[hr / 2 + rp][h * 16], row_pairs(interleave, g[2 * rp][h], g[2 * rp + 1][h]));
            }
          }
        }
        // dQ[rows] += dS · K_blk
        for (int r0 = 0; r0 < R; r0 += G) {
          __m512 a[G][V];
          for (int r = 0; r < G; ++r)
            for (int d = 0; d < V; ++d) a[r][d] = _mm512_setzero_ps();
          for (int jp = 0; jp < KB / 2; ++jp) {
            __m512i kv[V];
            for (int d = 0; d < V; ++d) kv[d] = _mm512_loadu_si512(k2.data() + (kb / 2 + jp) * D + d * 16);
            for (int r = 0; r < G; ++r) {
              const uint32_t pr = reinterpret_cast<const uint32_t *>(dsr[r0 + r])[jp];
              for (int d = 0; d < V; ++d) a[r][d] = dp(a[r][d], pr, kv[d]);
            }
          }
          for (int r = 0; r < G; ++r) {
            float *row = dq.data() + (rb + r0 + r) * D;
            for (int d = 0; d < V; ++d)
              _mm512_storeu_ps(row + d * 16, _mm512_add_ps(_mm512_loadu_ps(row + d * 16), a[r][d]));
          }
        }
        // dV_blk += Pᵀ dO, dK_blk += dSᵀ Q
        accumulate_keys(pt, do2.data() + rb / 2 * D, dvb.data());
        accumulate_keys(dst, q2.data() + rb / 2 * D, dkb.data());
      }
      for (int64_t j = kb; j < std::min(kb + KB, Lk); ++j)
        for (int d = 0; d < D; ++d) {
          dko[j * dks + d] = to_bf(dkb[(j - kb) * D + d] * scale);
          dvo[j * dvs + d] = to_bf(dvb[(j - kb) * D + d]);
        }
    }
    for (int64_t i = 0; i < Lq; ++i)
      for (int d = 0; d < D; ++d) dqo[i * dqs + d] = to_bf(dq[i * D + d] * scale);
  }

  /// acc[r][h] = rows[r] · (keys h·16 … h·16+15 of a block packed with pairs along D), for RS rows and 2 chunks.
  CT_AVX512BF16 static void row_products(const uint32_t *const *rows, const uint32_t *packed, __m512 (&acc)[RS][2]) {
    for (int r = 0; r < RS; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int e = 0; e < P; ++e) {
      const __m512i a = _mm512_loadu_si512(packed + e * 16), b = _mm512_loadu_si512(packed + P * 16 + e * 16);
      for (int r = 0; r < RS; ++r) {
        acc[r][0] = dp(acc[r][0], rows[r][e], a);
        acc[r][1] = dp(acc[r][1], rows[r][e], b);
      }
    }
  }

  /// 16 bf16 pairs (lo[t], hi[t]) of two rows' fp32 values.
  CT_AVX512BF16 static __m512i row_pairs(__m512i interleave, __m512 lo, __m512 hi) {
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512((__m256i)_mm512_cvtneps_pbh(lo)),
                                            (__m256i)_mm512_cvtneps_pbh(hi), 1);
    return _mm512_permutexvar_epi16(interleave, both);
  }

  /// acc[j][:] += Σ_rp w[rp][j] · x[rp][:] for the KB keys of a tile (w: pairs of rows, x: row pairs [R/2][D]).
  CT_AVX512BF16 static void accumulate_keys(const uint32_t (*w)[KB], const uint32_t *x, float *acc) {
    for (int j0 = 0; j0 < KB; j0 += G) {
      __m512 a[G][V];
      for (int j = 0; j < G; ++j)
        for (int d = 0; d < V; ++d) a[j][d] = _mm512_loadu_ps(acc + (j0 + j) * D + d * 16);
      for (int rp = 0; rp < R / 2; ++rp) {
        __m512i xv[V];
        for (int d = 0; d < V; ++d) xv[d] = _mm512_loadu_si512(x + rp * D + d * 16);
        for (int j = 0; j < G; ++j)
          for (int d = 0; d < V; ++d) a[j][d] = dp(a[j][d], w[rp][j0 + j], xv[d]);
      }
      for (int j = 0; j < G; ++j)
        for (int d = 0; d < V; ++d) _mm512_storeu_ps(acc + (j0 + j) * D + d * 16, a[j][d]);
    }
  }

  static float bf(uint16_t x) {
    uint32_t u = static_cast<uint32_t>(x) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static uint16_t to_bf(float f) { return c10::BFloat16(f).x; }
};

template <int D>
void backward_heads(const at::Tensor &go, const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                    const at::Tensor &o, const at::Tensor &lse, double scale, at::Tensor &dq, at::Tensor &dk,
                    at::Tensor &dv) {
  const int64_t H = q.size(1), Lq = q.size(2), Lk = k.size(2);
  auto ptr = [](const at::Tensor &t) { return reinterpret_cast<uint16_t *>(t.data_ptr()); };
  parallel_range(q.size(0) * H, [&](int64_t begin, int64_t end) {
    HeadBackward<D> head(Lq, Lk);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto at_ = [&](const at::Tensor &t) { return ptr(t) + b * t.stride(0) + h * t.stride(1); };
      head.run(at_(q), q.stride(2), at_(k), k.stride(2), at_(v), v.stride(2), at_(o), o.stride(2), at_(go),
               go.stride(2), lse.data_ptr<float>() + b * lse.stride(0) + h * lse.stride(1), lse.stride(2),
               static_cast<float>(scale), at_(dq), dq.stride(2), at_(dk), dk.stride(2), at_(dv), dv.stride(2));
    }
  });
}
}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor> fused_backward(const at::Tensor &grad_out, const at::Tensor &q,
                                                              const at::Tensor &k, const at::Tensor &v,
                                                              const at::Tensor &out, const at::Tensor &lse,
                                                              double scale) {
  // grad_out may arrive in any layout; the kernel reads rows of D contiguous, even-aligned elements.
  auto go = grad_out.stride(3) == 1 && grad_out.stride(2) % 2 == 0 && grad_out.stride(1) % 2 == 0 &&
                    grad_out.stride(0) % 2 == 0 && reinterpret_cast<uintptr_t>(grad_out.data_ptr()) % 4 == 0
                ? grad_out
                : grad_out.transpose(1, 2).contiguous().transpose(1, 2);
  TORCH_CHECK(go.scalar_type() == q.scalar_type(), "fused attention backward: ", q.scalar_type(),
              " gradient expected, got ", go.scalar_type());
  auto like = [](const at::Tensor &t) {
    return at::empty({t.size(0), t.size(2), t.size(1), t.size(3)}, t.options()).transpose(1, 2);
  };
  auto dq = like(q), dk = like(k), dv = like(v);
  if (q.scalar_type() == at::kFloat) {
    backward_fp32(go, q, k, v, out, lse, scale, dq, dk, dv);
    return {dq, dk, dv};
  }
  switch (q.size(3)) {
    case 32: backward_heads<32>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
    case 64: backward_heads<64>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
    default: backward_heads<128>(go, q, k, v, out, lse, scale, dq, dk, dv); break;
  }
  return {dq, dk, dv};
}
}  // namespace stmae::cpu::attn
