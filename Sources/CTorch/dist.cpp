// c10d behind the C ABI: TCPStore rendezvous + ProcessGroupGloo (or, in STMAE_NCCL builds, ProcessGroupNCCL:
// dist_nccl.cpp) collectives with flat (bucketed) buffers.
// Gloo's headers come from Debian's libgloo-dev (the wheel ships none); this file only holds pointers to Gloo objects
// made inside libtorch and never instantiates a Gloo class itself, so only c10d's layouts matter (checked by a test).
#include "dist_internal.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

struct ctd_work_s {
  c10::intrusive_ptr<c10d::Work> work;
  at::Tensor flat;                 // the buffer the collective ran on
  std::vector<at::Tensor> targets; // copy-back destinations when `flat` is a concatenation (else empty)
  double scale = 1.0;              // applied after completion (average)
  std::chrono::milliseconds timeout;
  bool finished = false;
};

namespace {
ctd_group G(ctd_group g) {
  TORCH_CHECK(g != nullptr, "null process group handle");
  return g;
}

/// An exception's message without libtorch's C++ backtrace.
std::string message(const std::exception &e) {
  if (auto c = dynamic_cast<const c10::Error *>(&e)) return c->what_without_backtrace();
  return e.what();
}

/// One contiguous buffer for `ts`: the tensor itself when possible, else a concatenation to copy back.
void flatten_into(ctd_work_s &w, const ct_tensor *ts, int n) {
  TORCH_CHECK(n > 0, "collective on an empty tensor list");
  auto list = ct::list(ts, n);
  for (auto &t : list) TORCH_CHECK(t.device().is_cpu() || t.device().is_cuda(), "unsupported device ", t.device());
  if (n == 1 && list[0].is_contiguous()) {
    w.flat = list[0].detach();
    return;
  }
  std::vector<at::Tensor> views;
  views.reserve(list.size());
  for (auto &t : list) {
    TORCH_CHECK(t.scalar_type() == list[0].scalar_type(), "bucket mixes dtypes ", t.scalar_type(), " and ",
                list[0].scalar_type());
    views.push_back(t.detach().reshape({-1}));
  }
  w.flat = at::cat(views);
  for (auto &t : list) w.targets.push_back(t.detach());
}
}  // namespace

extern "C" {

int ctd_gloo_available(void) { return STMAE_GLOO; }
int ctd_nccl_available(void) { return STMAE_NCCL; }

int ctd_group_new(const char *master_addr, int port, int rank, int world_size, int64_t timeout_ms, const char *iface,
                  const char *bind_host, ctd_group *out) {
  return ctd_group_new_backend(master_addr, port, rank, world_size, timeout_ms, iface, bind_host, 0, -1, out);
}

int ctd_group_new_backend(const char *master_addr, int port, int rank, int world_size, int64_t timeout_ms,
                          const char *iface, const char *bind_host, int backend, int cuda_device, ctd_group *out) {
  CT_TRY({
    TORCH_CHECK(backend == 0 || backend == 1, "unknown process group backend ", backend, " (0 gloo, 1 nccl)");
    TORCH_CHECK(backend != 0 || STMAE_GLOO, "this stmae was built without Gloo (no gloo headers at build time: "
                "install libgloo-dev and rebuild with scripts/build_ctorch.sh)");
    TORCH_CHECK(backend != 1 || STMAE_NCCL, "this stmae was built without NCCL (needs a CUDA libtorch and the NCCL "
                "headers: scripts/build_ctorch.sh with TORCH_DIR of a CUDA PyTorch)");
    TORCH_CHECK(backend != 1 || cuda_device >= 0, "NCCL needs a CUDA device index, got ", cuda_device);
    TORCH_CHECK(master_addr && *master_addr, "MASTER_ADDR is empty");
    TORCH_CHECK(port > 0 && port < 65536, "MASTER_PORT must be in 1...65535, got ", port);
    TORCH_CHECK(world_size >= 1, "WORLD_SIZE must be ≥ 1, got ", world_size);
    TORCH_CHECK(rank >= 0 && rank < world_size, "RANK must be in 0..<WORLD_SIZE (", world_size, "), got ", rank);
    TORCH_CHECK(timeout_ms > 0, "--dist_timeout must be positive");
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    so.isServer = rank == 0;
    so.numWorkers = static_cast<size_t>(world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    so.useLibUV = false;
    c10::intrusive_ptr<c10d::Store> store;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(std::string(master_addr), so);
    } catch (const std::exception &e) {
      TORCH_CHECK(false, "rendezvous at ", master_addr, ":", port, " (rank ", rank, " of ", world_size,
                  ", timeout ", timeout_ms, " ms) failed: ", message(e));
    }
    auto front = c10::make_intrusive<c10d::ProcessGroup>(store, rank, world_size);
    c10::intrusive_ptr<c10d::Backend> pg;
    if (backend == 1) {
      try {
        pg = ct::make_nccl(store, rank, world_size, timeout, cuda_device);
      } catch (const std::exception &e) {
        TORCH_CHECK(false, "NCCL init (rank ", rank, " of ", world_size, ", cuda:", cuda_device, ") failed: ",
                    message(e));
      }
      // CUDA tensors go to NCCL (DDP's Reducer talks to this front).
      front->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, pg);
      front->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    } else {
#if STMAE_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (iface && *iface)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
      else if (bind_host && *bind_host)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bind_host));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      opts->threads = 2;
      try {
        pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, opts);
      } catch (const std::exception &e) {
        TORCH_CHECK(false, "Gloo connect (rank ", rank, " of ", world_size, ", timeout ", timeout_ms, " ms) failed: ",
                    message(e));
      }
      // The c10d::ProcessGroup front (what DDP's Reducer talks to) with Gloo as its CPU backend.
      front->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, pg);
      front->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
