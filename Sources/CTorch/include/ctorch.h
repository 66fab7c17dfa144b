#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct ct_tensor_s *ct_tensor;
const char *ct_last_error(void);
int ct_zeros(const int64_t *shape, int ndim, int dtype, ct_tensor *out);
void ct_free(ct_tensor t);
#ifdef __cplusplus
}
#endif
