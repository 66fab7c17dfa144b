#include "ctorch.h"
#include <ATen/ATen.h>
#include <string>
static thread_local std::string g_err;
struct ct_tensor_s { at::Tensor t; };
const char *ct_last_error(void) { return g_err.c_str(); }
int ct_zeros(const int64_t *shape, int ndim, int dtype, ct_tensor *out) {
  try { *out = new ct_tensor_s{at::zeros(at::IntArrayRef(shape, ndim), at::ScalarType(dtype))}; return 0; }
  catch (const std::exception &e) { g_err = e.what(); return 1; }
}
void ct_free(ct_tensor t) { delete t; }