#endif
    }
    *out = new ctd_group_s{store, pg, front, rank, world_size, timeout};
  });
}

void ctd_group_free(ctd_group g) { delete g; }
int ctd_group_rank(ctd_group g) { return g ? g->rank : -1; }
int ctd_group_size(ctd_group g) { return g ? g->size : 0; }

int ctd_allreduce(ctd_group g, const ct_tensor *ts, int n, int op, ctd_work *out) {
  CT_TRY({
    auto grp = G(g);
    TORCH_CHECK(op >= 0 && op <= 3, "unknown reduce op ", op);
    auto w = std::make_unique<ctd_work_s>();
    w->timeout = grp->timeout;
    flatten_into(*w, ts, n);
    c10d::AllreduceOptions o;
    o.reduceOp = op == 2 ? c10d::ReduceOp::MAX : op == 3 ? c10d::ReduceOp::MIN : c10d::ReduceOp::SUM;
    o.timeout = grp->timeout;
    if (op == 1) w->scale = 1.0 / grp->size;
    std::vector<at::Tensor> v{w->flat};
    w->work = grp->pg->allreduce(v, o);
    *out = w.release();
  });
}

int ctd_broadcast(ctd_group g, const ct_tensor *ts, int n, int root, ctd_work *out) {
  CT_TRY({
    auto grp = G(g);
    TORCH_CHECK(root >= 0 && root < grp->size, "broadcast root ", root, " outside 0..<", grp->size);
    auto w = std::make_unique<ctd_work_s>();
    w->timeout = grp->timeout;
    flatten_into(*w, ts, n);
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = grp->timeout;
    std::vector<at::Tensor> v{w->flat};
    w->work = grp->pg->broadcast(v, o);
    *out = w.release();
  });
}

int ctd_barrier(ctd_group g, ctd_work *out) {
  CT_TRY({
    auto grp = G(g);
    auto w = std::make_unique<ctd_work_s>();
    w->timeout = grp->timeout;
    c10d::BarrierOptions o;
    o.timeout = grp->timeout;
    w->work = grp->pg->barrier(o);
    *out = w.release();
  });
}

int ctd_wait(ctd_work w, int64_t timeout_ms) {
  CT_TRY({
    TORCH_CHECK(w != nullptr, "null work handle");
    if (w->finished) return 0;
    auto t = timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : w->timeout;
    TORCH_CHECK(w->work->wait(t), "collective was aborted");
    at::NoGradGuard ng;
    if (w->flat.defined() && w->scale != 1.0) w->flat.mul_(w->scale);
    if (!w->targets.empty()) {
      int64_t off = 0;
      for (auto &dst : w->targets) {
        auto n = dst.numel();
        dst.copy_(w->flat.narrow(0, off, n).view(dst.sizes()));
        off += n;
      }
    }
    w->finished = true;
  });
}

void ctd_work_free(ctd_work w) { delete w; }

int ctd_abi_sizes(int64_t *process_group_gloo, int64_t *gloo_options, int64_t *tcp_store_options) {
  CT_TRY({
#if STMAE_GLOO
    *process_group_gloo = sizeof(c10d::ProcessGroupGloo);
    *gloo_options = sizeof(c10d::ProcessGroupGloo::Options);
#else
    *process_group_gloo = *gloo_options = 0;
#endif
    *tcp_store_options = sizeof(c10d::TCPStoreOptions);
  });
}

}  // extern "C"

#if !STMAE_NCCL
c10::intrusive_ptr<c10d::Backend> ct::make_nccl(const c10::intrusive_ptr<c10d::Store> &, int, int,
                                                std::chrono::milliseconds, int) {
  TORCH_CHECK(false, "this stmae was built without NCCL");
}
#endif
