// Fused bf16 attention for CPUs with AVX-512 BF16 (vdpbf16ps), head dims 32/64/128, no mask, no dropout.
// libtorch's CPU flash kernel runs far below the bf16 GEMM rate at small head dims (docs/performance.md, "Figures
// that were in code comments"). Here each head's K and V are packed once into vdpbf16ps pair layout,
// R query rows share every K/V load, and a row's scores stay in L1 (exact softmax in three passes, not online).
// The output and the log-sum-exp ([B, L, H] storage) are laid out like `_scaled_dot_product_flash_attention_for_cpu`'s;
// the backward is attention_backward.cpp; fp32 inputs take attention_fp32.cpp, and so do bf16 ones on AVX2 CPUs without
// AVX-512 BF16 (widened to fp32, output rounded to bf16). Everything else stays on libtorch's SDPA (ct_sdpa, CTorch).
#include "attention_kernels.h"
#include "cpu_kernels.h"
#include <ATen/record_function.h>
#include <cmath>
#include <immintrin.h>
#include <torch/csrc/autograd/custom_function.h>

using namespace stmae::cpu::attn;
using stmae::cpu::parallel_range;

namespace {

/// One (batch, head): q [Lq, D] (row stride qs), k/v [Lk, D], out [Lq, D] (row stride os), lse [Lq] (stride ls).
/// Elements are bf16 bit patterns.
template <int D>
struct Head {
  static constexpr int P = D / 2;                 // bf16 pairs per row
  static constexpr int R = D <= 64 ? 4 : 2;       // query rows per block (R · D/16 output accumulators)
  static constexpr int V = D / 16;                // zmm per output row

  int64_t Lk, chunks, keys;                       // keys = chunks · 16 (padded)
  std::vector<uint32_t> kp, vp;                   // kp [chunks][P][16], vp [keys/2][D]
  std::vector<float> s;                           // [R][keys] scores (scaled, log2 units)
  std::vector<uint16_t> p;                        // [R][keys] probabilities, bf16

  explicit Head(int64_t lk) : Lk(lk), chunks((lk + 15) / 16), keys(chunks * 16),
                              kp(chunks * P * 16, 0), vp(keys / 2 * D, 0), s(R * keys), p(R * keys, 0) {}

  void pack(const uint16_t *k, int64_t ks, const uint16_t *v, int64_t vs) {
    pack_rows_by_dim<D>(k, ks, Lk, kp.data());
    pack_row_pairs<D>(v, vs, Lk, vp.data());
  }

  /// Scores of `r` rows (r ≤ R) into s, returns per-row maxima.
  template <int RR>
  CT_AVX512BF16 void scores(const uint32_t *const *q, float c, float *mx) {
    __m512 m[RR];
    for (int r = 0; r < RR; ++r) m[r] = _mm512_set1_ps(-INFINITY);
    const __m512 vc = _mm512_set1_ps(c);
    for (int64_t ch = 0; ch < chunks; ch += 2) {
      const bool two = ch + 1 < chunks;
      __m512 a0[RR], a1[RR];
      for (int r = 0; r < RR; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
      const uint32_t *k0 = kp.data() + ch * P * 16, *k1 = k0 + P * 16;
      for (int e = 0; e < P; ++e) {
        const __m512i kv0 = _mm512_loadu_si512(k0 + e * 16);
        const __m512i kv1 = two ? _mm512_loadu_si512(k1 + e * 16) : _mm512_setzero_si512();
        for (int r = 0; r < RR; ++r) {
          a0[r] = dp(a0[r], q[r][e], kv0);
          a1[r] = dp(a1[r], q[r][e], kv1);
        }
      }
      for (int r = 0; r < RR; ++r) {
        float *sr = s.data() + r * keys + ch * 16;
        for (int h = 0; h < (two ? 2 : 1); ++h) {
          const int64_t j0 = (ch + h) * 16;
          const __mmask16 valid = key_mask(j0, Lk);
          const __m512 x = _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), valid, h ? a1[r] : a0[r], vc);
          _mm512_storeu_ps(sr + h * 16, x);
          m[r] = _mm512_max_ps(m[r], x);
        }
      }
    }
    for (int r = 0; r < RR; ++r) mx[r] = _mm512_reduce_max_ps(m[r]);
  }

