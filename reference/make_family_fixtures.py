"""Fixtures for the video-transformer family (TimeSformer, ViViT, MaskFeat, HOG, image-ViT inflation).

    PYTHONPATH=.torch:reference:.pylibs python3 reference/make_family_fixtures.py          # write
    PYTHONPATH=.torch:reference:.pylibs python3 reference/make_family_fixtures.py --check  # verify files on disk

Writes Tests/ModelsTests/Fixtures/family_<case>.safetensors (keys as reference/README.md: `param.*`, `input.*`,
`out.*`, `grad.*`; metadata `config` JSON). Classifier cases: out.logits, out.loss = cross_entropy(logits, label)
and grad.<key> = d out.loss / d param, out.attn_map [N, T', S] (last block's attention, see
`cls_attention_map` / `attention_map`). MaskFeat: input.mask, out.loss, out.pred, out.target, grads.
`family_hog`: 8-bit-valued frames and scikit-image's `hog` (per channel, 9 bins, 8x8 cells, 2x2 L2 blocks at
patch-aligned positions), also checked here against reference HOG (models_maskfeat.hog) to 1e-6 (~5e-8 observed).
`family_image_vit`: a tiny timm-layout image ViT (`param.*` only: what a user's checkpoint holds), one frame, the image
ViT's logits and final normed tokens `out.tokens` [2, 1+S, D] (computed by a plain image-ViT forward below), to test
TimeSformer/ViViT initialisation from it.
scikit-image is needed for the HOG fixture (write and check): `make fixtures` installs it into .pylibs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from models_maskfeat import MaskFeat, hog, num_masked  # noqa: E402
from models_timesformer import Block as TSBlock, TimeSformer, cls_attention_map  # noqa: E402
from models_vivit import ViViT, attention_map  # noqa: E402

OUT_DIR = st_io.fixtures_dir("ModelsTests")
SEED = 4321
BATCH = 2
LABELS = [1, 3]

TS_BASE = dict(img_size=8, patch_size=2, in_chans=3, num_classes=5, embed_dim=24, depth=2, num_heads=2,
               mlp_ratio=4.0, qkv_bias=True, num_frames=4, attention_type="divided_space_time", norm_eps=1e-6)
VV_BASE = dict(img_size=8, patch_size=2, in_chans=3, num_classes=5, embed_dim=24, depth=2, num_heads=2,
               temporal_depth=1, mlp_ratio=4.0, qkv_bias=True, num_frames=4, t_patch_size=2,
               model="fact_encoder", norm_eps=1e-6)
MF_BASE = dict(img_size=16, patch_size=8, in_chans=3, embed_dim=24, depth=2, num_heads=2, mlp_ratio=4.0,
               qkv_bias=True, num_frames=4, t_patch_size=2, cls_embed=True, mask_ratio=0.4, norm_eps=1e-6)
CASES = {
    "ts_divided": ("timesformer", dict(TS_BASE)),
    "ts_joint": ("timesformer", dict(TS_BASE, attention_type="joint_space_time")),
    "ts_space_only": ("timesformer", dict(TS_BASE, attention_type="space_only")),
    "vivit_fe": ("vivit", dict(VV_BASE)),
    "vivit_joint": ("vivit", dict(VV_BASE, model="joint_space_time")),
    "vivit_fsa": ("vivit", dict(VV_BASE, model="divided_space_time")),
    "maskfeat": ("maskfeat", dict(MF_BASE)),
}


def case_seed(name):
    return SEED + sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 100000


def perturb(model, gen):
    """Move trivially-initialised tensors (LN 1/0, zero biases, zero temporal_fc / time_embed) off their init."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 or "temporal_fc" in name or name == "time_embed":
                scale = 0.1 if name.endswith("weight") and p.dim() == 1 else 0.05
                p.add_(scale * torch.randn(p.shape, generator=gen))


def build(name):
    kind, cfg = CASES[name]
    torch.manual_seed(case_seed(name))
    model = {"timesformer": TimeSformer, "vivit": ViViT, "maskfeat": MaskFeat}[kind](**cfg)
    gen = torch.Generator().manual_seed(case_seed(name) + 1)
    perturb(model, gen)
    x = torch.randn(BATCH, 3, cfg["num_frames"], cfg["img_size"], cfg["img_size"], generator=gen)
    return kind, cfg, model, x, gen


