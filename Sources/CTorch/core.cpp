// Runtime, generators, tensor lifetime, queries, creation and copies.
#include "internal.h"
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/version.h>
#include <cstring>
#include <malloc.h>

static thread_local std::string g_error;
void ct::set_error(const char *msg) { g_error = msg ? msg : "unknown error"; }
extern "C" {
const char *ct_last_error(void) { return g_error.c_str(); }
const char *ct_version(void) { return TORCH_VERSION; }
int ct_keep_freed_memory(void) {
  // blocks up to 32 MB from the heap instead of fresh mmaps; freed memory stays mapped for the next step
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) && mallopt(M_TRIM_THRESHOLD, 1 << 30) && mallopt(M_TOP_PAD, 512 << 20)
             ? 0
             : 1;
}
int ct_set_num_threads(int n) {
  CT_TRY(TORCH_CHECK(n > 0, "thread count must be positive, got ", n); at::set_num_threads(n))
}
int ct_get_num_threads(void) { return at::get_num_threads(); }
int ct_cuda_is_available(void) { return at::hasCUDA() ? 1 : 0; }
int ct_manual_seed(uint64_t seed) { CT_TRY(at::manual_seed(seed)) }

int ct_generator_new(uint64_t seed, ct_generator *out) {
  CT_TRY(*out = new ct_generator_s{at::make_generator<at::CPUGeneratorImpl>(seed)})
}
void ct_generator_free(ct_generator g) { delete g; }
int ct_generator_get_state(ct_generator g, ct_tensor *out) {
  CT_TRY(TORCH_CHECK(g, "null generator"); std::lock_guard<std::mutex> lock(g->g.mutex());
         *out = ct::wrap(g->g.get_state()))
}
int ct_generator_set_state(ct_generator g, ct_tensor state) {
  CT_TRY(TORCH_CHECK(g, "null generator"); std::lock_guard<std::mutex> lock(g->g.mutex()); g->g.set_state(ct::T(state)))
}

void ct_free(ct_tensor t) { delete t; }
int64_t ct_live_tensors(void) { return ct::live_tensors.load(std::memory_order_relaxed); }
int ct_dim(ct_tensor t) { return t ? static_cast<int>(t->t.dim()) : -1; }
int ct_shape(ct_tensor t, int64_t *out, int cap) {
  int n = static_cast<int>(t->t.dim());
  for (int i = 0; i < n && i < cap; ++i) out[i] = t->t.size(i);
  return n;
}
int ct_strides(ct_tensor t, int64_t *out, int cap) {
  int n = static_cast<int>(t->t.dim());
  for (int i = 0; i < n && i < cap; ++i) out[i] = t->t.stride(i);
  return n;
}
int64_t ct_numel(ct_tensor t) { return t->t.numel(); }
int ct_dtype(ct_tensor t) { return static_cast<int>(t->t.scalar_type()); }
int ct_device(ct_tensor t, int *type, int *index) {
  CT_TRY(auto d = ct::T(t).device(); *type = d.is_cpu() ? 0 : d.is_cuda() ? 1 : d.is_meta() ? 2 : 3; *index = d.index())
}
int ct_is_contiguous(ct_tensor t) { return t->t.is_contiguous() ? 1 : 0; }
int ct_defined(ct_tensor t) { return t && t->t.defined() ? 1 : 0; }
int ct_item_double(ct_tensor t, double *out) { CT_TRY(*out = ct::T(t).item<double>()) }
int ct_item_int64(ct_tensor t, int64_t *out) { CT_TRY(*out = ct::T(t).item<int64_t>()) }
int ct_same_storage(ct_tensor a, ct_tensor b) { return a->t.storage().is_alias_of(b->t.storage()) ? 1 : 0; }
int64_t ct_element_size(int dtype) {
  if (dtype < 0 || dtype >= static_cast<int>(at::ScalarType::NumOptions)) return -1;
  return static_cast<int64_t>(c10::elementSize(static_cast<at::ScalarType>(dtype)));
}

