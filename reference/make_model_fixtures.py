"""Generate the Swift Models parity fixtures (Tests/ModelsTests/Fixtures/*.safetensors).

    PYTHONPATH=.torch:reference python3 reference/make_model_fixtures.py          # write fixtures
    PYTHONPATH=.torch:reference python3 reference/make_model_fixtures.py --check  # self-checks + verify files
    PYTHONPATH=.torch:reference python3 reference/make_model_fixtures.py --only mae_joint vit_joint_cls  # some cases

One file per case.  Key naming (see reference/README.md):
  param.<state_dict key>      every parameter (after init + perturbation, see `perturb`)
  buffer.<name>               fixed sinusoid tables (sincos_pos_embed=True only; not in state_dict)
  input.x [N,3,T,H,W]         input.noise (MAE; shape depends on mask_type)
  input.label [N] int64, input.soft_target [N,C] (classifier)
  out.*                       outputs; grad.<key> = d loss / d param (MAE: out.loss;
                              classifier: out.loss_ce), grad_soft.<key> (classifier: out.loss_soft)
Metadata: case, model, config (JSON), batch, attn, perturbed, torch version, seed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from models_mae_st import (MASK_TYPES, MaskedAutoencoderViT, gather_tokens, masking, noise_shape,  # noqa: E402
                           num_kept, set_attn_impl)
from models_vit import VisionTransformer, mixup_soft_targets, soft_target_cross_entropy  # noqa: E402

OUT_DIR = st_io.fixtures_dir("ModelsTests")

# Tiny shared MAE config: 8x8 pixels, patch 2 -> S = 16, T = 8, t_patch 2 -> T' = 4, L = 64 tokens.
# Sizes are bounded by the fixture budget (each file <= ~300 KB incl. params + grads, total <= 3 MB).
MAE_BASE = dict(img_size=8, patch_size=2, in_chans=3, embed_dim=32, depth=2, num_heads=2,
                decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, mlp_ratio=4.0,
                norm_pix_loss=False, num_frames=8, t_patch_size=2, pred_t_dim=8, cls_embed=False,
                sep_pos_embed=True, qkv_bias=True, mask_type="random", mask_ratio=0.75, norm_eps=1e-6)

MAE_CASES = {
    "mae_random": {},
    "mae_random_normpix": dict(norm_pix_loss=True, mask_ratio=0.9),
    "mae_tube": dict(mask_type="tube"),
    "mae_temporal": dict(mask_type="temporal", mask_ratio=0.6, qkv_bias=False),
    "mae_boundary": dict(mask_type="boundary", mask_ratio=0.7, cls_embed=True),
    "mae_time_slice": dict(mask_type="time_slice", mask_ratio=0.5, qkv_bias=False),
    "mae_window": dict(mask_type="window", mask_ratio=0.5),
    "mae_sincos": dict(sep_pos_embed=False, sincos_pos_embed=True),
    # mae_st sep_pos_embed=False: learned joint pos_embed / decoder_pos_embed (row 0 = cls with cls_embed)
    "mae_joint": dict(sep_pos_embed=False),
    "mae_joint_cls": dict(sep_pos_embed=False, cls_embed=True, mask_type="tube"),
    # T = 16 cases on 4x4 pixels (S = 4, T' = 8, L = 32) to stay inside the size budget
    "mae_pred8_f16_cls": dict(num_frames=16, pred_t_dim=8, img_size=4, cls_embed=True, decoder_depth=2),
    "mae_pred16_f16": dict(num_frames=16, pred_t_dim=16, img_size=4),
}

VIT_BASE = dict(num_frames=4, t_patch_size=2, img_size=8, patch_size=2, in_chans=3, num_classes=5,
                embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.0, qkv_bias=True, k_bias=None,
                drop_rate=0.0, drop_path_rate=0.0, dropout=0.0, sep_pos_embed=True, cls_embed=False,
                global_pool=True, norm_eps=1e-6, fc_norm_eps=None)
VIT_CASES = {
    "vit_global_pool": dict(cls_embed=True),
    "vit_cls_pool": dict(cls_embed=True, global_pool=False),
    "vit_joint_cls": dict(sep_pos_embed=False, cls_embed=True),
    "vit_videomae_hf": dict(sep_pos_embed=False, sincos_pos_embed=True, cls_embed=False, global_pool=True, k_bias=False,
                            norm_eps=1e-12, fc_norm_eps=1e-5),
}

BATCH = 2
VIT_BATCH = 3
VIT_LABELS = [1, 3, 4]
LABEL_SMOOTHING = 0.1
MIXUP_LAM = 0.7
SEED = 1234


def perturb(model: nn.Module, gen: torch.Generator) -> None:
    """Move the trivially-initialised values (LayerNorm 1/0, zero biases, zero decoder_cls_token)
    away from their init so parity tests exercise them: LN weight += 0.1 N(0,1), LN bias += 0.05 N(0,1),
    Linear bias += 0.05 N(0,1), decoder_cls_token += 0.02 N(0,1)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.add_(0.1 * torch.randn(m.weight.shape, generator=gen))
                m.bias.add_(0.05 * torch.randn(m.bias.shape, generator=gen))
            elif isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.add_(0.05 * torch.randn(m.bias.shape, generator=gen))
        if hasattr(model, "decoder_cls_token"):
            model.decoder_cls_token.add_(0.02 * torch.randn(model.decoder_cls_token.shape, generator=gen))


