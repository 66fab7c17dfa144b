// Process supervision for data-parallel runs: a separate rendezvous-store connection (the heartbeat of
// `ProcessGroup`) and the parent-death signal of ranks started by `stmae launch`.
#include "dist_internal.h"

#include <sys/prctl.h>
#include <cerrno>
#include <csignal>

struct ctd_store_s {
  c10::intrusive_ptr<c10d::Store> store;
};

extern "C" {

int ctd_store_clone(ctd_group g, int64_t timeout_ms, ctd_store *out) {
  CT_TRY({
    TORCH_CHECK(g != nullptr, "null process group handle");
    auto s = g->store->clone();
    if (timeout_ms > 0) s->setTimeout(std::chrono::milliseconds(timeout_ms));
    *out = new ctd_store_s{s};
  });
}

int ctd_store_add(ctd_store s, const char *key, int64_t delta, int64_t *value) {
  CT_TRY({
    TORCH_CHECK(s != nullptr && key != nullptr, "null store or key");
    *value = s->store->add(std::string(key), delta);
  });
}

void ctd_store_free(ctd_store s) { delete s; }

int ctd_set_parent_death_signal(int sig) {
  return prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(sig)) == 0 ? 0 : errno;
}

}  // extern "C"
