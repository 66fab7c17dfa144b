// Work split across libtorch's intra-op threads, for the kernels of this target.
#pragma once
#include <cstdint>
#include <functional>

namespace stmae::cpu {
/// f(begin, end) over [0, n) split statically across libtorch's intra-op threads. This target is compiled without
/// -fopenmp, so `at::parallel_for` (an inline `#pragma omp parallel` template) runs serially in it; this calls the
/// entry point gcc emits for that pragma, `GOMP_parallel`, of the libgomp libtorch loaded (its thread pool).
void parallel_range(int64_t n, const std::function<void(int64_t, int64_t)> &f);
}  // namespace stmae::cpu