  template <int RR>
  CT_AVX512BF16 void rows(const uint32_t *const *q, float scale, uint16_t *const *o, float *const *lse) {
    float mx[RR], sum[RR];
    scores<RR>(q, scale * log2e, mx);
    for (int r = 0; r < RR; ++r) {
      const float *sr = s.data() + r * keys;
      uint16_t *pr = p.data() + r * keys;
      const __m512 vm = _mm512_set1_ps(mx[r]);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t j = 0; j < keys; j += 16) {
        const __m512 e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(sr + j), vm));
        acc = _mm512_add_ps(acc, e);
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(pr + j), (__m256i)_mm512_cvtneps_pbh(e));
      }
      sum[r] = _mm512_reduce_add_ps(acc);
    }
    __m512 out[RR][V];
    for (int r = 0; r < RR; ++r)
      for (int d = 0; d < V; ++d) out[r][d] = _mm512_setzero_ps();
    const uint32_t *p32 = reinterpret_cast<const uint32_t *>(p.data());
    for (int64_t jp = 0; jp < keys / 2; ++jp) {
      __m512i vv[V];
      for (int d = 0; d < V; ++d) vv[d] = _mm512_loadu_si512(vp.data() + jp * D + d * 16);
      for (int r = 0; r < RR; ++r) {
        const uint32_t pp = p32[r * keys / 2 + jp];
        for (int d = 0; d < V; ++d) out[r][d] = dp(out[r][d], pp, vv[d]);
      }
    }
    for (int r = 0; r < RR; ++r) {
      const __m512 inv = _mm512_set1_ps(1.f / sum[r]);
      for (int d = 0; d < V; ++d)
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(o[r] + d * 16),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(out[r][d], inv)));
      *lse[r] = (mx[r] + std::log2(sum[r])) / log2e;
    }
  }
};

template <int D>
CT_AVX512BF16 void forward_heads(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale,
                                 at::Tensor &out, at::Tensor &lse) {
  const int64_t B = q.size(0), H = q.size(1), Lq = q.size(2), Lk = k.size(2);
  const auto *qd = reinterpret_cast<const uint16_t *>(q.data_ptr());
  const auto *kd = reinterpret_cast<const uint16_t *>(k.data_ptr());
  const auto *vd = reinterpret_cast<const uint16_t *>(v.data_ptr());
  auto *od = reinterpret_cast<uint16_t *>(out.data_ptr());
  float *ld = lse.data_ptr<float>();
  parallel_range(B * H, [&](int64_t begin, int64_t end) {
    Head<D> head(Lk);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      head.pack(kd + b * k.stride(0) + h * k.stride(1), k.stride(2),
                vd + b * v.stride(0) + h * v.stride(1), v.stride(2));
      const uint16_t *qh = qd + b * q.stride(0) + h * q.stride(1);
      uint16_t *oh = od + b * out.stride(0) + h * out.stride(1);
      float *lh = ld + b * lse.stride(0) + h * lse.stride(1);
      constexpr int R = Head<D>::R;
      const uint32_t *qr[R];
      uint16_t *orow[R];
      float *lr[R];
      int64_t i = 0;
      auto bind = [&](int n) {
        for (int r = 0; r < n; ++r) {
          qr[r] = reinterpret_cast<const uint32_t *>(qh + (i + r) * q.stride(2));
          orow[r] = oh + (i + r) * out.stride(2);
          lr[r] = lh + (i + r) * lse.stride(2);
        }
      };
      for (; i + R <= Lq; i += R) { bind(R); head.template rows<R>(qr, static_cast<float>(scale), orow, lr); }
      for (; i < Lq; ++i) { bind(1); head.template rows<1>(qr, static_cast<float>(scale), orow, lr); }
    }
  });
}

/// [B, H, L, D] CPU tensors of q's dtype with rows of D contiguous, equal batch and heads, D ∈ {32, 64, 128} (and 80
/// unless `native_bf16`: then also even strides, as pairs are read as 32-bit words).
bool layout_fits(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, bool native_bf16) {
  for (const auto *t : {&q, &k, &v}) {
    if (t->device().type() != at::kCPU || t->scalar_type() != q.scalar_type() || t->dim() != 4 || t->stride(3) != 1)
      return false;
    if (native_bf16 && (t->stride(2) % 2 || t->stride(1) % 2 || t->stride(0) % 2 ||
                        reinterpret_cast<uintptr_t>(t->data_ptr()) % 4))
      return false;
  }
  const int64_t D = q.size(3);
  return (D == 32 || D == 64 || D == 128 || (!native_bf16 && D == 80)) && k.size(3) == D && v.size(3) == D &&
         k.size(2) == v.size(2) && q.size(0) == k.size(0) && q.size(0) == v.size(0) && q.size(1) == k.size(1) &&
         q.size(1) == v.size(1) && k.size(2) > 0;
}