def case_seed(name: str) -> int:
    return SEED + sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 100000


def build_case(model_class, cfg, name, batch):
    """The case's model (seeded init, then perturbed), its generator and its input x [batch, 3, T, H, W]."""
    torch.manual_seed(case_seed(name))
    model = model_class(**cfg)
    gen = torch.Generator().manual_seed(case_seed(name) + 1)
    perturb(model, gen)
    x = torch.randn(batch, 3, cfg["num_frames"], cfg["img_size"], cfg["img_size"], generator=gen)
    return model, gen, x


def build_mae(name):
    cfg = dict(MAE_BASE, **MAE_CASES[name])
    model, gen, x = build_case(MaskedAutoencoderViT, cfg, name, BATCH)
    noise = torch.rand(noise_shape(cfg["mask_type"], BATCH, model.t_grid, model.s_grid), generator=gen)
    return cfg, model, x, noise


def run_mae(model, x, noise, attn="sdpa"):
    set_attn_impl(model, attn)
    model.train()  # no dropout / drop path in this model; train() only to mirror training use
    model.zero_grad(set_to_none=True)
    ids_keep, ids_restore, mask = masking(model.mask_type, noise, model.mask_ratio, model.t_grid, model.s_grid)
    latent = model.forward_encoder(x, ids_keep)
    pred = model.forward_decoder(latent, ids_restore)
    loss = model.forward_loss(x, pred, mask)
    loss.backward()
    t = {"out.loss": loss.detach(), "out.pred": pred.detach(), "out.mask": mask,
         "out.latent": latent.detach(), "out.ids_keep": ids_keep, "out.ids_restore": ids_restore,
         "out.target_frames": model.target_frame_indices()}
    if model.norm_pix_loss:  # the (normalised) target only where it is non-trivial (file-size budget)
        t["out.target"] = model.forward_target(x).detach()
    # same result through the public forward
    loss2, pred2, mask2 = model(x, noise)
    assert torch.equal(loss2.detach(), loss.detach()) and torch.equal(mask2, mask)
    for k, p in model.named_parameters():
        t[f"grad.{k}"] = p.grad.detach().clone()
    return t


def build_vit(name):
    cfg = dict(VIT_BASE, **VIT_CASES[name])
    model, gen, x = build_case(VisionTransformer, cfg, name, VIT_BATCH)
    label = torch.tensor(VIT_LABELS, dtype=torch.int64)
    soft = mixup_soft_targets(label, cfg["num_classes"], MIXUP_LAM, LABEL_SMOOTHING)
    return cfg, model, x, label, soft


def run_vit(model, x, label, soft, attn="sdpa"):
    """Full parameter grads for the label-smoothed CE (`grad.<key>`); for the soft-target loss the
    grads of the head (`grad_soft.head.*`) and d loss / d logits of both losses (`out.dlogits_*`):
    everything below the logits is the same linear backward map, already pinned by `grad.*`."""
    set_attn_impl(model, attn)
    model.eval()  # dropout / drop path are 0 anyway: eval-equivalent
    t = {}
    losses = (("ce", lambda lg: F.cross_entropy(lg, label, label_smoothing=LABEL_SMOOTHING)),
              ("soft", lambda lg: soft_target_cross_entropy(lg, soft)))
    for tag, loss_fn in losses:
        model.zero_grad(set_to_none=True)
        logits = model(x)
        logits.retain_grad()
        loss = loss_fn(logits)
        loss.backward()
        t["out.logits"] = logits.detach()
        t[f"out.loss_{tag}"] = loss.detach()
        t[f"out.dlogits_{tag}"] = logits.grad.detach().clone()
        for k, p in model.named_parameters():
            if tag == "ce":
                t[f"grad.{k}"] = p.grad.detach().clone()
            elif k.startswith("head."):
                t[f"grad_soft.{k}"] = p.grad.detach().clone()
    return t


