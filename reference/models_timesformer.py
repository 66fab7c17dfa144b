"""Reference TimeSformer (Bertasius, Wang, Torresani 2021, "Is Space-Time Attention All You Need for Video
Understanding?") in plain PyTorch, written for this project from the paper and the published checkpoint layout.

State-dict keys follow the released TimeSformer checkpoints (timm ViT layout plus temporal parts):
  patch_embed.proj.{weight [D,3,p,p], bias}   2-D patches, applied to every frame
  cls_token [1,1,D], pos_embed [1,1+S,D]      spatial positions (index 0 = cls)
  time_embed [1,T,D]                          temporal positions (not for space_only)
  blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}
  blocks.i.{temporal_norm1, temporal_attn.qkv, temporal_attn.proj, temporal_fc}   (divided_space_time only)
  norm, head

Input x: [N, 3, T, H, W]. Patch tokens are ordered space-major, (s, t): index s*T + t (as the paper's code), with
s = h*(W/p) + w. The logits do not depend on that internal order.

Attention types:
  divided_space_time: temporal attention over the T tokens of each spatial position (cls excluded), `temporal_fc`,
      residual; then spatial attention over the S tokens of each frame, each frame with its own copy of the cls token;
      the T cls outputs are averaged; residual; MLP.
  joint_space_time:  one attention over cls + all S*T tokens.
  space_only:        frames processed independently (each with cls, no time_embed); tokens averaged over frames
      after the last block.
Classifier: norm -> token 0 -> head.
Init (as the paper's code): trunc-normal(.02) for Linear weights, pos_embed, cls_token; Linear bias 0; LN 1/0;
time_embed 0; every temporal_fc zero, so a fresh divided block starts as its image block.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from models_mae_st import init_linear_and_norm, Mlp, drop_path

ATTENTION_TYPES = ("divided_space_time", "joint_space_time", "space_only")


class FusedAttention(nn.Module):
    """timm attention: one `qkv` Linear (q, k, v stacked on the output dim), `proj`. x: [B, L, D]."""

    def __init__(self, dim, num_heads, qkv_bias=True, attn_drop=0.0, proj_drop=0.0):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop, self.proj_drop = attn_drop, nn.Dropout(proj_drop)
        self.last_attn = None  # [B, H, L, L] when `keep_attn` is set (visualisation)
        self.keep_attn = False

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.keep_attn:
            a = torch.softmax(q @ k.transpose(-2, -1) * (c // self.num_heads) ** -0.5, dim=-1)
            self.last_attn = a.detach()
            o = a @ v
        else:
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(o.transpose(1, 2).reshape(b, n, c)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop=0.0, drop_path=0.0, norm_eps=1e-6,
                 attention_type="divided_space_time"):
        super().__init__()
        self.attention_type = attention_type
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = FusedAttention(dim, num_heads, qkv_bias, proj_drop=drop)
        if attention_type == "divided_space_time":
            self.temporal_norm1 = nn.LayerNorm(dim, eps=norm_eps)
            self.temporal_attn = FusedAttention(dim, num_heads, qkv_bias, proj_drop=drop)
            self.temporal_fc = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = drop_path

    def forward(self, x, t):
        """x: [B, 1 + S*T, D] (space_only: [B*T, 1 + S, D])."""
        dp = lambda y: drop_path(y, self.drop_path, self.training)  # noqa: E731
        if self.attention_type != "divided_space_time":
            x = x + dp(self.attn(self.norm1(x)))
            return x + dp(self.mlp(self.norm2(x)))
        b, _, d = x.shape
        s = (x.shape[1] - 1) // t
        # temporal: the T tokens of each spatial position
        xt = x[:, 1:].reshape(b * s, t, d)
        res_t = dp(self.temporal_attn(self.temporal_norm1(xt))).reshape(b, s * t, d)
        xt = x[:, 1:] + self.temporal_fc(res_t)
        # spatial: the S tokens of each frame, each frame with the cls token
        cls0 = x[:, :1]
        xs = xt.reshape(b, s, t, d).transpose(1, 2).reshape(b * t, s, d)
        xs = torch.cat([cls0.repeat_interleave(t, dim=0), xs], dim=1)
        res_s = dp(self.attn(self.norm1(xs)))
        cls_s = res_s[:, :1].reshape(b, t, d).mean(1, keepdim=True)
        res_s = res_s[:, 1:].reshape(b, t, s, d).transpose(1, 2).reshape(b, s * t, d)
        x = torch.cat([cls0, xt], dim=1) + torch.cat([cls_s, res_s], dim=1)
        return x + dp(self.mlp(self.norm2(x)))


class TimeSformer(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=400, embed_dim=768, depth=12,
                 num_heads=12, mlp_ratio=4.0, qkv_bias=True, num_frames=8, attention_type="divided_space_time",
                 drop_rate=0.0, drop_path_rate=0.0, norm_eps=1e-6):
        super().__init__()
        assert attention_type in ATTENTION_TYPES, attention_type
        assert img_size % patch_size == 0
        self.attention_type, self.num_frames, self.patch_size = attention_type, num_frames, patch_size
        self.s_grid = (img_size // patch_size) ** 2
        D = embed_dim
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(in_chans, D, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.s_grid, D))
        if attention_type != "space_only":
            self.time_embed = nn.Parameter(torch.zeros(1, num_frames, D))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = [v.item() for v in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList([Block(D, num_heads, mlp_ratio, qkv_bias, drop_rate, dpr[i], norm_eps,
                                           attention_type) for i in range(depth)])
        self.norm = nn.LayerNorm(D, eps=norm_eps)
        self.head = nn.Linear(D, num_classes)
        self.initialize_weights()

    def initialize_weights(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        init_linear_and_norm(self, trunc=True)
        for blk in self.blocks:
            if hasattr(blk, "temporal_fc"):
                nn.init.zeros_(blk.temporal_fc.weight)
                nn.init.zeros_(blk.temporal_fc.bias)

    def forward_features(self, x):
        """x: [N, 3, T, H, W] -> normed cls features [N, D]."""
        n, c, t, h, w = x.shape
        assert t == self.num_frames, x.shape
        f = self.patch_embed.proj(x.transpose(1, 2).reshape(n * t, c, h, w))  # [(N T), D, H', W']
        f = f.flatten(2).transpose(1, 2)  # [(N T), S, D]
        d = f.shape[-1]
        f = torch.cat([self.cls_token.expand(n * t, -1, -1), f], dim=1) + self.pos_embed
        f = self.pos_drop(f)
        if self.attention_type == "space_only":
            for blk in self.blocks:
                f = blk(f, t)
            f = f.reshape(n, t, -1, d).mean(1)
        else:
            cls = f[:n, :1]  # cls + pos_embed[0] (identical in every row)
            p = f[:, 1:].reshape(n, t, self.s_grid, d).transpose(1, 2) + self.time_embed[:, None]  # [N, S, T, D]
            f = torch.cat([cls, self.pos_drop(p).reshape(n, self.s_grid * t, d)], dim=1)
            for blk in self.blocks:
                f = blk(f, t)
        return self.norm(f)[:, 0]

    def forward(self, x):
        return self.head(self.forward_features(x))


def timesformer_base_patch16_224(**kw):
    """TimeSformer (ViT-B/16, 8x224, divided space-time), 400 classes: 121.4M parameters."""
    return TimeSformer(**{**dict(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12, num_frames=8,
                                 num_classes=400), **kw})


def last_attention(model, x):
    """The last block's attention probabilities [B', H, L', L'], from a separate no-grad forward of x."""
    attn = model.blocks[-1].attn
    attn.keep_attn = True
    try:
        with torch.no_grad():
            model(x)
    finally:
        attn.keep_attn = False
    return attn.last_attn


def cls_attention_map(model, x):
    """Last block's attention from the cls token to the patches, averaged over heads: [N, T, S] (time-major,
    s = h*W'+w).

    divided / space_only: the spatial attention of each frame (cls row); joint: the cls row over all S*T patches.
    Computed with an explicit softmax in a separate no-grad forward."""
    a = last_attention(model, x)[:, :, 0, 1:].mean(1)  # [B', patches]
    n, t, s = x.shape[0], model.num_frames, model.s_grid
    if model.attention_type == "joint_space_time":
        return a.reshape(n, s, t).transpose(1, 2)
    return a.reshape(n, t, s)
