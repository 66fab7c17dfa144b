#!/usr/bin/env bash
# Idempotent set-up for a Debian 12 machine (as root): Debian dev packages, then libtorch (the PyTorch CPU wheel),
# OpenBLAS (the scipy-openblas32 wheel) and the Python packages the references and benchmarks use, into .torch/.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
APT_PKGS="libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libturbojpeg0-dev libpng-dev"
APT_PKGS="$APT_PKGS pkg-config python3 python3-pip"
# Gloo headers for c10d (the torch wheel ships libtorch built with Gloo but not its headers).
APT_PKGS="$APT_PKGS libgloo-dev binutils"  # binutils: nm/objdump for the Gloo layout test
APT_PKGS="$APT_PKGS cmake ninja-build"  # the libtorch shim libstmae_ctorch.so (CMakeLists.txt)

missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

pip_target() {  # pip install --target .torch; Debian's pip refuses without --break-system-packages
  python3 -m pip install -q --disable-pip-version-check --target .torch --no-deps "$@" 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages --target .torch --no-deps "$@"
}

if ! [ -f .torch/torch/lib/libtorch_cpu.so ] || ! ls -d .torch/torch-"$TORCH_VERSION"*.dist-info >/dev/null 2>&1; then
  echo "setup: installing torch==$TORCH_VERSION into .torch/"
  rm -rf .torch
  pip_target "torch==$TORCH_VERSION"
fi
if ! ls -d .torch/torch-"$TORCH_VERSION"+cpu.dist-info >/dev/null 2>&1; then
  # A CUDA wheel: libtorch then also needs the CUDA runtime and CUPTI to load.
  [ -d .torch/nvidia/cuda_runtime ] || pip_target nvidia-cuda-runtime
  [ -d .torch/nvidia/cuda_cupti ] || pip_target nvidia-cuda-cupti
fi

# OpenBLAS for fp32 linears (Sources/CPUKernels/linear.cpp): the wheel's library and cblas.h, linked by Package.swift.
OPENBLAS_VERSION=0.3.34.481.3
if ! ls -d .torch/scipy_openblas32-"$OPENBLAS_VERSION".dist-info >/dev/null 2>&1; then
  echo "setup: installing scipy-openblas32==$OPENBLAS_VERSION into .torch/"
  rm -rf .torch/scipy_openblas32 .torch/scipy_openblas32-*.dist-info
  pip_target "scipy-openblas32==$OPENBLAS_VERSION"
fi

# Python-side dependencies of `import torch` (references, fixture scripts, benchmarks).
for mod in filelock:filelock typing_extensions:typing-extensions sympy:sympy networkx:networkx jinja2:jinja2 \
           fsspec:fsspec numpy:numpy mpmath:mpmath; do
  m=${mod%%:*}; pkg=${mod#*:}
  PYTHONPATH=.torch python3 -c "import $m" 2>/dev/null || { echo "setup: pip $pkg"; pip_target "$pkg"; }
done
PYTHONPATH=.torch python3 -c "import torch; assert torch.__version__.startswith('$TORCH_VERSION'), torch.__version__"
# The C ABI shim over libtorch (+ CPU kernels) as a shared library and its pkg-config file (rebuilt when changed).
bash scripts/build_ctorch.sh
command -v swift >/dev/null || {
  echo "setup: swift not on PATH (expected the Swift 6 toolchain, e.g. /opt/swift/usr/bin)" >&2
  exit 1
}

# Hugging Face transformers (VideoMAE interop tests) into .pylibs/, with its dependencies.
TRANSFORMERS_VERSION=5.24.0
TRANSFORMERS_CHECK="import transformers, sys; sys.exit(transformers.__version__ != '$TRANSFORMERS_VERSION')"
if ! PYTHONPATH=.torch:.pylibs python3 -c "$TRANSFORMERS_CHECK" 2>/dev/null; then
  echo "setup: pip transformers==$TRANSFORMERS_VERSION into .pylibs/"
  PIP_ARGS=(-q --disable-pip-version-check --target .pylibs --upgrade "transformers==$TRANSFORMERS_VERSION")
  python3 -m pip install "${PIP_ARGS[@]}" 2>/dev/null ||
    python3 -m pip install --break-system-packages "${PIP_ARGS[@]}"
fi

# TensorBoard's reader (EventAccumulator) for the event-file tests (Tests/TrainingTests/TensorBoardTests.swift), and
# cairo + DejaVu fonts for the plots (Sources/Plot).
for p in libcairo2-dev fonts-dejavu-core; do
  dpkg -s "$p" >/dev/null 2>&1 || {
    echo "setup: installing $p"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p"
  }
done
TENSORBOARD_VERSION=2.21.0
if ! PYTHONPATH=.torch:.pylibs python3 -c "import tensorboard, google.protobuf, absl, numpy, sys; \
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator; \
sys.exit(tensorboard.__version__ != '$TENSORBOARD_VERSION')" 2>/dev/null; then
  echo "setup: pip tensorboard==$TENSORBOARD_VERSION protobuf absl-py numpy into .pylibs/"
  python3 -m pip install -q --disable-pip-version-check --target .pylibs --no-deps --upgrade \
    "tensorboard==$TENSORBOARD_VERSION" protobuf absl-py numpy 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages --target .pylibs --no-deps \
      --upgrade "tensorboard==$TENSORBOARD_VERSION" protobuf absl-py numpy
fi
