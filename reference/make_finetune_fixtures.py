"""Generate the Swift fine-tuning parity fixtures (Tests/TrainingTests/Fixtures/*.safetensors).

    PYTHONPATH=.torch:reference python3 reference/make_finetune_fixtures.py

mixup.safetensors   input.x [4, 3, 2, 6, 8], input.label [4]; per case `<case>.x`, `<case>.target`,
                    `<case>.lam` (effective, 0-d); metadata `cases` = JSON {case: {lam, use_cutmix, cy, cx}}.
finetune_step.safetensors
                    a tiny VisionTransformer (perturbed like the model fixtures): param.<key>, input.x, input.label,
                    mixed.x / mixed.target (cutmix case), out.logits, out.loss (soft-target CE), grad.<key>,
                    out.grad_norm (before clipping), after.<key> (after clip_grad + one AdamW step with MAE
                    layer-decay groups); metadata: config, lr, weight_decay, layer_decay, clip_grad, betas.
"""
from __future__ import annotations

import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from finetune_ref import mix_batch, param_groups_lrd  # noqa: E402
from make_model_fixtures import VIT_BASE, perturb  # noqa: E402
from models_vit import VisionTransformer, mixup_soft_targets, soft_target_cross_entropy  # noqa: E402

OUT_DIR = st_io.fixtures_dir("TrainingTests")
NUM_CLASSES, SMOOTHING = 5, 0.1

MIX_CASES = {
    "none": dict(lam=1.0, use_cutmix=False, cy=0, cx=0),
    "mixup": dict(lam=0.7, use_cutmix=False, cy=0, cx=0),
    "cutmix_centre": dict(lam=0.6, use_cutmix=True, cy=3, cx=4),
    "cutmix_corner": dict(lam=0.3, use_cutmix=True, cy=0, cx=7),   # clipped box: lam correction matters
    "cutmix_tiny": dict(lam=0.95, use_cutmix=True, cy=2, cx=2),   # cut 1 px: box // 2 == 0 -> empty
}


def mixup_fixture():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(4, 3, 2, 6, 8, generator=g)
    labels = torch.tensor([0, 2, 4, 1])
    t = {"input.x": x, "input.label": labels}
    for name, c in MIX_CASES.items():
        xm, target, lam, _ = mix_batch(x, labels, NUM_CLASSES, c["lam"], c["use_cutmix"], c["cy"], c["cx"], SMOOTHING)
        # the targets agree with models_vit.mixup_soft_targets at the effective lam
        assert torch.allclose(target, mixup_soft_targets(labels, NUM_CLASSES, lam, SMOOTHING), atol=1e-7), name
        t[f"{name}.x"], t[f"{name}.target"], t[f"{name}.lam"] = xm, target, torch.tensor(lam, dtype=torch.float64)
    st_io.save(t, os.path.join(OUT_DIR, "mixup.safetensors"),
               {"cases": json.dumps(MIX_CASES), "num_classes": str(NUM_CLASSES), "smoothing": str(SMOOTHING)})


STEP = dict(lr=1e-3, weight_decay=0.05, layer_decay=0.75, betas=(0.9, 0.999))


def finetune_step_fixture():
    cfg = dict(VIT_BASE, cls_embed=True, num_classes=NUM_CLASSES)
    torch.manual_seed(4321)
    model = VisionTransformer(**cfg)
    g = torch.Generator().manual_seed(4322)
    perturb(model, g)
    params = {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, cfg["num_frames"], cfg["img_size"], cfg["img_size"], generator=g)
    labels = torch.tensor([1, 3, 0, 4])
    xm, target, lam, _ = mix_batch(x, labels, NUM_CLASSES, 0.6, True, 3, 4, SMOOTHING)
    model.train()
    logits = model(xm)
    loss = soft_target_cross_entropy(logits, target)
    loss.backward()
    grads = {f"grad.{k}": p.grad.detach().clone() for k, p in model.named_parameters()}
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    clip = 0.5 * norm.item()  # active clipping
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    groups = param_groups_lrd(model, STEP["weight_decay"], STEP["layer_decay"])
    opt = torch.optim.AdamW(groups, lr=STEP["lr"], betas=STEP["betas"])
    for gr in opt.param_groups:
        gr["lr"] = STEP["lr"] * gr["lr_scale"]
    opt.step()
    after = {f"after.{k}": v.detach().clone() for k, v in model.named_parameters()}
    # label-smoothing CE on the clean batch (no mixup), same weights as before the step
    t = dict(params, **grads, **after)
    t.update({"input.x": x, "input.label": labels, "mixed.x": xm, "mixed.target": target,
              "out.logits": logits.detach(), "out.loss": loss.detach(), "out.grad_norm": norm.detach(),
              "out.lam": torch.tensor(lam, dtype=torch.float64)})
    meta = {"config": json.dumps(cfg), "lr": str(STEP["lr"]), "weight_decay": str(STEP["weight_decay"]),
            "layer_decay": str(STEP["layer_decay"]), "clip_grad": repr(clip), "betas": json.dumps(STEP["betas"]),
            "torch": torch.__version__}
    st_io.save(t, os.path.join(OUT_DIR, "finetune_step.safetensors"), meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    mixup_fixture()
    finetune_step_fixture()
    for f in sorted(os.listdir(OUT_DIR)):
        print(f, os.path.getsize(os.path.join(OUT_DIR, f)), "bytes")
