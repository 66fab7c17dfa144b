#!/usr/bin/env bash
# `make gpu-bundle`: gpu-bundle/ (≤ 60 MiB) to copy onto a GPU machine that has CUDA PyTorch, Python, a C++ compiler
# and CMake but no Swift, FFmpeg or network; `bash gpu-bundle/gpu-check.sh` runs the check there (scripts/gpu-check.sh).
# Holds: stmae-gpucheck (release, static Swift standard library, rpath $ORIGIN/build-ctorch/portable), the shim's
# sources and CMakeLists.txt, scripts/build_ctorch.sh, the PyTorch references and gpu_check.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=/opt/swift/usr/bin:$PATH
out=gpu-bundle
bash scripts/build_ctorch.sh
# Linked against the plain-SONAME copy of the shim (found at run time through the binary's rpath, where gpu-check.sh
# builds it against the GPU machine's torch).
PKG_CONFIG_PATH="$root/.build-ctorch/portable/pkgconfig" swift build -c release --product stmae-gpucheck \
  --static-swift-stdlib --scratch-path .build-gpubundle -Xlinker -rpath -Xlinker '$ORIGIN/build-ctorch/portable' \
  -Xlinker --strip-all 2>&1 | grep -E "error|warning: unre|Build" || true
bin=.build-gpubundle/release/stmae-gpucheck
test -x "$bin"
rm -rf "$out"
mkdir -p "$out/scripts" "$out/Sources" "$out/reference"
cp "$bin" "$out/stmae-gpucheck"
cp CMakeLists.txt "$out/"
cp -r Sources/CTorch Sources/CPUKernels "$out/Sources/"
cp scripts/build_ctorch.sh "$out/scripts/"
cp scripts/gpu-check.sh scripts/gpu_check.py "$out/"
cp reference/*.py reference/README.md "$out/reference/"
size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle: $out/ ${size} MiB (stmae-gpucheck $(du -m "$out/stmae-gpucheck" | cut -f1) MiB);" \
  "needs: $(readelf -d "$out/stmae-gpucheck" | grep NEEDED | sed 's/.*\[\(.*\)\]/\1/' | tr '\n' ' ')"
[ "$size" -le 60 ] || { echo "gpu-bundle: $size MiB is over the 60 MiB budget" >&2; exit 1; }
