#!/usr/bin/env python3
"""Compares a regenerated fixture tree with the committed one (`make fixtures-check`).

Usage: PYTHONPATH=.torch:.pylibs:reference python3 scripts/compare_fixtures.py FRESH_ROOT [--tol 1e-3]

FRESH_ROOT is what the generators of `make fixtures` wrote with STMAE_FIXTURES_ROOT=FRESH_ROOT. Every file under
Tests/*/Fixtures must have been written again (else no generator writes it) and hold the same content: safetensors
with the same names, dtypes, shapes and metadata, integer tensors equal and float tensors within a max-norm relative
difference `--tol` (the bits depend on the CPU's kernels; a committed tensor below 1e-6, e.g. an analytically zero
gradient that is pure roundoff, only needs to stay below 1e-5, as the Swift tests check it), numeric metadata within
`--tol`; JSON and .npy equal; .pth zips with equal members (their time stamps differ) and legacy .pth files that load
equal; other files equal byte for byte.
Prints one line per fixture and exits 1 if any is missing or differs.
"""
import argparse
import glob
import json
import os
import sys
import zipfile

import numpy as np
import torch

import st_io

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Files in Fixtures/ folders that are not generated: placeholders, the checker script the tests run, and the
# checkpoints of an older stmae (scripts/make_legacy_checkpoints.sh builds that commit; `make fixtures` cannot).
NOT_GENERATED = {".keep", "check_swift_checkpoint.py", "legacy"}


def read_metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def close_numbers(a: str, b: str, tol: float) -> bool:
    """Equal strings, or both numbers within a relative `tol` (metadata such as a clip threshold computed in float)."""
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= tol * max(abs(x), abs(y), 1e-12)


def compare_safetensors(old_path, new_path, tol):
    """Returns (problem or None, worst relative difference of the float tensors)."""
    old, new = st_io.load(old_path), st_io.load(new_path)
    if sorted(old) != sorted(new):
        return f"tensor names differ: only committed {sorted(set(old) - set(new))[:5]}, " \
               f"only fresh {sorted(set(new) - set(old))[:5]}", 0.0
    # the torch version that wrote the file may differ; every other entry must not
    mo, mn = ({k: v for k, v in read_metadata(p).items() if k != "torch"} for p in (old_path, new_path))
    differ = sorted(k for k in set(mo) | set(mn) if not close_numbers(str(mo.get(k)), str(mn.get(k)), tol))
    if differ:
        return f"metadata differs: {differ}", 0.0
    worst = 0.0
    for k in sorted(old):
        a, b = old[k], new[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{k}: {a.dtype}{list(a.shape)} committed vs {b.dtype}{list(b.shape)} fresh", worst
        if a.is_floating_point():
            a64, b64 = a.double(), b.double()
            if a64.numel() and a64.abs().max() < 1e-6:  # analytically zero: roundoff of either size
                if not b64.abs().max() < 1e-5:
                    return f"{k}: {b64.abs().max().item():.2e} where the committed values are below 1e-6", worst
            elif a64.numel():
                rel = ((a64 - b64).abs().max() / a64.abs().max().clamp_min(1e-6)).item()
                worst = max(worst, rel)
                if not rel <= tol:
                    return f"{k}: relative difference {rel:.2e} > {tol:g}", worst
        elif not torch.equal(a, b):
            return f"{k}: values differ", worst
    return None, worst


def compare(old_path, new_path, tol):
    ext = os.path.splitext(old_path)[1]
    if ext == ".safetensors":
        return compare_safetensors(old_path, new_path, tol)
    if ext == ".json":
        with open(old_path) as f, open(new_path) as g:
            return (None if json.load(f) == json.load(g) else "JSON differs"), 0.0
    if ext == ".npy":
        a, b = np.load(old_path), np.load(new_path)
        same = a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b) and \
            a.flags.f_contiguous == b.flags.f_contiguous
        return (None if same else "array differs"), 0.0
    with open(old_path, "rb") as f, open(new_path, "rb") as g:
        if f.read() == g.read():
            return None, 0.0
    if ext == ".pth" and zipfile.is_zipfile(old_path) and zipfile.is_zipfile(new_path):
        with zipfile.ZipFile(old_path) as za, zipfile.ZipFile(new_path) as zb:
            same = za.namelist() == zb.namelist() and all(za.read(n) == zb.read(n) for n in za.namelist())
        return (None if same else "zip members differ"), 0.0
    if ext == ".pth":  # legacy (pre-zip) torch.save: storage keys are object ids, so compare what loads
        a, b = torch.load(old_path, weights_only=True), torch.load(new_path, weights_only=True)
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        return (None if same else "loaded tensors differ"), 0.0
    return "bytes differ", 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fresh_root", help="the STMAE_FIXTURES_ROOT the generators wrote into")
    ap.add_argument("--tol", type=float, default=1e-3, help="max-norm relative difference of float tensors")
    args = ap.parse_args()
    committed = sorted(p for p in glob.glob(os.path.join(ROOT, "Tests", "*", "Fixtures", "*"))
                       if os.path.basename(p) not in NOT_GENERATED)
    bad = 0
    for old in committed:
        rel = os.path.relpath(old, ROOT)
        new = os.path.join(args.fresh_root, rel)
        if not os.path.exists(new):
            print(f"MISSING  {rel}: no generator of `make fixtures` wrote it")
            bad += 1
            continue
        problem, worst = compare(old, new, args.tol)
        print(f"{'DIFFERS' if problem else 'ok':8s} {rel}" + (f": {problem}" if problem else
                                                             f" (float max rel diff {worst:.1e})" if worst else ""))
        bad += problem is not None
    extra = sorted(os.path.relpath(p, args.fresh_root)
                   for p in glob.glob(os.path.join(args.fresh_root, "Tests", "*", "Fixtures", "*"))
                   if not os.path.exists(os.path.join(ROOT, os.path.relpath(p, args.fresh_root))))
    for rel in extra:
        print(f"NEW      {rel}: written by a generator but not committed")
    print(f"{len(committed)} committed fixtures, {bad} missing or different, {len(extra)} not committed")
    sys.exit(1 if bad or extra else 0)


if __name__ == "__main__":
    main()
