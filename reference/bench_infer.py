"""PyTorch side of `stmae bench infer`: video ViT classifier forward (our reference models_vit.py, SDPA) under
no_grad, s/step median and peak RSS. Prints one JSON line."""
import argparse
import time

import torch

from bench_common import parse_step_args, print_result
import models_vit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit_base_patch16")
    ap.add_argument("--batch", type=int, default=1)
    a = parse_step_args(ap)
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
    print_result(a, times)


if __name__ == "__main__":
    main()
