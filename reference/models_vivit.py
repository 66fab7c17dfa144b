"""Reference ViViT (Arnab et al. 2021, "ViViT: A Video Vision Transformer") in plain PyTorch, written for this
project from the paper. ViViT's own release is JAX (Scenic); the PyTorch key names below are ours, in the timm ViT
layout so an image ViT checkpoint maps onto them directly.

Tubelet embedding: Conv3d, kernel = stride = (t_patch=2, p, p): `patch_embed.proj.{weight [D,3,t,p,p], bias}`.
Tokens t-major: index t*S + s (project convention). Blocks: timm layout (`attn.qkv`, `attn.proj`, `mlp.fc1/fc2`).

Models (`model=`):
  fact_encoder (Model 2, "FE"): spatial transformer on each time index's S tokens plus a spatial cls token
      (`cls_token`, `pos_embed` [1,1+S,D], `blocks`, `norm`); its cls outputs [N, T', D] go, with a temporal cls
      token, through a temporal transformer (`temporal_cls_token`, `temporal_pos_embed` [1,1+T',D],
      `temporal_blocks`, `temporal_norm`); temporal cls -> head.
  joint_space_time (Model 1, "ST"): cls + all T'*S tokens, `pos_embed` [1,1+T'*S,D], `blocks`, `norm`, cls -> head.
  divided_space_time (Model 3, "FSA"): each block: spatial attention (`norm1`, `attn`) within a time index, then
      temporal attention (`temporal_norm1`, `temporal_attn`) across time at each position, then MLP. No cls token
      (the paper avoids it for this model): `pos_embed` [1,T'*S,D], `norm`, mean over tokens -> head.
Init: trunc-normal(.02) Linear weights / positions / cls tokens, Linear bias 0, LN 1/0, patch conv PyTorch default.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from models_mae_st import init_linear_and_norm, Mlp, PatchEmbed, drop_path
from models_timesformer import FusedAttention, last_attention

MODELS = ("fact_encoder", "joint_space_time", "divided_space_time")


class Block(nn.Module):
    """Pre-norm block; with `factorised`, spatial attention then temporal attention (ViViT Model 3)."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop=0.0, drop_path=0.0, norm_eps=1e-6,
                 factorised=False):
        super().__init__()
        self.factorised = factorised
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = FusedAttention(dim, num_heads, qkv_bias, proj_drop=drop)
        if factorised:
            self.temporal_norm1 = nn.LayerNorm(dim, eps=norm_eps)
            self.temporal_attn = FusedAttention(dim, num_heads, qkv_bias, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = drop_path

    def forward(self, x, t=None):
        """x: [B, L, D]; factorised: L = T'*S, t-major, t = T'."""
        dp = lambda y: drop_path(y, self.drop_path, self.training)  # noqa: E731
        if self.factorised:
            b, l, d = x.shape
            s = l // t
            xs = x.reshape(b * t, s, d)
            x = x + dp(self.attn(self.norm1(xs))).reshape(b, l, d)
            xt = x.reshape(b, t, s, d).transpose(1, 2).reshape(b * s, t, d)
            x = x + dp(self.temporal_attn(self.temporal_norm1(xt))).reshape(b, s, t, d).transpose(1, 2).reshape(b, l, d)
        else:
            x = x + dp(self.attn(self.norm1(x)))
        return x + dp(self.mlp(self.norm2(x)))


class ViViT(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=400, embed_dim=768, depth=12,
                 num_heads=12, temporal_depth=4, mlp_ratio=4.0, qkv_bias=True, num_frames=32, t_patch_size=2,
                 model="fact_encoder", drop_rate=0.0, drop_path_rate=0.0, norm_eps=1e-6):
        super().__init__()
        assert model in MODELS, model
        self.model = model
        D = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, D, num_frames, t_patch_size)
        self.t_grid, self.s_grid = self.patch_embed.t_grid_size, self.patch_embed.grid_size ** 2
        L = self.t_grid * self.s_grid
        dpr = [v.item() for v in torch.linspace(0, drop_path_rate, depth)]
        fsa = model == "divided_space_time"
        if model != "divided_space_time":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        n_pos = {"fact_encoder": 1 + self.s_grid, "joint_space_time": 1 + L, "divided_space_time": L}[model]
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, D))
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList([Block(D, num_heads, mlp_ratio, qkv_bias, drop_rate, dpr[i], norm_eps, fsa)
                                     for i in range(depth)])
        self.norm = nn.LayerNorm(D, eps=norm_eps)
        if model == "fact_encoder":
            self.temporal_cls_token = nn.Parameter(torch.zeros(1, 1, D))
            self.temporal_pos_embed = nn.Parameter(torch.zeros(1, 1 + self.t_grid, D))
            tdpr = [v.item() for v in torch.linspace(0, drop_path_rate, temporal_depth)]
            self.temporal_blocks = nn.ModuleList([Block(D, num_heads, mlp_ratio, qkv_bias, drop_rate, tdpr[i], norm_eps)
                                                  for i in range(temporal_depth)])
            self.temporal_norm = nn.LayerNorm(D, eps=norm_eps)
        self.head = nn.Linear(D, num_classes)
        self.initialize_weights()

    def initialize_weights(self):
        for name in ("cls_token", "pos_embed", "temporal_cls_token", "temporal_pos_embed"):
            p = getattr(self, name, None)
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        init_linear_and_norm(self, trunc=True)

    def forward_features(self, x):
        """x: [N, 3, T, H, W] -> [N, D] (the feature fed to the head)."""
        f = self.patch_embed(x)  # [N, T', S, D]
        n, t, s, d = f.shape
        if self.model == "fact_encoder":
            f = f.reshape(n * t, s, d)
            f = torch.cat([self.cls_token.expand(n * t, -1, -1), f], dim=1) + self.pos_embed
            f = self.pos_drop(f)
            for blk in self.blocks:
                f = blk(f)
            z = self.norm(f)[:, 0].reshape(n, t, d)
            z = torch.cat([self.temporal_cls_token.expand(n, -1, -1), z], dim=1) + self.temporal_pos_embed
            for blk in self.temporal_blocks:
                z = blk(z)
            return self.temporal_norm(z)[:, 0]
        f = f.reshape(n, t * s, d)
        if self.model == "joint_space_time":
            f = torch.cat([self.cls_token.expand(n, -1, -1), f], dim=1) + self.pos_embed
            f = self.pos_drop(f)
            for blk in self.blocks:
                f = blk(f)
            return self.norm(f)[:, 0]
        f = self.pos_drop(f + self.pos_embed)
        for blk in self.blocks:
            f = blk(f, t)
        return self.norm(f).mean(1)

    def forward(self, x):
        return self.head(self.forward_features(x))


def vivit_base_fe(**kw):
    """ViViT-B/16x2 factorised encoder (12 spatial + 4 temporal layers), 32 frames, 400 classes."""
    return ViViT(**{**dict(embed_dim=768, depth=12, num_heads=12, temporal_depth=4, num_frames=32,
                           model="fact_encoder"), **kw})


def attention_map(model, x):
    """Last (spatial) block's attention, averaged over heads: [N, T', S]. fact_encoder / joint: cls -> patches
    (fact_encoder: per time index, in the spatial encoder); divided (no cls): mean attention each patch receives from
    the patches of its time index. Explicit softmax, separate no-grad forward."""
    a = last_attention(model, x).mean(1)  # [B', L', L']
    n, t, s = x.shape[0], model.t_grid, model.s_grid
    if model.model == "divided_space_time":
        return a.mean(1).reshape(n, t, s)
    return a[:, 0, 1:].reshape(n, t, s)
