#!/usr/bin/env bash
# Style checks (.ci/run runs them before the tests): swift-format's lint with the repository's .swift-format, and no
# line longer than 120 characters in the Swift, C/C++, Python and shell sources, the Makefile, CMakeLists.txt and
# .ci/run. Fix with `swift format format -i -r Sources Tests` and by hand for long string literals and comments (and
# for non-Swift files).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift format lint --strict --recursive Sources Tests Package.swift
long=$(python3 - <<'PY'
import pathlib
SUFFIXES = {".swift", ".c", ".cpp", ".h", ".py", ".sh"}
files = [pathlib.Path(name) for name in ("Package.swift", "Makefile", "CMakeLists.txt", ".ci/run")]
for root in ("Sources", "Tests", "reference", "scripts"):
    files += sorted(f for f in pathlib.Path(root).rglob("*") if f.is_file() and f.suffix in SUFFIXES)
for f in files:
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        if len(line) > 120:  # characters, not bytes (mawk's length counts bytes)
            print(f"{f}:{n}: {len(line)} characters")
PY
)
if [ -n "$long" ]; then
    echo "$long"
    echo "lint: $(echo "$long" | wc -l) lines over 120 characters"
    exit 1
fi
echo "lint: swift-format clean, no line over 120 characters"
