"""20-step runs of mae_st's recipes (reference/recipe_ref.py) for Tests/TrainingTests/RecipeParityTests.swift.

    PYTHONPATH=.torch:reference python3 reference/make_recipe_fixtures.py

Inputs are replayable from seeds on both sides: micro-batch b of the run (counting from 0 over all epochs) is
`torch.rand(shape, generator=Generator().manual_seed(BATCH_SEED + b))`; MAE noise comes from one generator seeded
`seed + 1` (stmae's `Pretrainer.generator`), drawn once per micro-batch.

recipe_pretrain.safetensors   param.<key> (initial MAE), out.loss [20], out.lr [20] (float64);
                              metadata: config (the PretrainConfig flags), decayed (JSON list of decayed keys)
recipe_finetune.safetensors   mae.<key> (the pre-trained MAE, perturbed so its `norm` is not the identity),
                              head.weight / head.bias (mae_st's fresh head), out.loss [20], out.lr [20];
                              metadata: config (FinetuneConfig flags), labels (per micro-batch, JSON)
"""
from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from models_mae_st import MaskedAutoencoderViT, noise_shape  # noqa: E402
from recipe_ref import (MaeStClassifier, add_weight_decay, adjust_learning_rate, cross_entropy,  # noqa: E402
                        decayed_names, finetune_groups, finetune_lr, load_for_finetune, pretrain_lr, train_loop)

OUT_DIR = st_io.fixtures_dir("TrainingTests")
BATCH_SEED = 1000

# One tiny MAE-ST: 8x8 pixels, patch 2, 4 frames, t_patch 2 -> L = 32 tokens.
MODEL = dict(img_size=8, patch_size=2, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16, decoder_depth=1,
             decoder_num_heads=2, num_frames=4, t_patch_size=2, pred_t_dim=4, cls_embed=True, sep_pos_embed=True)
# 10 micro-batches per epoch, accum_iter 2 -> 5 steps per epoch, 4 epochs -> 20 steps.
PRETRAIN = dict(model="mae_vit_tiny", img_size=8, patch_size=2, embed_dim=32, depth=2, num_heads=2,
                decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, num_frames=4, t_patch_size=2,
                pred_t_dim=4, mask_ratio=0.75, norm_pix_loss=True, batch_size_per_gpu=2, repeat_aug=2, accum_iter=2,
                epochs=4, blr=0.64, min_lr=1e-4, warmup_epochs=1.0, weight_decay=0.5, clip_grad=0.5, seed=3)
FINETUNE = dict(model="vit_tiny", img_size=8, patch_size=2, embed_dim=32, depth=2, num_heads=2, num_frames=4,
                t_patch_size=2, batch_size=2, repeat_aug=2, accum_iter=2, epochs=4, blr=0.32, min_lr=1e-6,
                warmup_epochs=1.0, weight_decay=0.05, layer_decay=0.75, smoothing=0.1, drop_path_rate=0.0,
                dropout=0.0, clip_grad=0.0, seed=5)
BATCHES_PER_EPOCH, NUM_CLASSES = 10, 3


def micro_batch(b, clips):
    g = torch.Generator().manual_seed(BATCH_SEED + b)
    return torch.rand(clips, 3, MODEL["num_frames"], MODEL["img_size"], MODEL["img_size"], generator=g)


def pretrain_fixture():
    c = PRETRAIN
    torch.manual_seed(11)
    model = MaskedAutoencoderViT(**MODEL, mask_type="random", mask_ratio=c["mask_ratio"], norm_pix_loss=True)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    lr = pretrain_lr(c["blr"], c["batch_size_per_gpu"], c["accum_iter"], 1)
    opt = torch.optim.AdamW(add_weight_decay(model, c["weight_decay"]), lr=lr, betas=(0.9, 0.95))
    noise_gen = torch.Generator().manual_seed(c["seed"] + 1)
    clips = c["batch_size_per_gpu"] * c["repeat_aug"]

    def loss_fn(epoch, it):
        x = micro_batch(epoch * BATCHES_PER_EPOCH + it, clips)
        noise = torch.rand(noise_shape("random", clips, model.t_grid, model.s_grid), generator=noise_gen)
        return model(x, noise)[0]

    def sched(o, e):
        return adjust_learning_rate(o, e, lr, c["min_lr"], c["warmup_epochs"], c["epochs"])

    losses, lrs = train_loop(model, opt, BATCHES_PER_EPOCH, c["epochs"], c["accum_iter"], c["clip_grad"], sched,
                             loss_fn)
    t = {f"param.{k}": v for k, v in init.items()}
    t["out.loss"], t["out.lr"] = torch.tensor(losses, dtype=torch.float64), torch.tensor(lrs, dtype=torch.float64)
    st_io.save(t, os.path.join(OUT_DIR, "recipe_pretrain.safetensors"),
               {"config": json.dumps(c), "decayed": json.dumps(decayed_names(model))})
    return losses


def finetune_fixture():
    c = FINETUNE
    torch.manual_seed(12)
    mae = MaskedAutoencoderViT(**MODEL)
    with torch.no_grad():  # a "pre-trained" encoder: every weight moved, so `norm` is not LayerNorm's identity init
        for p in mae.parameters():
            p.add_(0.1 * torch.randn(p.shape))
    mae_state = {k: v.detach().clone() for k, v in mae.state_dict().items()}
    model = MaeStClassifier(num_frames=4, t_patch_size=2, img_size=8, patch_size=2, num_classes=NUM_CLASSES,
                            embed_dim=32, depth=2, num_heads=2, dropout=0.0, drop_path_rate=0.0)
    load_for_finetune(model, mae_state, torch.Generator().manual_seed(c["seed"]))
    head = {"head.weight": model.head.weight.detach().clone(), "head.bias": model.head.bias.detach().clone()}
    lr = finetune_lr(c["blr"], c["batch_size"], c["accum_iter"], 1, c["repeat_aug"])
    opt = torch.optim.AdamW(finetune_groups(model, c["weight_decay"], c["layer_decay"]), lr=lr)
    clips = c["batch_size"] * c["repeat_aug"]
    labels = [[(b + i) % NUM_CLASSES for i in range(clips)] for b in range(BATCHES_PER_EPOCH * c["epochs"])]

    def loss_fn(epoch, it):
        b = epoch * BATCHES_PER_EPOCH + it
        return cross_entropy(model(micro_batch(b, clips)), torch.tensor(labels[b]), c["smoothing"])

    def sched(o, e):
        return adjust_learning_rate(o, e, lr, c["min_lr"], c["warmup_epochs"], c["epochs"])

    model.train()
    losses, lrs = train_loop(model, opt, BATCHES_PER_EPOCH, c["epochs"], c["accum_iter"], 0, sched, loss_fn)
    t = {f"mae.{k}": v for k, v in mae_state.items()}
    t.update(head)
    t["out.loss"], t["out.lr"] = torch.tensor(losses, dtype=torch.float64), torch.tensor(lrs, dtype=torch.float64)
    st_io.save(t, os.path.join(OUT_DIR, "recipe_finetune.safetensors"),
               {"config": json.dumps(c), "labels": json.dumps(labels)})
    return losses


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("pretrain losses", [round(v, 5) for v in pretrain_fixture()])
    print("finetune losses", [round(v, 5) for v in finetune_fixture()])
