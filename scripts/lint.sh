#!/usr/bin/env bash
# Style checks (.ci/run runs them before the tests): swift-format's lint with the repository's .swift-format, and no
# Swift line longer than 120 characters. Fix with `swift format format -i -r Sources Tests` and by hand for long
# string literals and comments.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
swift format lint --strict --recursive Sources Tests Package.swift
long=$(python3 - <<'PY'
import pathlib
files = [pathlib.Path("Package.swift"), *sorted(pathlib.Path("Sources").rglob("*.swift")),
         *sorted(pathlib.Path("Tests").rglob("*.swift"))]
for f in files:
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        if len(line) > 120:  # characters, not bytes (mawk's length counts bytes)
            print(f"{f}:{n}: {len(line)} characters")
PY
)
if [ -n "$long" ]; then
    echo "$long"
    echo "lint: $(echo "$long" | wc -l) Swift lines over 120 characters"
    exit 1
fi
echo "lint: swift-format clean, no Swift line over 120 characters"
