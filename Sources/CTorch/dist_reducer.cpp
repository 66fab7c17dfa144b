// DDP's gradient Reducer from c10d (the engine behind torch.nn.parallel.DistributedDataParallel): bucketed
// all-reduces launched from autograd hooks while backward is still running, averaged gradients written back at its end.
#include "dist_internal.h"

#include <torch/csrc/distributed/c10d/reducer.hpp>

struct ctd_reducer_s {
  std::shared_ptr<c10d::Reducer> reducer;
  size_t buckets;
};

extern "C" {

int ctd_reducer_new(ctd_group g, const ct_tensor *params, int n, int64_t bucket_bytes, int64_t first_bucket_bytes,
                    ctd_reducer *out) {
  CT_TRY({
    TORCH_CHECK(g != nullptr, "null process group handle");
    auto ps = ct::list(params, n);
    TORCH_CHECK(!ps.empty(), "DDP over no parameters");
    for (auto &p : ps) TORCH_CHECK(p.requires_grad() && p.is_leaf(), "DDP parameters must be leaves requiring grad");
    TORCH_CHECK(bucket_bytes > 0 && first_bucket_bytes > 0, "bucket sizes must be positive");
    std::vector<bool> sparse(ps.size(), false);
    // As DistributedDataParallel._ddp_init_helper: buckets by size over the parameters, then reversed so the last
    // parameters (whose gradients come first in backward) fill the first bucket.
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
        ps, {static_cast<size_t>(first_bucket_bytes), static_cast<size_t>(bucket_bytes)}, sparse);
    std::reverse(buckets.begin(), buckets.end());
    std::vector<int64_t> caps(limits.rbegin(), limits.rend());
    std::unordered_map<size_t, std::string> names;
    auto r = std::make_shared<c10d::Reducer>(ps, buckets, g->front, sparse, bucket_bytes,
                                             /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                                             names, first_bucket_bytes, /*skip_all_reduce_unused_params=*/false,
                                             /*use_python_reducer=*/false, caps);
    *out = new ctd_reducer_s{r, buckets.size()};
  });
}

int ctd_reducer_prepare(ctd_reducer r, const ct_tensor *outputs, int n) {
  CT_TRY({
    TORCH_CHECK(r != nullptr, "null reducer handle");
    r->reducer->prepare_for_backward(ct::list(outputs, n));
  });
}

int ctd_reducer_bucket_count(ctd_reducer r) { return r ? static_cast<int>(r->buckets) : 0; }

void ctd_reducer_free(ctd_reducer r) {
  try {
    delete r;  // ~Reducer removes its autograd hooks (may throw)
  } catch (...) {
  }
}

}  // extern "C"
