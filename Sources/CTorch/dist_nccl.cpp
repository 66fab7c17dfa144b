// c10d's ProcessGroupNCCL for CUDA tensors (compiled only in STMAE_NCCL builds: a CUDA libtorch with the CUDA runtime
// and NCCL headers, CMakeLists.txt). Same TCPStore rendezvous as Gloo (dist.cpp); one process per GPU, each bound to
// its cuda:LOCAL_RANK, as torch.distributed.init_process_group("nccl", device_id=...).
#include "dist_internal.h"
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <c10/cuda/CUDAFunctions.h>

c10::intrusive_ptr<c10d::Backend> ct::make_nccl(const c10::intrusive_ptr<c10d::Store> &store, int rank, int size,
                                                std::chrono::milliseconds timeout, int device) {
  const auto count = static_cast<int>(c10::cuda::device_count());
  TORCH_CHECK(count > 0, "NCCL needs a CUDA GPU, and this process sees none (CUDA_VISIBLE_DEVICES?)");
  TORCH_CHECK(device >= 0 && device < count, "cuda:", device, " does not exist: this process sees ", count,
              " GPU(s) (LOCAL_RANK or --device beyond the GPUs of this node?)");
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
  // Bound to one device: NCCL creates its communicator eagerly for it (init errors surface here, not at the first
  // collective), and the c10d front records the device as init_process_group(device_id=...) does.
  const at::Device dev(at::kCUDA, static_cast<c10::DeviceIndex>(device));
  pg->setBoundDeviceId(dev);
  pg->eagerConnectSingleDevice(dev);
  return pg;
}
