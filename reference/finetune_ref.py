"""Reference fine-tuning pieces (mae_st / MAE `main_finetune` semantics), written from the timm / SlowFast
Mixup and MAE layer-decay descriptions; random draws are explicit arguments so Swift can replay them.

  * `rand_bbox(h, w, lam, cy, cx)`: cut = int(side * sqrt(1 - lam)); box centred at (cy, cx), half-size
    cut // 2, clipped to the frame (timm `rand_bbox`).
  * `mix_batch(x, labels, C, lam, use_cutmix, cy, cx, smoothing)`: x [N, C, T, H, W] (or [N, C, H, W]).
    lam == 1 -> unchanged. cutmix: x[..., yl:yh, xl:xh] = x.flip(0)[..., yl:yh, xl:xh] (the same box on every
    frame), lam corrected to 1 - box_area / (H W); mixup: lam x + (1 - lam) x.flip(0).
    Targets: smoothed one-hot (off = s/C, on = 1 - s + off), lam y + (1 - lam) y.flip(0).
  * `layer_id(name, num_layers)` / `param_groups_lrd`: MAE `get_layer_id_for_vit` (cls_token, pos_embed*,
    patch_embed -> 0; blocks.i -> i + 1; rest -> num_layers = depth + 1), lr_scale = decay^(num_layers - id);
    no weight decay for 1-D params, biases and cls_token / pos_embed*.
"""
from __future__ import annotations

import math

import torch


def rand_bbox(h: int, w: int, lam: float, cy: int, cx: int):
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(h * ratio), int(w * ratio)
    yl, yh = min(max(cy - cut_h // 2, 0), h), min(max(cy + cut_h // 2, 0), h)
    xl, xh = min(max(cx - cut_w // 2, 0), w), min(max(cx + cut_w // 2, 0), w)
    return yl, yh, xl, xh


def mixup_target(labels, num_classes, lam, smoothing):
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    y = torch.full((labels.shape[0], num_classes), off, dtype=torch.float32).scatter_(1, labels[:, None], on)
    return lam * y + (1.0 - lam) * y.flip(0)


def mix_batch(x, labels, num_classes, lam, use_cutmix, cy=0, cx=0, smoothing=0.1):
    """Returns (mixed x, soft targets [N, C], effective lam, box or None)."""
    x = x.clone()
    box = None
    if lam != 1.0:
        if use_cutmix:
            h, w = x.shape[-2:]
            yl, yh, xl, xh = box = rand_bbox(h, w, lam, cy, cx)
            x[..., yl:yh, xl:xh] = x.flip(0)[..., yl:yh, xl:xh]
            lam = 1.0 - (yh - yl) * (xh - xl) / float(h * w)
        else:
            x = lam * x + (1.0 - lam) * x.flip(0)
    return x, mixup_target(labels, num_classes, lam, smoothing), lam, box


NO_WD = ("cls_token", "pos_embed", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class")


def layer_id(name: str, num_layers: int) -> int:
    if name == "cls_token" or name.startswith("pos_embed") or name.startswith("patch_embed"):
        return 0
    if name.startswith("blocks."):
        return int(name.split(".")[1]) + 1
    return num_layers


def param_groups_lrd(model, weight_decay=0.05, layer_decay=0.75):
    num_layers = len(model.blocks) + 1
    groups = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim == 1 or n.endswith(".bias") or n in NO_WD
        lid = layer_id(n, num_layers)
        key = f"layer_{lid}_{'no_decay' if no_decay else 'decay'}"
        g = groups.setdefault(key, {"params": [], "weight_decay": 0.0 if no_decay else weight_decay,
                                    "lr_scale": layer_decay ** (num_layers - lid)})
        g["params"].append(p)
    return list(groups.values())
