// parallel_range on the OpenMP runtime libtorch loaded (parallel.h).
#include "parallel.h"
#include <ATen/Parallel.h>
#include <algorithm>
#include <dlfcn.h>
#include <exception>
#include <mutex>

namespace {
struct OmpRuntime {
  void (*parallel)(void (*)(void *), void *, unsigned, unsigned) = nullptr;
  int (*thread_num)() = nullptr;
  int (*num_threads)() = nullptr;
  OmpRuntime() {
    parallel = reinterpret_cast<decltype(parallel)>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    thread_num = reinterpret_cast<decltype(thread_num)>(dlsym(RTLD_DEFAULT, "omp_get_thread_num"));
    num_threads = reinterpret_cast<decltype(num_threads)>(dlsym(RTLD_DEFAULT, "omp_get_num_threads"));
    if (!thread_num || !num_threads) parallel = nullptr;
  }
};
struct Range {
  const std::function<void(int64_t, int64_t)> *f;
  int64_t n;
  std::exception_ptr error;
  std::mutex lock;
};
const OmpRuntime &omp() { static const OmpRuntime r; return r; }
}  // namespace

void stmae::cpu::parallel_range(int64_t n, const std::function<void(int64_t, int64_t)> &f) {
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), n);
  if (threads <= 1 || !omp().parallel || at::in_parallel_region()) { if (n > 0) f(0, n); return; }
  Range range{&f, n, nullptr, {}};
  omp().parallel(
      [](void *p) {
        auto &r = *static_cast<Range *>(p);
        const int64_t t = omp().thread_num(), nt = omp().num_threads();
        const int64_t begin = r.n * t / nt, end = r.n * (t + 1) / nt;
        try {
          if (begin < end) (*r.f)(begin, end);
        } catch (...) {
          std::lock_guard<std::mutex> g(r.lock);
          if (!r.error) r.error = std::current_exception();
        }
      },
      &range, static_cast<unsigned>(threads), 0);
  if (range.error) std::rethrow_exception(range.error);
}
