#!/usr/bin/env bash
# `make cuda-check`: shows, on a machine without a GPU, that stmae builds against the CUDA build of the same torch.
#  1. the CUDA wheel of torch $TORCH_VERSION (CUDA 13) and the NVIDIA wheels it loads (CUDA runtime, cuBLAS, cuDNN,
#     NCCL, …, with the runtime's and NCCL's headers) installed into the ignored .torch-cuda/ (once; ~3 GB);
#  2. the shim compiled against it with NCCL ON (Sources/CTorch/dist_nccl.cpp) into .build-ctorch-cuda/;
#  3. the Swift tests linked against that shim and CUDA libtorch (scratch path .build-cuda/) and the CPU suite run.
# Prints the shim's configuration, the libraries the test binary loads, and the test totals.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
TORCH_VERSION=2.13.0
dest=.torch-cuda
# Versions the torch 2.13.0 CUDA wheel requires (its METADATA: cuda-toolkit[...]==13.0.3 and the cu13 wheels).
NV_WHEELS=(
  "nvidia-cuda-runtime==13.0.96.*" "nvidia-cuda-crt==13.0.88.*" "nvidia-cuda-cccl==13.0.85.*"
  "nvidia-cublas==13.1.1.3.*" "nvidia-cufft==12.0.0.61.*" "nvidia-cufile==1.15.1.6.*" "nvidia-cuda-cupti==13.0.85.*"
  "nvidia-curand==10.4.0.35.*" "nvidia-cusparse==12.6.3.3.*" "nvidia-nvjitlink==13.0.88.*"
  "nvidia-cusolver==12.0.4.66.*"
  "nvidia-cuda-nvrtc==13.0.88.*" "nvidia-cudnn-cu13==9.20.0.48" "nvidia-cusparselt-cu13==0.8.1"
  "nvidia-nvshmem-cu13==3.4.5" "nvidia-nccl-cu13==2.29.7"
)
# The public index, not the machine's local wheel folder (which holds the CPU wheel).
pip_public() { env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null python3 -m pip "$@"; }

if ! [ -f "$dest/torch/lib/libtorch_cuda.so" ]; then
  echo "cuda-check: downloading the CUDA wheel of torch==$TORCH_VERSION (~530 MB) into $dest/"
  mkdir -p "$dest/wheels"
  pip_public download -q --no-deps -d "$dest/wheels" "torch==$TORCH_VERSION"
  pip_public install -q --target "$dest" --no-deps "$dest"/wheels/torch-"$TORCH_VERSION"-*.whl
fi
if ! [ -f "$dest/nvidia/nccl/include/nccl.h" ] || ! [ -f "$dest/nvidia/cu13/include/cusolverDn.h" ]; then
  # One pip call into a fresh folder: pip --target does not merge the shared nvidia/ folder across calls.
  echo "cuda-check: installing the NVIDIA runtime wheels (CUDA 13, cuDNN, NCCL; ~2.5 GB) into $dest/nvidia/"
  rm -rf "$dest/nv" "$dest/nvidia"
  pip_public install -q --target "$dest/nv" --no-deps "${NV_WHEELS[@]}"
  mv "$dest/nv/nvidia" "$dest/nvidia"
  mv "$dest"/nv/*.dist-info "$dest"/ 2>/dev/null || true
  rm -rf "$dest/nv"
fi
torch_dir=$root/$dest/torch
grep -q "^Version: $TORCH_VERSION" "$dest"/torch-"$TORCH_VERSION".dist-info/METADATA
missing=$(ldd "$torch_dir/lib/libtorch_cuda.so" | grep "not found" || true)
[ -z "$missing" ] || { echo "cuda-check: libtorch_cuda.so cannot load: $missing" >&2; exit 1; }

echo "== shim against $torch_dir (NCCL ON; CPU kernels ON so that the whole CPU suite runs)"
BUILD_DIR=.build-ctorch-cuda TORCH_DIR=$torch_dir STMAE_NCCL=ON STMAE_GLOO=ON STMAE_CPU_KERNELS=ON \
  bash scripts/build_ctorch.sh
cat .build-ctorch-cuda/stmae-config.txt
[ "$(nm -D --defined-only .build-ctorch-cuda/libstmae_ctorch.so | grep -c " ctd_nccl_available$")" = 1 ]
test -f .build-ctorch-cuda/CMakeFiles/stmae_ctorch_objects.dir/Sources/CTorch/dist_nccl.cpp.o
echo "dist_nccl.cpp compiled: $(nm -C --undefined-only \
  .build-ctorch-cuda/CMakeFiles/stmae_ctorch_objects.dir/Sources/CTorch/dist_nccl.cpp.o | grep -c ProcessGroupNCCL) \
ProcessGroupNCCL symbols referenced"

echo "== Swift tests linked against it (.build-cuda/)"
export PKG_CONFIG_PATH=$root/.build-ctorch-cuda/pkgconfig
swift build --build-tests --scratch-path .build-cuda 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
bin=$(ls -d .build-cuda/debug/stmaePackageTests.xctest 2>/dev/null || true)
if [ -n "$bin" ]; then
  echo "libraries of the test binary:"
  ldd "$bin" | grep -E "stmae_ctorch|torch_cuda|torch_cpu|libc10|cudart|nccl" | sed 's/^/  /'
fi
log=$(mktemp)
set +e
swift test --skip-build --scratch-path .build-cuda 2>&1 | tee "$log" |
  grep -E "✘|failed|Test run with|Executed" | tail -20
rc=${PIPESTATUS[0]}
set -e
echo "cuda-check: swift test exit status $rc against the CUDA libtorch ($(grep -m1 '^Version' \
  "$dest"/torch-"$TORCH_VERSION".dist-info/METADATA), no GPU); full log $log"
exit "$rc"
