// Shared between the c10d binding files (not part of the C ABI).
#pragma once
#include "internal.h"
#include "ctorch_dist.h"

// STMAE_GLOO / STMAE_NCCL: which c10d backends this build has (CMakeLists.txt; Gloo needs its headers, NCCL a CUDA
// libtorch).
#ifndef STMAE_GLOO
#define STMAE_GLOO 1
#endif
#ifndef STMAE_NCCL
#define STMAE_NCCL 0
#endif
#if STMAE_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

#include <chrono>

struct ctd_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;            // the Gloo or NCCL backend (collectives of this shim)
  c10::intrusive_ptr<c10d::ProcessGroup> front;    // c10d's dispatching front over it (DDP's Reducer)
  int rank, size;
  std::chrono::milliseconds timeout;
};

namespace ct {
/// c10d's ProcessGroupNCCL on `store` bound to cuda:`device` (dist_nccl.cpp; only in STMAE_NCCL builds).
c10::intrusive_ptr<c10d::Backend> make_nccl(const c10::intrusive_ptr<c10d::Store> &store, int rank, int size,
                                            std::chrono::milliseconds timeout, int device);
}  // namespace ct