int ct_empty(const int64_t *s, int n, int dt, int dv, int di, ct_tensor *out) {
  CT_OUT(at::empty(ct::ints(s, n), ct::options(dt, dv, di)))
}
int ct_zeros(const int64_t *s, int n, int dt, int dv, int di, ct_tensor *out) {
  CT_OUT(at::zeros(ct::ints(s, n), ct::options(dt, dv, di)))
}
int ct_ones(const int64_t *s, int n, int dt, int dv, int di, ct_tensor *out) {
  CT_OUT(at::ones(ct::ints(s, n), ct::options(dt, dv, di)))
}
int ct_full(const int64_t *s, int n, double v, int dt, int dv, int di, ct_tensor *out) {
  CT_OUT(at::full(ct::ints(s, n), v, ct::options(dt, dv, di)))
}
int ct_randn(const int64_t *s, int n, int dt, ct_generator g, ct_tensor *out) {
  CT_OUT(at::randn(ct::ints(s, n), ct::gen(g), at::TensorOptions().dtype(ct::dtype(dt))))
}
int ct_rand(const int64_t *s, int n, int dt, ct_generator g, ct_tensor *out) {
  CT_OUT(at::rand(ct::ints(s, n), ct::gen(g), at::TensorOptions().dtype(ct::dtype(dt))))
}
int ct_randint(int64_t lo, int64_t hi, const int64_t *s, int n, ct_generator g, ct_tensor *out) {
  CT_OUT(at::randint(lo, hi, ct::ints(s, n), ct::gen(g), at::TensorOptions().dtype(at::kLong)))
}
int ct_randperm(int64_t n, ct_generator g, ct_tensor *out) {
  CT_OUT(at::randperm(n, ct::gen(g), at::TensorOptions().dtype(at::kLong)))
}
int ct_arange(double start, double end, double step, int dt, ct_tensor *out) {
  CT_OUT(at::arange(start, end, step, at::TensorOptions().dtype(ct::dtype(dt))))
}
int ct_linspace(double start, double end, int64_t steps, int dt, ct_tensor *out) {
  CT_OUT(at::linspace(start, end, steps, at::TensorOptions().dtype(ct::dtype(dt))))
}
int ct_from_blob(void *data, const int64_t *s, int n, int dt, void (*deleter)(void *), void *ctx, ct_tensor *out) {
  CT_TRY(
      auto del = [deleter, ctx](void *) { if (deleter) deleter(ctx); };
      *out = ct::wrap(at::from_blob(data, ct::ints(s, n), del, at::TensorOptions().dtype(ct::dtype(dt)))))
}
int ct_from_data(const void *data, size_t nbytes, const int64_t *s, int n, int dt, ct_tensor *out) {
  CT_TRY(
      auto t = at::empty(ct::ints(s, n), at::TensorOptions().dtype(ct::dtype(dt)));
      TORCH_CHECK(static_cast<size_t>(t.nbytes()) == nbytes, "byte count ", nbytes, " does not match shape ", t.sizes(),
                  " of ", t.scalar_type(), " (", t.nbytes(), " bytes)");
      if (nbytes) std::memcpy(t.data_ptr(), data, nbytes);
      *out = ct::wrap(std::move(t)))
}
int ct_copy_to_buffer(ct_tensor t, void *dst, size_t nbytes) {
  CT_TRY(
      auto c = ct::T(t).detach().to(at::kCPU).contiguous();
      TORCH_CHECK(static_cast<size_t>(c.nbytes()) == nbytes, "buffer of ", nbytes, " bytes for a tensor of ",
                  c.nbytes());
      if (nbytes) std::memcpy(dst, c.data_ptr(), nbytes))
}
void *ct_data_ptr(ct_tensor t) { return t->t.numel() ? t->t.data_ptr() : nullptr; }

int ct_to_dtype(ct_tensor t, int dt, ct_tensor *out) { CT_OUT(ct::T(t).to(ct::dtype(dt))) }
int ct_to_device(ct_tensor t, int dv, int di, ct_tensor *out) { CT_OUT(ct::T(t).to(ct::device(dv, di))) }
int ct_to_device_async(ct_tensor t, int dv, int di, int nb, ct_tensor *out) {
  CT_OUT(ct::T(t).to(ct::device(dv, di), /*non_blocking=*/nb != 0))
}
int ct_pin_memory(ct_tensor t, ct_tensor *out) { CT_OUT(ct::T(t).pin_memory()) }
int ct_is_pinned(ct_tensor t) {
  try {
    return t && t->t.defined() && t->t.device().is_cpu() && t->t.is_pinned() ? 1 : 0;
  } catch (...) {  // no accelerator in this libtorch: nothing is pinned
    return 0;
  }
}
int ct_rebind(ct_tensor t, ct_tensor src, int rg) {
  CT_TRY(TORCH_CHECK(t, "null tensor handle"); auto s = ct::T(src).detach();
         if (rg) s.set_requires_grad(true);
         t->t = std::move(s))
}
int ct_contiguous(ct_tensor t, ct_tensor *out) { CT_OUT(ct::T(t).contiguous()) }
int ct_clone(ct_tensor t, ct_tensor *out) { CT_OUT(ct::T(t).clone()) }
int ct_detach(ct_tensor t, ct_tensor *out) { CT_OUT(ct::T(t).detach()) }
int ct_alias(ct_tensor t, ct_tensor *out) { CT_OUT(ct::T(t)) }
int ct_copy_(ct_tensor dst, ct_tensor src) { CT_TRY(dst->t.copy_(ct::T(src))) }
int ct_fill_(ct_tensor t, double v) { CT_TRY(ct::T(t).fill_(v)) }
int ct_zero_(ct_tensor t) { CT_TRY(ct::T(t).zero_()) }
int ct_uniform_(ct_tensor t, double a, double b, ct_generator g) { CT_TRY(ct::T(t).uniform_(a, b, ct::gen(g))) }
int ct_normal_(ct_tensor t, double m, double s, ct_generator g) { CT_TRY(ct::T(t).normal_(m, s, ct::gen(g))) }
}