def mae_tensors(name, attn="sdpa"):
    cfg, model, x, noise = build_mae(name)
    t = {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    if cfg.get("sincos_pos_embed"):
        t["buffer.pos_embed"] = model.pos_embed
        t["buffer.decoder_pos_embed"] = model.decoder_pos_embed
    t["input.x"], t["input.noise"] = x, noise
    t.update(run_mae(model, x, noise, attn))
    return cfg, t


def vit_tensors(name, attn="sdpa"):
    cfg, model, x, label, soft = build_vit(name)
    t = {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    if cfg.get("sincos_pos_embed"):
        t["buffer.pos_embed"] = model.pos_embed
    t["input.x"], t["input.label"], t["input.soft_target"] = x, label, soft
    t.update(run_vit(model, x, label, soft, attn))
    return cfg, t


def metadata(name, model_name, cfg, batch, extra=None):
    md = {"case": name, "model": model_name, "config": json.dumps(cfg, sort_keys=True), "batch": batch,
          "attn": "sdpa", "perturbed": "true", "seed": case_seed(name), "torch": torch.__version__}
    md.update(extra or {})
    return md


def save_case(name, t, md, losses):
    """Writes OUT_DIR/<name>.safetensors, prints a line with `losses`; returns its size in bytes."""
    path = os.path.join(OUT_DIR, f"{name}.safetensors")
    st_io.save(t, path, md)
    size = os.path.getsize(path)
    print(f"{name:22s} {size / 1024:7.1f} KB  {losses}  tensors={len(t)}")
    return size


def write_all(only=None):
    os.makedirs(OUT_DIR, exist_ok=True)
    total = 0
    for name in MAE_CASES:
        if only and name not in only:
            continue
        cfg, t = mae_tensors(name)
        total += save_case(name, t, metadata(name, "MaskedAutoencoderViT", cfg, BATCH, {
            "noise_shape": json.dumps(list(t["input.noise"].shape)),
            "num_kept": num_kept(cfg["mask_type"], cfg["mask_ratio"], cfg["num_frames"] // cfg["t_patch_size"],
                                 (cfg["img_size"] // cfg["patch_size"]) ** 2)}), f"loss={t['out.loss'].item():.6f}")
    for name in VIT_CASES:
        if only and name not in only:
            continue
        cfg, t = vit_tensors(name)
        total += save_case(name, t, metadata(name, "VisionTransformer", cfg, VIT_BATCH, {
            "label_smoothing": LABEL_SMOOTHING, "mixup_lam": MIXUP_LAM}),
            f"ce={t['out.loss_ce'].item():.6f} soft={t['out.loss_soft'].item():.6f}")
    print(f"total {total / 1024:.1f} KB in {OUT_DIR}")


# ----------------------------------------------------------------------------------------------
# Self-checks
# ----------------------------------------------------------------------------------------------
def _maxdiff(a, b):
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item()
               for k in a if a[k].is_floating_point() and a[k].numel())


def check_attention():
    for cases, tensors in ((MAE_CASES, mae_tensors), (VIT_CASES, vit_tensors)):
        for name in cases:
            _, a = tensors(name, "sdpa")
            _, b = tensors(name, "explicit")
            d = _maxdiff(a, b)
            assert d < 1e-5, (name, d)
            print(f"  sdpa vs explicit {name:22s} max|diff| = {d:.2e}")


def check_masking():
    gen = torch.Generator().manual_seed(7)
    for t_grid, s_grid in ((4, 9), (8, 4), (2, 16)):
        L = t_grid * s_grid
        for mt in MASK_TYPES:
            for r in (0.5, 0.75, 0.9):
                if num_kept(mt, r, t_grid, s_grid) == 0:
                    continue
                n = 3
                noise = torch.rand(noise_shape(mt, n, t_grid, s_grid), generator=gen)
                ids_keep, ids_restore, mask = masking(mt, noise, r, t_grid, s_grid)
                k = ids_keep.shape[1]
                assert k == num_kept(mt, r, t_grid, s_grid)
                assert torch.all(mask.sum(1) == L - k)
                tokens = torch.arange(L, dtype=torch.float32)[None, :, None].expand(n, L, 1) + 1.0
                kept = gather_tokens(tokens, ids_keep)
                full = torch.cat([kept, torch.zeros(n, L - k, 1)], 1)
                restored = gather_tokens(full, ids_restore)[..., 0]
                expect = torch.where(mask.bool(), torch.zeros(()), tokens[..., 0])
                assert torch.equal(restored, expect), (mt, r)
                assert torch.all(torch.gather(mask, 1, ids_keep) == 0)
                m3 = mask.view(n, t_grid, s_grid)
                if mt == "tube":
                    assert torch.all(m3 == m3[:, :1])
                if mt in ("time_slice", "window"):
                    assert torch.all(m3 == m3[:, :, :1])
                if mt in ("temporal", "boundary"):  # fixed patterns: visible = a prefix (+ a suffix), token order
                    head = k if mt == "temporal" else k - k // 2
                    visible = torch.cat([torch.arange(head), torch.arange(L - (k - head), L)])
                    assert torch.equal(ids_keep, visible[None].expand(n, k)), (mt, r)
                if mt == "window":  # visible slices contiguous
                    vis = (m3[:, :, 0] == 0).int()
                    assert torch.all((vis[:, 1:] - vis[:, :-1]).clamp(min=0).sum(1) <= 1 - vis[:, 0])
                if mt != "random":
                    assert torch.all(ids_keep[:, 1:] > ids_keep[:, :-1])
                else:
                    assert torch.equal(ids_keep, torch.argsort(noise, 1)[:, :k])
    print("  masking + unshuffle round trip OK for", MASK_TYPES)


def check_patchify():
    for extra in ({}, dict(num_frames=16, pred_t_dim=8, img_size=4), dict(num_frames=16, pred_t_dim=16, img_size=4)):
        cfg = dict(MAE_BASE, **extra)
        m = MaskedAutoencoderViT(**cfg)
        imgs = torch.randn(2, 3, cfg["pred_t_dim"], cfg["img_size"], cfg["img_size"])
        x = m.patchify(imgs)
        assert torch.equal(m.unpatchify(x), imgs)
        # every element against the documented index formula: token (t*g + h)*g + w, feature ((u*p + i)*p + j)*3 + c
        u, p = m.t_pred_patch_size, cfg["patch_size"]
        g = cfg["img_size"] // p
        for (n, c, fr, y, xx), v in zip(torch.cartesian_prod(*[torch.arange(k) for k in imgs.shape]).tolist(),
                                        imgs.flatten().tolist()):
            tok = ((fr // u) * g + y // p) * g + xx // p
            feat = (((fr % u) * p + y % p) * p + xx % p) * 3 + c
            assert x[n, tok, feat].item() == v
    print("  patchify / unpatchify round trip and (u,p,q,c) order OK")


def check_files():
    for name in list(MAE_CASES) + list(VIT_CASES):
        path = os.path.join(OUT_DIR, f"{name}.safetensors")
        stored = st_io.load(path)
        _, fresh = (mae_tensors if name.startswith("mae") else vit_tensors)(name)
        assert stored.keys() == fresh.keys(), name
        for k in stored:
            assert stored[k].dtype == fresh[k].dtype and torch.equal(stored[k], fresh[k]), (name, k)
    print("  fixture files match a fresh deterministic regeneration")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="run self-checks and verify existing fixtures")
    ap.add_argument("--only", nargs="+", metavar="CASE", help="write only these cases")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    if args.check:
        check_masking()
        check_patchify()
        check_attention()
        if os.path.isdir(OUT_DIR):
            check_files()
        print(f"all checks passed ({time.time() - t0:.1f}s)")
    else:
        unknown = set(args.only or []) - set(MAE_CASES) - set(VIT_CASES)
        if unknown:
            ap.error(f"unknown cases: {sorted(unknown)}")
        write_all(args.only)
        print(f"done ({time.time() - t0:.1f}s)")


if __name__ == "__main__":
    main()
