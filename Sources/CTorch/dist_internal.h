// Shared between the c10d binding files (not part of the C ABI).
#pragma once
#include "internal.h"
#include "ctorch_dist.h"

#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <chrono>

struct ctd_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;   // the Gloo backend (collectives of this shim)
  c10::intrusive_ptr<c10d::ProcessGroup> front;    // c10d's dispatching front over it (DDP's Reducer)
  int rank, size;
  std::chrono::milliseconds timeout;
};
