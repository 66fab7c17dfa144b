#!/usr/bin/env bash
# Builds libstmae_ctorch.so (CMakeLists.txt: the C ABI shim over libtorch, plus the CPU kernels on x86 CPU builds)
# with CMake + Ninja into $BUILD_DIR (default .build-ctorch/) and writes $BUILD_DIR/pkgconfig/stmae-ctorch.pc, through
# which SwiftPM finds it (PKG_CONFIG_PATH, exported by the Makefile). Idempotent: configures again only when the
# torch, the options or CMakeLists.txt changed; Ninja recompiles only changed sources.
# Environment: TORCH_DIR (the torch package folder; default: `import torch`, with .torch/ first on PYTHONPATH),
# STMAE_CPU_KERNELS / STMAE_GLOO / STMAE_NCCL (ON|OFF|AUTO), STMAE_CUDA_INCLUDE, CXX, BUILD_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-.build-ctorch}
mkdir -p "$build"
build=$(cd "$build" && pwd)
# .torch/ (make setup's CPU wheel) first when present; elsewhere (the GPU bundle) the machine's own PyTorch.
[ -d "$root/.torch/torch" ] && export PYTHONPATH="$root/.torch${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${TORCH_DIR:-}" ]; then
  TORCH_DIR=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))') || {
    echo "build_ctorch: python3 cannot import torch (PYTHONPATH=$PYTHONPATH); set TORCH_DIR" >&2; exit 1; }
fi
if [ -z "${CXX:-}" ]; then  # the compiler SwiftPM used for these files (same code, same speed), else the system's
  if [ -x /opt/swift/usr/bin/clang++ ]; then CXX=/opt/swift/usr/bin/clang++
  elif command -v swift >/dev/null && [ -x "$(dirname "$(command -v swift)")/clang++" ]; then
    CXX=$(dirname "$(command -v swift)")/clang++
  else CXX=c++; fi
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# Configure when the inputs of the configuration changed (stamp: torch, its libtorch, options, compiler, CMakeLists).
stamp="torch=$TORCH_DIR $(stat -c '%s %Y' "$TORCH_DIR/lib/libtorch_cpu.so" 2>/dev/null) cxx=$CXX"
stamp+=" kernels=${STMAE_CPU_KERNELS:-AUTO} gloo=${STMAE_GLOO:-AUTO} nccl=${STMAE_NCCL:-AUTO}"
stamp+=" cuda_include=${STMAE_CUDA_INCLUDE:-} cmake=$(sha256sum CMakeLists.txt | cut -c1-16)"
stamp+=" cuda_home=${CUDA_HOME:-}"
if [ ! -f "$build/CMakeCache.txt" ] || [ "$(cat "$build/.configured" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$build/CMakeCache.txt"
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_CXX_COMPILER="$CXX" -DTORCH_DIR="$TORCH_DIR" \
    -DPython3_EXECUTABLE="$(command -v python3)" \
    -DSTMAE_CPU_KERNELS="${STMAE_CPU_KERNELS:-AUTO}" -DSTMAE_GLOO="${STMAE_GLOO:-AUTO}" \
    -DSTMAE_NCCL="${STMAE_NCCL:-AUTO}" -DSTMAE_CUDA_INCLUDE="${STMAE_CUDA_INCLUDE:-}" >"$build/configure.log" || {
    cat "$build/configure.log" >&2; exit 1; }
  grep "stmae:" "$build/configure.log" || true
  echo "$stamp" >"$build/.configured"
fi
cmake --build "$build" -- "-j${JOBS:-$(nproc)}" |
  grep -v "^ninja: no work to do" || true
test -f "$build/libstmae_ctorch.so" || { echo "build_ctorch: no $build/libstmae_ctorch.so" >&2; exit 1; }

# The pkg-config file SwiftPM reads for the CTorch system library (Sources/CTorchModule/module.modulemap). Swift code
# calls only the C ABI, so binaries need the shim alone (found by its absolute SONAME); the shim finds libtorch
# through its own RUNPATH (`torchlib` is informational: `pkg-config --variable=torchlib stmae-ctorch`).
torch_lib="$TORCH_DIR/lib"
write_pc() {  # write_pc LIBDIR: LIBDIR/pkgconfig/stmae-ctorch.pc (rewritten only when it changes)
  mkdir -p "$1/pkgconfig"
  local pc="$1/pkgconfig/stmae-ctorch.pc"
  cat >"$pc.tmp" <<EOF
# Written by scripts/build_ctorch.sh: libstmae_ctorch.so against $TORCH_DIR
libdir=$1
torchlib=$torch_lib
includedir=$root/Sources/CTorch/include

Name: stmae-ctorch
Description: stmae's C ABI over libtorch ($(grep -E '^(cpu_kernels|gloo|nccl)=' "$build/stmae-config.txt" |
  tr '\n' ' '))
Version: 1.0
Cflags: -I\${includedir}
Libs: -L\${libdir} -lstmae_ctorch
EOF
  if cmp -s "$pc.tmp" "$pc"; then rm "$pc.tmp"; else mv "$pc.tmp" "$pc"; fi
}
write_pc "$build"
# The same library with a plain SONAME, for binaries that carry an rpath to it (make gpu-bundle).
write_pc "$build/portable"
