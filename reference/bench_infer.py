"""PyTorch side of `stmae bench infer`: video ViT classifier forward (our reference models_vit.py, SDPA) under
no_grad, s/step median and peak RSS. Prints one JSON line."""
import argparse
import json
import resource
import statistics
import time

import torch

import models_vit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit_base_patch16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = getattr(models_vit, a.model)(num_classes=400).eval()
    x = torch.randn(a.batch, 3, 16, 224, 224)
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits = model(x)
            logits.float().sum().item()
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "pytorch", "batch": a.batch, "bf16": a.bf16, "s_per_step": statistics.median(times),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
