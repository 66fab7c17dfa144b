"""PyTorch side of `stmae bench pretrain`: one MAE-ST pre-training step (forward, backward, fused AdamW) with our
reference model (models_mae_st.py: SDPA attention, bf16 autocast optional), s/step median and peak RSS.

Prints one JSON line.
"""
import argparse
import time

import torch

from bench_common import parse_step_args, print_result
import models_mae_st


def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = (p.ndim == 1 or name.endswith(".bias") or "pos_embed" in name or name.endswith("cls_token")
                or name == "mask_token")
        (no_decay if skip else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mae_vit_base_patch16")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--img_size", type=int, default=224)
    ap.add_argument("--num_frames", type=int, default=16)
    ap.add_argument("--t_patch_size", type=int, default=2)
    ap.add_argument("--pred_t_dim", type=int, default=16)
    ap.add_argument("--mask_ratio", type=float, default=0.9)
    ap.add_argument("--decoder_embed_dim", type=int, default=512)
    ap.add_argument("--decoder_depth", type=int, default=4)
    ap.add_argument("--decoder_num_heads", type=int, default=16)
    ap.add_argument("--decoder_mask_ratio", type=float, default=0.0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (stmae's --device)")
    a = parse_step_args(ap)
    device = torch.device(a.device)
    model = getattr(models_mae_st, a.model)(
        img_size=a.img_size, num_frames=a.num_frames, t_patch_size=a.t_patch_size, pred_t_dim=a.pred_t_dim,
        mask_ratio=a.mask_ratio, decoder_embed_dim=a.decoder_embed_dim, decoder_depth=a.decoder_depth,
        decoder_num_heads=a.decoder_num_heads, decoder_mask_ratio=a.decoder_mask_ratio).to(device)
    opt = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-4, betas=(0.9, 0.95), fused=True)
    x = torch.randn(a.batch, 3, a.num_frames, a.img_size, a.img_size).to(device)
    times, losses = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        noise = model.make_noise(a.batch).to(device)  # drawn on the CPU, as stmae's
        dnoise = model.make_decoder_noise(a.batch).to(device) if a.decoder_mask_ratio > 0 else None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16):
            loss, _, _ = model(x, noise, decoder_noise=dnoise)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())  # waits for the device
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    print_result(a, times, threads=torch.get_num_threads(), loss_last=losses[-1])


if __name__ == "__main__":
    main()