def run_case(name):
    kind, cfg, model, x, gen = build(name)
    model.train()
    t = {"input.x": x}
    if kind == "maskfeat":
        L = model.t_grid * model.s_grid
        k = num_masked(cfg["mask_ratio"], L)
        mask = torch.zeros(BATCH, L)
        for i in range(BATCH):
            mask[i, torch.randperm(L, generator=gen)[:k]] = 1
        loss, pred, target = model(x, mask)
        t.update({"input.mask": mask, "out.pred": pred.detach(), "out.target": target})
    else:
        label = torch.tensor(LABELS)
        logits = model(x)
        loss = F.cross_entropy(logits, label)
        t.update({"input.label": label, "out.logits": logits.detach()})
    loss.backward()
    t["out.loss"] = loss.detach()
    if kind != "maskfeat":  # last block's attention map [N, T', S] (separate explicit-softmax forward)
        t["out.attn_map"] = (cls_attention_map if kind == "timesformer" else attention_map)(model, x)
    for k, p in model.named_parameters():
        t[f"param.{k}"] = p.detach()
        t[f"grad.{k}"] = p.grad.detach()
    meta = {"case": name, "model": kind, "config": json.dumps(cfg), "batch": BATCH, "seed": case_seed(name),
            "torch": torch.__version__}
    return t, meta


# ------------------------------------------------------------------------------------------------------------------
def hog_case():
    gen = torch.Generator().manual_seed(SEED + 7)
    frames = torch.randint(0, 256, (2, 3, 32, 48), generator=gen).to(torch.float32) / 255.0
    ref = hog(frames)  # [2, 2*3, 108] float64
    t = {"input.frames": frames, "out.hog_torch": ref.to(torch.float32)}
    try:
        from skimage.feature import hog as sk_hog
    except ImportError:
        sys.exit("family_hog needs scikit-image: python3 -m pip install --target .pylibs scikit-image "
                 "(`make fixtures` installs it)")
    sk = []
    for n in range(frames.shape[0]):
        per_c = []
        for c in range(3):
            h = sk_hog(frames[n, c].double().numpy(), orientations=9, pixels_per_cell=(8, 8),
                       cells_per_block=(2, 2), block_norm="L2", feature_vector=False)
            per_c.append(torch.from_numpy(h[::2, ::2]))  # patch-aligned blocks [Hp, Wp, 2, 2, 9]
        v = torch.stack(per_c, 2)  # [Hp, Wp, C, 2, 2, 9]
        sk.append(v.reshape(v.shape[0] * v.shape[1], -1))
    sk = torch.stack(sk)
    d = (sk - ref).abs().max().item()
    # skimage accumulates in single precision in places: ~5e-8 observed; a different bin would be ~1e-1
    assert d < 1e-6, f"reference HOG differs from scikit-image by {d}"
    t["out.hog"] = sk.to(torch.float32)
    return t, {"case": "hog", "sklearn_equiv": "skimage.feature.hog per channel, L2 blocks 2x2 at even cells",
               "torch": torch.__version__}


def image_vit_case():
    """A tiny timm-layout image ViT (img 8, patch 2, D 24, depth 2, 5 classes) and its logits on one frame."""
    torch.manual_seed(SEED + 11)
    D, S = 24, 16
    vit = nn.Module()
    vit.patch_embed = nn.Module()
    vit.patch_embed.proj = nn.Conv2d(3, D, 2, 2)
    vit.cls_token = nn.Parameter(0.02 * torch.randn(1, 1, D))
    vit.pos_embed = nn.Parameter(0.02 * torch.randn(1, 1 + S, D))
    vit.blocks = nn.ModuleList([TSBlock(D, 2, attention_type="joint_space_time") for _ in range(2)])
    vit.norm = nn.LayerNorm(D, eps=1e-6)
    vit.head = nn.Linear(D, 5)
    gen = torch.Generator().manual_seed(SEED + 12)
    perturb(vit, gen)
    frame = torch.randn(2, 3, 8, 8, generator=gen)
    with torch.no_grad():
        f = vit.patch_embed.proj(frame).flatten(2).transpose(1, 2)
        f = torch.cat([vit.cls_token.expand(2, -1, -1), f], 1) + vit.pos_embed
        for b in vit.blocks:
            f = b(f, 1)
        tokens = vit.norm(f)
        logits = vit.head(tokens[:, 0])
    t = {f"param.{k}": v.detach() for k, v in vit.state_dict().items()}
    t.update({"input.frame": frame, "out.logits": logits, "out.tokens": tokens})
    return t, {"case": "image_vit", "layout": "timm", "torch": torch.__version__}


def all_fixtures():
    out = {name: run_case(name) for name in CASES}
    out["hog"] = hog_case()
    out["image_vit"] = image_vit_case()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="verify the files on disk equal a regeneration")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    fx = all_fixtures()
    total = 0
    for name, (t, meta) in fx.items():
        path = os.path.join(OUT_DIR, f"family_{name}.safetensors")
        if args.check:
            disk = st_io.load(path)
            assert disk.keys() == t.keys(), f"{name}: key sets differ"
            for k in t:
                assert torch.equal(disk[k], t[k].contiguous()), f"{name}: {k} differs from regeneration"
        else:
            st_io.save(t, path, meta)
        total += os.path.getsize(path)
        print(f"{'checked' if args.check else 'wrote'} {os.path.normpath(path)} ({os.path.getsize(path) // 1024} KB)")
    print(f"total {total // 1024} KB")


if __name__ == "__main__":
    main()
