// The bf16 ⇄ fp32 conversions of the widened bf16 linears (linear.cpp): one pass each, split across libtorch's
// threads, AVX2 where the CPU has it. Rounding is libtorch's (c10::BFloat16): round to nearest even, NaN → 0x7FC0.
// Also the CPU check of the shim's bf16 convolutions (native_bf16_conv).
#include "bf16_convert.h"
#include "cpu_kernels.h"
#include "parallel.h"
#include <atomic>
#include <immintrin.h>

namespace {
constexpr int64_t kChunk = 1 << 15;  // elements per parallel work unit

/// fp32 bits → the bits of the nearest bf16 (round to nearest even) in the upper half, lower half zero.
inline uint32_t rounded(uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc00000u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

#define CT_AVX2 __attribute__((target("avx2")))
CT_AVX2 inline __m256i rounded8(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))),
                                     _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
  const __m256 f = _mm256_castsi256_ps(u);
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7fc00000), _mm256_castps_si256(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)));
}
CT_AVX2 void widen_avx2(const uint16_t *s, uint32_t *d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + i), _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  for (; i < n; ++i) d[i] = static_cast<uint32_t>(s[i]) << 16;
}
CT_AVX2 void round_avx2(const uint32_t *s, uint32_t *d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + i),
                        rounded8(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(s + i))));
  for (; i < n; ++i) d[i] = rounded(s[i]);
}
CT_AVX2 void narrow_avx2(const uint32_t *s, uint16_t *d, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = _mm256_srli_epi32(rounded8(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(s + i))), 16);
    const __m256i b = _mm256_srli_epi32(rounded8(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(s + i + 8))), 16);
    // packus interleaves the 128-bit lanes (a0-3 b0-3 a4-7 b4-7); the permute restores the order.
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8));
  }
  for (; i < n; ++i) d[i] = static_cast<uint16_t>(rounded(s[i]) >> 16);
}

std::atomic<bool> g_simd{true};
/// Whether the AVX2 kernels run: the CPU has AVX2 and set_convert_simd has not turned them off.
bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has && g_simd.load(std::memory_order_relaxed);
}

/// A contiguous fp32 tensor of t's shape: a new one, or the first t.numel() elements of `into`.
at::Tensor destination(const at::Tensor &t, const at::Tensor &into) {
  if (!into.defined()) return at::empty(t.sizes(), t.options().dtype(at::kFloat));
  TORCH_CHECK(into.scalar_type() == at::kFloat && into.is_contiguous() && into.numel() >= t.numel(),
              "bf16 conversion: destination of ", into.numel(), " fp32 elements for ", t.numel());
  return into.flatten().slice(0, 0, t.numel()).view(t.sizes());
}

/// f(begin, end) over [0, n) in chunks split across libtorch's threads.
template <class F>
void chunked(int64_t n, F f) {
  stmae::cpu::parallel_range((n + kChunk - 1) / kChunk, [&](int64_t c0, int64_t c1) {
    const int64_t lo = c0 * kChunk, hi = std::min(c1 * kChunk, n);
    f(lo, hi - lo);
  });
}

/// d[i] = one(s[i]) over src (contiguous) into out: the AVX2 kernel `avx` on each chunk where the CPU has it.
template <class S, class D, class One>
void convert(const at::Tensor &src, const at::Tensor &out, void (*avx)(const S *, D *, int64_t), One one) {
  const auto *s = reinterpret_cast<const S *>(src.data_ptr());
  auto *d = reinterpret_cast<D *>(out.data_ptr());
  chunked(src.numel(), [&](int64_t i, int64_t n) {
    if (has_avx2()) return avx(s + i, d + i, n);
    for (int64_t j = i; j < i + n; ++j) d[j] = one(s[j]);
  });
}
}  // namespace

namespace stmae::cpu::bf16 {
at::Tensor widen(const at::Tensor &t, const at::Tensor &into) {
  TORCH_CHECK(t.scalar_type() == at::kBFloat16, "widen: expected bf16, got ", t.scalar_type());
  const auto src = t.contiguous();
  auto out = destination(t, into);
  convert<uint16_t, uint32_t>(src, out, widen_avx2, [](uint16_t v) { return static_cast<uint32_t>(v) << 16; });
  return out;
}

at::Tensor rounded_copy(const at::Tensor &t, const at::Tensor &into) {
  TORCH_CHECK(t.scalar_type() == at::kFloat, "rounded_copy: expected fp32, got ", t.scalar_type());
  const auto src = t.contiguous();
  auto out = destination(t, into);
  convert<uint32_t, uint32_t>(src, out, round_avx2, rounded);
  return out;
}

at::Tensor &round_(at::Tensor &t) {
  TORCH_CHECK(t.scalar_type() == at::kFloat && t.is_contiguous(), "round_: expected contiguous fp32");
  rounded_copy(t, t);  // element i is read before it is written
  return t;
}

at::Tensor narrow(const at::Tensor &t, const at::Tensor &into) {
  TORCH_CHECK(t.scalar_type() == at::kFloat, "narrow: expected fp32, got ", t.scalar_type());
  TORCH_CHECK(!into.defined() ||
                  (into.scalar_type() == at::kBFloat16 && into.is_contiguous() && into.numel() == t.numel()),
              "narrow: destination of ", into.numel(), " bf16 elements for ", t.numel());
  const auto src = t.contiguous();
  auto out = into.defined() ? into : at::empty(t.sizes(), t.options().dtype(at::kBFloat16));
  convert<uint32_t, uint16_t>(src, out, narrow_avx2,
                              [](uint32_t v) { return static_cast<uint16_t>(rounded(v) >> 16); });
  return out;
}

at::Tensor values(const at::Tensor &t, const at::Tensor &into) {
  return t.scalar_type() == at::kBFloat16 ? widen(t, into) : rounded_copy(t, into);
}
}  // namespace stmae::cpu::bf16

bool stmae::cpu::set_convert_simd(bool on) { return g_simd.exchange(on); }
bool stmae::cpu::convert_simd() { return has_avx2(); }

bool stmae::cpu::native_bf16_conv() {
  static const bool has = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq");
  return has;
}
