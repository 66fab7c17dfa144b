// ctorch_dist: c10d (TCPStore + ProcessGroupGloo) behind the ctorch C ABI conventions (0 = ok, else ct_last_error()).
//
// A group is a TCP rendezvous store (rank 0 serves it at master_addr:port) plus a Gloo process group. Collectives are
// asynchronous: each returns a work handle; `ctd_wait` blocks until it is done (or throws the peer/timeout error) and
// then finishes it (averaging, copy-back of flattened buffers). Every work handle must be freed with `ctd_work_free`.
#pragma once
#include "ctorch.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct ctd_group_s *ctd_group;
typedef struct ctd_work_s *ctd_work;

/// 1 if this libtorch has the Gloo backend.
int ctd_gloo_available(void);
/// 1 if this shim was built with c10d's NCCL backend (a CUDA libtorch; CMake STMAE_NCCL).
int ctd_nccl_available(void);
/// Joins a group of `world_size` processes. `timeout_ms` bounds the rendezvous and every collective.
/// `iface` (may be NULL/empty): network interface for Gloo (GLOO_SOCKET_IFNAME); else `bind_host` is resolved.
int ctd_group_new(const char *master_addr, int port, int rank, int world_size, int64_t timeout_ms, const char *iface,
                  const char *bind_host, ctd_group *out);
/// `ctd_group_new` with a choice of backend: 0 Gloo (CPU tensors), 1 NCCL (CUDA tensors of cuda:`cuda_device`, the
/// device this rank binds to; `iface`/`bind_host` then unused: NCCL_SOCKET_IFNAME picks NCCL's interface).
int ctd_group_new_backend(const char *master_addr, int port, int rank, int world_size, int64_t timeout_ms,
                          const char *iface, const char *bind_host, int backend, int cuda_device, ctd_group *out);
void ctd_group_free(ctd_group g);
int ctd_group_rank(ctd_group g);
int ctd_group_size(ctd_group g);

/// All-reduce (op: 0 sum, 1 average, 2 max, 3 min) of `n` tensors as one flat buffer (in place when n == 1 and the
/// tensor is contiguous). The results land in `ts` after `ctd_wait`.
int ctd_allreduce(ctd_group g, const ct_tensor *ts, int n, int op, ctd_work *out);
/// Broadcast of `n` tensors from `root` (one flat buffer); results land in `ts` after `ctd_wait`.
int ctd_broadcast(ctd_group g, const ct_tensor *ts, int n, int root, ctd_work *out);
int ctd_barrier(ctd_group g, ctd_work *out);
/// Waits (timeout_ms <= 0: the group's timeout) and finishes the work; non-zero with the engine's message on failure.
int ctd_wait(ctd_work w, int64_t timeout_ms);
void ctd_work_free(ctd_work w);

/// A second client connection to the group's rendezvous store (TCPStore), for a heartbeat thread: its operations do
/// not wait behind the group's. `ctd_store_add` adds `delta` to the integer at `key` (created as 0) and returns the sum
/// in `*value` (delta 0 reads it without blocking).
typedef struct ctd_store_s *ctd_store;
int ctd_store_clone(ctd_group g, int64_t timeout_ms, ctd_store *out);
int ctd_store_add(ctd_store s, const char *key, int64_t delta, int64_t *value);
void ctd_store_free(ctd_store s);
/// Linux `prctl(PR_SET_PDEATHSIG, sig)`: this process gets `sig` when the thread that started it ends. 0 or errno.
int ctd_set_parent_death_signal(int sig);

/// Sizes of the c10d objects as this translation unit sees them (compared with libtorch's own in a test).
int ctd_abi_sizes(int64_t *process_group_gloo, int64_t *gloo_options, int64_t *tcp_store_options);

#ifdef __cplusplus
}
#endif

// ---- DDP's gradient reducer (c10d::Reducer) ------------------------------------------------------------------------
#ifdef __cplusplus
extern "C" {
#endif
typedef struct ctd_reducer_s *ctd_reducer;
/// c10d's DDP Reducer over `params` (leaves requiring grad): buckets of `bucket_bytes` (the first of
/// `first_bucket_bytes`) in reverse parameter order; autograd hooks all-reduce each bucket as soon as its gradients are
/// ready during backward, and at the end of that backward the averaged gradients are in `.grad`.
int ctd_reducer_new(ctd_group g, const ct_tensor *params, int n, int64_t bucket_bytes, int64_t first_bucket_bytes,
                    ctd_reducer *out);
/// Arms the hooks for the next backward (DDP without `no_sync`); backwards without it only accumulate locally.
int ctd_reducer_prepare(ctd_reducer r, const ct_tensor *outputs, int n);
int ctd_reducer_bucket_count(ctd_reducer r);
void ctd_reducer_free(ctd_reducer r);
#ifdef __cplusplus
}
#endif
