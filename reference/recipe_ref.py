"""The mae_st training recipes around the models, written from the upstream code read function by function
(facts only, own code). stmae's `Pretrainer` / `Finetuner` must give the same numbers step for step.

Pre-training, mae_st `main_pretrain.main` + `engine_pretrain.train_one_epoch` (optimized-stmae `pretrain.py` is the
same):
  * `eff_batch_size = batch_size * accum_iter * world_size`; `lr = blr * eff_batch_size / 256` when `--lr` is not
    given. repeat_aug is *not* a factor (each iteration still sees batch_size * repeat_aug clips).
  * `util.misc.add_weight_decay(model, weight_decay, bias_wd)`: no decay for `(not bias_wd and p.ndim == 1)`, names
    ending in `.bias`, or the skip list (empty); so positions, cls_token and mask_token *are* decayed.
  * AdamW(param_groups, lr, betas=(0.9, 0.95)).
  * per iteration: `if it % accum_iter == 0: adjust_learning_rate(optimizer, it / len(loader) + epoch)`;
    `loss / accum_iter` backward; on `(it + 1) % accum_iter == 0`: clip_grad_norm_ (NativeScaler, when clip_grad),
    step, zero_grad.
Fine-tuning, mae_st `main_finetune.main` + `engine_finetune.train_one_epoch`:
  * `eff_batch_size = batch_size * accum_iter * world_size * repeat_aug` (repeat_aug *is* a factor here).
  * model `models_vit.VisionTransformer`: mean of `x[:, 1:]` -> `self.norm` -> dropout -> head; loaded from the MAE
    with `load_state_dict(strict=False)` (so `norm` comes from the MAE encoder's), then
    `trunc_normal_(head.weight, std=2e-5)` (head.bias keeps nn.Linear's default init).
  * `util.lr_decay.param_groups_lrd(model, weight_decay, no_weight_decay_list=model.no_weight_decay(), layer_decay)`
    (see finetune_ref.param_groups_lrd); AdamW(param_groups, lr) with default betas.
  * criterion: `LabelSmoothingCrossEntropy(smoothing)` without mixup (= F.cross_entropy(label_smoothing=s)).
`util.lr_sched.adjust_learning_rate`: linear warmup `lr * epoch / warmup_epochs`, then
  `min_lr + (lr - min_lr) * 0.5 * (1 + cos(pi * (epoch - warmup) / (epochs - warmup)))`, times each group's lr_scale.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from finetune_ref import param_groups_lrd
from models_mae_st import separable_pos_embed
from models_vit import VisionTransformer


def pretrain_lr(blr, batch_size, accum_iter, world_size):
    """mae_st `main_pretrain.main` (no repeat_aug)."""
    return blr * batch_size * accum_iter * world_size / 256


def finetune_lr(blr, batch_size, accum_iter, world_size, repeat_aug):
    """mae_st `main_finetune.main` (repeat_aug included)."""
    return blr * batch_size * accum_iter * world_size * repeat_aug / 256


def add_weight_decay(model, weight_decay, skip_list=(), bias_wd=False):
    """mae_st `util.misc.add_weight_decay`: [no-decay group, decay group]."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exempt = (not bias_wd and p.ndim == 1) or name.endswith(".bias") or name in skip_list
        (no_decay if exempt else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def decayed_names(model, skip_list=(), bias_wd=False):
    return [n for n, p in model.named_parameters()
            if not ((not bias_wd and p.ndim == 1) or n.endswith(".bias") or n in skip_list)]


def adjust_learning_rate(optimizer, epoch, lr, min_lr, warmup_epochs, epochs):
    """mae_st `util.lr_sched.adjust_learning_rate` (epoch is fractional)."""
    if epoch < warmup_epochs:
        v = lr * epoch / warmup_epochs
    else:
        v = min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup_epochs)
                                                          / (epochs - warmup_epochs)))
    for g in optimizer.param_groups:
        g["lr"] = v * g.get("lr_scale", 1.0)
    return v


def train_loop(model, optimizer, batches_per_epoch, epochs, accum_iter, clip_grad, sched, loss_fn):
    """The shared body of mae_st's `train_one_epoch`s: returns per optimizer step (mean loss of its micro-batches,
    lr). `loss_fn(epoch, it)` computes one micro-batch's loss."""
    losses, lrs, acc = [], [], 0.0
    optimizer.zero_grad()
    for epoch in range(epochs):
        for it in range(batches_per_epoch):
            if it % accum_iter == 0:
                lr = sched(optimizer, it / batches_per_epoch + epoch)
            loss = loss_fn(epoch, it)
            acc += loss.item() / accum_iter
            (loss / accum_iter).backward()
            if (it + 1) % accum_iter == 0:
                if clip_grad:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
                optimizer.step()
                optimizer.zero_grad()
                losses.append(acc)
                lrs.append(lr)
                acc = 0.0
    return losses, lrs


class MaeStClassifier(VisionTransformer):
    """mae_st `models_vit.VisionTransformer`: tokens (cls first) + positions -> blocks -> mean of `x[:, 1:]` ->
    `norm` (the key the MAE checkpoint fills) -> dropout -> head. Built with cls_embed (mae_st's default; upstream
    drops token 0 even without one)."""

    def __init__(self, **kw):
        super().__init__(global_pool=True, cls_embed=True, **kw)
        self.norm = self.fc_norm
        del self.fc_norm

    def forward_features(self, x):
        x = self.patch_embed(x)
        n, t, s, d = x.shape
        x = x.reshape(n, t * s, d) + separable_pos_embed(self.pos_embed_spatial, self.pos_embed_temporal, t, s)
        x = torch.cat([self.cls_token.expand(n, -1, -1) + self.pos_embed_class, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x[:, 1:].mean(dim=1))


def load_for_finetune(model, mae_state, generator):
    """mae_st `main_finetune.main`: strict=False load of the MAE (decoder, mask token unused), then the head:
    nn.Linear's default init for the bias, trunc_normal(std 2e-5) for the weight."""
    own = model.state_dict()
    missing, unexpected = model.load_state_dict({k: v for k, v in mae_state.items() if k in own}, strict=False)
    assert sorted(missing) == ["head.bias", "head.weight"], missing
    bound = 1 / math.sqrt(model.head.weight.shape[1])
    with torch.no_grad():
        model.head.bias.uniform_(-bound, bound, generator=generator)
        torch.nn.init.trunc_normal_(model.head.weight, std=2e-5, generator=generator)


def finetune_groups(model, weight_decay, layer_decay):
    return param_groups_lrd(model, weight_decay=weight_decay, layer_decay=layer_decay)


def cross_entropy(logits, labels, smoothing):
    """timm `LabelSmoothingCrossEntropy` (mae_st without mixup) = (1 - s) NLL + s mean(-log p)."""
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)
