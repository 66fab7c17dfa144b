"""GEMM libraries inside libtorch on the ViT-B MAE linear shapes: what `linear` gets from MKL (`F.linear`, fp32) or
oneDNN's matmul through `torch.ops.mkldnn._linear_pointwise` (plain and pre-packed weights), forward and the two
gradients. Prints GFLOP/s, the median of alternated calls. Why stmae's fp32 linears call oneDNN (linear.cpp).

    PYTHONPATH=.torch python3 reference/bench_gemm.py [--threads 2] [--dtype fp32|bf16]
"""
import argparse
import time

import torch

# (tokens M, in K, out N): decoder (1568 tokens, 512 wide), encoder (157 visible tokens, 768), classifier (1569);
# N = 3·width is a fused qkv, N = width the separate q, k, v and proj the models use.
SHAPES = [(1568, 512, 512), (1568, 512, 1536), (1568, 512, 2048), (1568, 2048, 512), (157, 768, 768), (157, 768, 2304),
          (157, 768, 3072), (157, 3072, 768), (1569, 768, 768), (1569, 768, 2304), (1569, 3072, 768)]


def medians(fns, n):
    for f in fns:
        f(); f()
    times = [[] for _ in fns]
    for _ in range(n):
        for t, f in zip(times, fns):
            t0 = time.perf_counter(); f(); t.append(time.perf_counter() - t0)
    return [sorted(t)[len(t) // 2] for t in times]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--calls", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dt = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    lp = torch.ops.mkldnn._linear_pointwise
    print("M K N | forward: linear, oneDNN, oneDNN packed | dX: mm, oneDNN | dW: mm, oneDNN   (GFLOP/s)")
    for m, k, n in SHAPES:
        x, w, b, g = (torch.randn(m, k, dtype=dt), torch.randn(n, k, dtype=dt), torch.randn(n, dtype=dt),
                      torch.randn(m, n, dtype=dt))
        wp = torch.ops.mkldnn._reorder_linear_weight(w, m)
        ref = torch.nn.functional.linear(x.double(), w.double(), b.double())
        for y in (lp(x, w, b, "none", [], ""), lp(x, wp, b, "none", [], "")):
            assert (y.double() - ref).abs().max() <= 2e-2 * ref.abs().max(), "oneDNN linear differs from the fp64 one"
        fns = [lambda: torch.nn.functional.linear(x, w, b), lambda: lp(x, w, b, "none", [], ""),
               lambda: lp(x, wp, b, "none", [], ""),
               lambda: g @ w, lambda: lp(g, w.t(), None, "none", [], ""),
               lambda: g.t() @ x, lambda: lp(g.t(), x.t(), None, "none", [], "")]
        gf = [2 * m * k * n / t / 1e9 for t in medians(fns, a.calls)]
        print(f"{m} {k} {n} | {gf[0]:.0f} {gf[1]:.0f} {gf[2]:.0f} | {gf[3]:.0f} {gf[4]:.0f} | {gf[5]:.0f} {gf[6]:.0f}")


if __name__ == "__main__":
    main()
