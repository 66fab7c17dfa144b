"""Reference video ViT classifier (fine-tuning model) sharing the MAE encoder's backbone and keys.

Same patch embedding / blocks / positional-embedding key names as `models_mae_st.MaskedAutoencoderViT`'s
encoder, so an MAE checkpoint's encoder keys load directly (decoder keys, mask_token, and
`norm.*` when global_pool=True are simply unused).

Pooling:
  * global_pool=True : mean over the patch tokens (cls token excluded if present) -> `fc_norm`
                       (MAE fine-tuning convention; the model then has no `norm.*`).
  * global_pool=False: requires cls_embed; final `norm` over all tokens, take token 0.
Then head dropout (`dropout`, mae_st default 0.5) -> `head` Linear.

Positions: learned separable (`sep_pos_embed=True`, mae_st default), learned joint `pos_embed`
[1, (1 +) L, D] (`sep_pos_embed=False`, as mae_st), or a fixed sinusoid (`sincos_pos_embed=True`).

HF-VideoMAE-style variant (`videomae_vit_*` / `hf_videomae=True`): fixed sinusoid pos-embed over
the L patch tokens (non-persistent buffer), no cls token, q and v biases only (`attn.k` has no
bias), mean pool + fc_norm, block LayerNorm eps 1e-12 and fc_norm eps 1e-5 (HF defaults).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from models_mae_st import (  # noqa: F401
    VIT_SIZES, add_pos_embeds, init_linear_and_norm, Block, PatchEmbed, separable_pos_embed, set_attn_impl,
    sinusoid_table)


class VisionTransformer(nn.Module):
    def __init__(self, num_frames=16, t_patch_size=2, img_size=224, patch_size=16, in_chans=3, num_classes=400,
                 embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True, k_bias=None,
                 drop_rate=0.0, drop_path_rate=0.0, dropout=0.5, sep_pos_embed=True, cls_embed=False,
                 global_pool=True, norm_eps=1e-6, fc_norm_eps=None, sincos_pos_embed=False):
        super().__init__()
        assert global_pool or cls_embed, "cls pooling needs cls_embed=True"
        self.cls_embed, self.global_pool = cls_embed, global_pool
        self.sep_pos_embed = sep_pos_embed and not sincos_pos_embed
        self.joint_pos_embed = not sep_pos_embed and not sincos_pos_embed
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, num_frames, t_patch_size)
        self.t_grid = self.patch_embed.t_grid_size
        self.s_grid = self.patch_embed.grid_size ** 2
        L, D = self.patch_embed.num_patches, embed_dim
        if cls_embed:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        add_pos_embeds(self, "", D, cls_embed)
        dpr = [v.item() for v in torch.linspace(0, drop_path_rate, depth)]  # stochastic depth decay rule
        self.blocks = nn.ModuleList([
            Block(D, num_heads, mlp_ratio, qkv_bias=qkv_bias, k_bias=k_bias, drop=drop_rate, drop_path=dpr[i],
                  norm_eps=norm_eps) for i in range(depth)])
        if global_pool:
            self.fc_norm = nn.LayerNorm(D, eps=norm_eps if fc_norm_eps is None else fc_norm_eps)
        else:
            self.norm = nn.LayerNorm(D, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(D, num_classes)
        self.initialize_weights()

    def initialize_weights(self):
        for name in ("cls_token", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class", "pos_embed"):
            p = getattr(self, name, None)
            if isinstance(p, nn.Parameter):
                nn.init.trunc_normal_(p, std=0.02)
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        init_linear_and_norm(self)
        nn.init.trunc_normal_(self.head.weight, std=0.02)  # (mae_st: normal std .02)
        nn.init.zeros_(self.head.bias)

    def forward_features(self, x):
        x = self.patch_embed(x)
        n, t, s, d = x.shape
        x = x.reshape(n, t * s, d)
        c = int(self.cls_embed and self.joint_pos_embed)  # joint: row 0 is the cls token's
        if self.sep_pos_embed:
            x = x + separable_pos_embed(self.pos_embed_spatial, self.pos_embed_temporal, self.t_grid, self.s_grid)
        else:
            x = x + self.pos_embed[:, c:]
        if self.cls_embed:
            cls = self.cls_token.expand(n, -1, -1)
            if self.sep_pos_embed:
                cls = cls + self.pos_embed_class
            elif self.joint_pos_embed:
                cls = cls + self.pos_embed[:, :1]
            x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        if self.global_pool:
            x = x[:, 1:] if self.cls_embed else x
            return self.fc_norm(x.mean(dim=1))
        return self.norm(x)[:, 0]

    def forward(self, x):
        return self.head(self.dropout(self.forward_features(x)))


def _factory(embed_dim, depth, num_heads, patch_size, hf=False):
    def make(**kw):
        kw.setdefault("patch_size", patch_size)
        if hf:
            kw.update(sep_pos_embed=False, sincos_pos_embed=True, cls_embed=False, global_pool=True, k_bias=False)
            kw.setdefault("norm_eps", 1e-12)
            kw.setdefault("fc_norm_eps", 1e-5)
        return VisionTransformer(embed_dim=embed_dim, depth=depth, num_heads=num_heads, **kw)
    return make


# vit_small_patch16, …, vit_huge_patch14 (and vit_tiny); the VideoMAE layout: videomae_vit_{small,base,large}_patch16
# and videomae_vit_huge_patch16 (ViT-H with patch 16)
globals().update({name: _factory(*size) for name, size in VIT_SIZES.items()})
globals().update({
    f"videomae_vit_{name}_patch16": _factory(*VIT_SIZES[vit][:3], 16, hf=True)
    for name, vit in (("small", "vit_small_patch16"), ("base", "vit_base_patch16"), ("large", "vit_large_patch16"),
                      ("huge", "vit_huge_patch14"))
})


def videomae_variant(**kw):
    """HF-VideoMAE-style classifier with arbitrary (e.g. tiny) dims."""
    kw.update(sep_pos_embed=False, sincos_pos_embed=True, cls_embed=False, global_pool=True, k_bias=False)
    kw.setdefault("norm_eps", 1e-12)
    kw.setdefault("fc_norm_eps", 1e-5)
    return VisionTransformer(**kw)


def soft_target_cross_entropy(logits, target):
    """mean_n sum_c -target[n,c] * log_softmax(logits)[n,c] (timm SoftTargetCrossEntropy semantics)."""
    return torch.sum(-target * torch.log_softmax(logits, dim=-1), dim=-1).mean()


def mixup_soft_targets(labels, num_classes, lam, smoothing=0.1):
    """timm-style mixup targets: smoothed one-hot (off = s/C, on = 1 - s + off), mixed with the
    batch-flipped targets: lam * y + (1 - lam) * y.flip(0)."""
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    y = torch.full((labels.shape[0], num_classes), off).scatter_(1, labels[:, None], on)
    return lam * y + (1.0 - lam) * y.flip(0)
