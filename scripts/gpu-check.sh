#!/usr/bin/env bash
# The prepared GPU check (issue 25 item 7), run from the folder `make gpu-bundle` builds:
#     bash gpu-check.sh            # on a machine with an NVIDIA GPU and CUDA PyTorch ≥ 2.11 (no Swift, no network)
#     STMAE_GPU_CHECK_DEVICE=cpu bash gpu-check.sh   # the rehearsal of `make gpu-bundle-check` (tiny sizes)
# 1. compiles the shim (Sources/CTorch, CMakeLists.txt) against this machine's torch into build-ctorch/portable/, the
#    folder stmae-gpucheck's rpath names ($ORIGIN/build-ctorch/portable); NCCL ON where that torch has CUDA;
# 2. runs gpu_check.py: JSON lines (a) parity fp32/bf16, (b) pre-training step s/step + MFU vs PyTorch eager and
#    torch.compile, (c) inference clips/s, (d) an fp16 fine-tuning step, (e) a one-rank NCCL all-reduce.
# Environment: PYTHON (default python3), STMAE_GPU_CHECK_DEVICE (cuda, cuda:N or cpu), TORCH_DIR, CXX, CUDA_HOME.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}
device=${STMAE_GPU_CHECK_DEVICE:-cuda}
start=$(date +%s)
torch_dir=${TORCH_DIR:-$($python -c 'import torch, os; print(os.path.dirname(torch.__file__))')}
echo "gpu-check: building the shim against $torch_dir" >&2
# The rehearsal on this repository's machine keeps the CPU kernels (OpenBLAS is there); a GPU build has none.
PYTHONPATH=${PYTHONPATH:-} BUILD_DIR="$here/build-ctorch" TORCH_DIR="$torch_dir" \
  STMAE_CPU_KERNELS=${STMAE_CPU_KERNELS:-AUTO} bash "$here/scripts/build_ctorch.sh" >&2
grep -E "^(torch_cuda|cpu_kernels|gloo|nccl)=" "$here/build-ctorch/stmae-config.txt" | tr '\n' ' ' >&2
echo "(built in $(( $(date +%s) - start )) s)" >&2
tiny=()
[ "$device" = cpu ] && tiny=(--tiny)
PYTHONPATH="$here/reference${PYTHONPATH:+:$PYTHONPATH}" \
  "$python" "$here/gpu_check.py" --bin "$here/stmae-gpucheck" --device "$device" "${tiny[@]}"
echo "gpu-check: done in $(( $(date +%s) - start )) s" >&2