/// Whether a fused kernel takes these inputs as they are: bf16 on AVX-512 BF16 or fp32 on AVX2/FMA (`layout_fits`).
bool fused_eligible(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v) {
  const auto dt = q.scalar_type();
  const bool bf16 = dt == at::kBFloat16;
  if (bf16 ? !cpu_has_avx512bf16() : dt != at::kFloat || !cpu_has_avx2_fma()) return false;
  return layout_fits(q, k, v, bf16);
}

/// Whether bf16 inputs run the fp32 kernel on widened copies, output rounded to bf16: on AVX2/FMA CPUs without
/// AVX-512 BF16, where libtorch's bf16 attention runs its emulated bf16 GEMMs.
bool widened_eligible(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v) {
  return q.scalar_type() == at::kBFloat16 && !cpu_has_avx512bf16() && cpu_has_avx2_fma() && layout_fits(q, k, v, false);
}

/// (output [B, H, Lq, D] over [B, Lq, H, D] storage, logsumexp [B, H, Lq] over [B, Lq, H] storage).
std::tuple<at::Tensor, at::Tensor> fused_forward(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                                                 double scale) {
  const int64_t B = q.size(0), H = q.size(1), Lq = q.size(2), D = q.size(3);
  auto out = at::empty({B, Lq, H, D}, q.options()).transpose(1, 2);
  auto lse = at::empty({B, Lq, H}, q.options().dtype(at::kFloat)).transpose(1, 2);
  if (q.scalar_type() == at::kFloat) {
    forward_fp32(q, k, v, scale, out, lse);
    return {out, lse};
  }
  switch (D) {
    case 32: forward_heads<32>(q, k, v, scale, out, lse); break;
    case 64: forward_heads<64>(q, k, v, scale, out, lse); break;
    default: forward_heads<128>(q, k, v, scale, out, lse); break;
  }
  return {out, lse};
}

/// Autograd node: fused forward and backward (attention_backward.cpp). With `widen` (bf16 inputs that are
/// `widened_eligible`) the fp32 kernel runs on widened copies and the output is rounded to bf16; the bf16 inputs and
/// output are saved (half the memory of widened copies) and widened again for the backward, which then sees the
/// output as rounded.
struct FusedAttention : torch::autograd::Function<FusedAttention> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &q, const at::Tensor &k,
                            const at::Tensor &v, double scale, bool widen) {
    auto [out, lse] = run(q, k, v, scale, widen);
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["widen"] = widen;
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    const auto s = ctx->get_saved_variables();
    const bool widen = ctx->saved_data["widen"].toBool();
    const auto in = [widen](const at::Tensor &t) { return widen ? t.to(at::kFloat) : t; };
    const auto back = [widen](const at::Tensor &t) { return widen ? t.to(at::kBFloat16) : t; };
    auto [gq, gk, gv] = fused_backward(in(grads[0]), in(s[0]), in(s[1]), in(s[2]), in(s[3]), s[4],
                                       ctx->saved_data["scale"].toDouble());
    return {back(gq), back(gk), back(gv), at::Tensor(), at::Tensor()};
  }
  /// (output, logsumexp) of the fused kernel; with `widen`, of the fp32 kernel on widened copies, output in bf16.
  static std::tuple<at::Tensor, at::Tensor> run(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v,
                                                double scale, bool widen) {
    RECORD_FUNCTION("stmae::fused_attention", std::vector<c10::IValue>{});
    if (!widen) return fused_forward(q, k, v, scale);
    auto [out, lse] = fused_forward(q.to(at::kFloat), k.to(at::kFloat), v.to(at::kFloat), scale);
    return {out.to(at::kBFloat16), lse};
  }
};
}  // namespace

namespace stmae::cpu {
bool attention_available(at::ScalarType dtype) {
  return dtype == at::kFloat ? cpu_has_avx2_fma() : dtype == at::kBFloat16 && cpu_has_avx512bf16();
}

bool attention_preferred(at::ScalarType dtype) {
  static const bool amx = __builtin_cpu_supports("amx-bf16");
  return dtype != at::kFloat || !amx;
}

bool attention_takes(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v) {
  return fused_eligible(q, k, v) || widened_eligible(q, k, v);
}

at::Tensor attention(const at::Tensor &q, const at::Tensor &k, const at::Tensor &v, double scale) {
  const bool grad = at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  const bool widen = widened_eligible(q, k, v);
  return grad ? FusedAttention::apply(q, k, v, scale, widen) : std::get<0>(FusedAttention::run(q, k, v, scale, widen));
}
}  // namespace stmae::cpu
