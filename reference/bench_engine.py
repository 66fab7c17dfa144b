"""PyTorch side of `stmae bench engine`: a ViT block stack, forward+backward, s/step median (own reference code).

Same architecture as stmae's nn.Block: pre-norm, LayerNorm eps 1e-6, separate q/k/v linears, SDPA, exact GELU, MLP 4x.
Prints one JSON line per configuration.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        n, l, d = x.shape
        split = lambda t: t.reshape(n, l, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731
        o = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)))
        return self.proj(o.transpose(1, 2).reshape(n, l, d))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.fc1, self.fc2 = nn.Linear(dim, int(dim * mlp_ratio)), nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def bench(shape, bf16, depth, dim, heads, warmup, steps):
    torch.manual_seed(0)
    blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
    x = torch.randn(*shape)
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = blocks(x)
        loss = y.float().pow(2).mean()
        for p in blocks.parameters():
            p.grad = None
        loss.backward()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", required=True, help="N,L,D")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    shape = [int(s) for s in a.shape.split(",")]
    s = bench(shape, a.bf16, a.depth, shape[2], a.heads, a.warmup, a.steps)
    print(json.dumps({"impl": "pytorch", "shape": shape, "bf16": a.bf16, "s_per_step": s,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
