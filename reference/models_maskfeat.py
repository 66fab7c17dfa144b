"""Reference MaskFeat (Wei et al. 2022, "Masked Feature Prediction for Self-Supervised Visual Pre-Training") with
the project's video ViT as backbone, and the HOG target, in plain PyTorch (written for this project from the paper).

The paper's video backbone is MViT(v2); MViT is NOT included here: the backbone is the mae_st-layout video ViT of
models_vit.py (Conv3d tubelets t=2, separable learned positions, cls token, q/k/v blocks), so MAE-ST checkpoints
initialise it directly.

HOG (as scikit-image's `hog` with `orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
block_norm='L2'`, applied to each colour channel separately, blocks taken at patch-aligned positions):
  * gradients by central differences without the 1/2 factor, zero on the image border rows/columns:
    g_row[i] = x[i+1] - x[i-1], g_col[j] = x[j+1] - x[j-1];
  * magnitude hypot(g_col, g_row); unsigned orientation deg(atan2(g_row, g_col)) mod 180;
  * hard binning into 9 bins of 20 degrees, per 8x8 cell: sum of magnitudes per bin / 64;
  * per patch (p/8 x p/8 cells) and channel: v / sqrt(sum v^2 + 1e-10) (skimage's 'L2', eps 1e-5).
  Token feature order: (channel, cell row, cell column, bin); 3*2*2*9 = 108 for 16x16 patches.
MaskFeat target: HOG of the centre frame (index t*u + u//2) of each t_patch=u cube, t-major tokens.
Model: patch embeddings of masked tokens (mask 1 = masked) are replaced by `mask_token`, then positions, cls, blocks,
`norm`, linear `pred_head` on the patch tokens; loss = MSE per token averaged over masked tokens.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from models_mae_st import init_linear_and_norm, Block, PatchEmbed, separable_pos_embed


def hog(frames: torch.Tensor, orientations=9, cell=8, cells_per_patch=2, eps=1e-5) -> torch.Tensor:
    """frames [N, C, H, W] -> [N, (H/P)*(W/P), C*cpp*cpp*orientations] (P = cell*cpp), computed in float64."""
    x = frames.to(torch.float64)
    n, c, h, w = x.shape
    P = cell * cells_per_patch
    assert h % P == 0 and w % P == 0, (h, w, P)
    g_row = torch.zeros_like(x)
    g_col = torch.zeros_like(x)
    g_row[:, :, 1:-1, :] = x[:, :, 2:, :] - x[:, :, :-2, :]
    g_col[:, :, :, 1:-1] = x[:, :, :, 2:] - x[:, :, :, :-2]
    mag = torch.hypot(g_col, g_row)
    ori = torch.remainder(torch.rad2deg(torch.atan2(g_row, g_col)), 180.0)
    b = torch.floor(ori / (180.0 / orientations)).long().clamp(0, orientations - 1)
    hist = torch.zeros(n, c, h, w, orientations, dtype=torch.float64)
    hist.scatter_(-1, b[..., None], mag[..., None])
    hist = hist.reshape(n, c, h // cell, cell, w // cell, cell, orientations).sum((3, 5)) / (cell * cell)
    hp, wp, k = h // P, w // P, cells_per_patch
    v = hist.reshape(n, c, hp, k, wp, k, orientations).permute(0, 2, 4, 1, 3, 5, 6).reshape(n, hp * wp, c, -1)
    v = v / torch.sqrt((v ** 2).sum(-1, keepdim=True) + eps ** 2)
    return v.reshape(n, hp * wp, -1)


def centre_frames(num_frames, t_patch):
    return [t * t_patch + t_patch // 2 for t in range(num_frames // t_patch)]


class MaskFeat(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12,
                 mlp_ratio=4.0, qkv_bias=True, num_frames=16, t_patch_size=2, cls_embed=True, mask_ratio=0.4,
                 hog_orientations=9, hog_cell=8, drop_path_rate=0.0, norm_eps=1e-6):
        super().__init__()
        assert patch_size % hog_cell == 0
        self.cls_embed, self.mask_ratio = cls_embed, mask_ratio
        self.hog_orientations, self.hog_cell = hog_orientations, hog_cell
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, num_frames, t_patch_size)
        self.t_grid, self.s_grid = self.patch_embed.t_grid_size, self.patch_embed.grid_size ** 2
        D = embed_dim
        if cls_embed:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
            self.pos_embed_class = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed_spatial = nn.Parameter(torch.zeros(1, self.s_grid, D))
        self.pos_embed_temporal = nn.Parameter(torch.zeros(1, self.t_grid, D))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D))
        dpr = [v.item() for v in torch.linspace(0, drop_path_rate, depth)]
        self.blocks = nn.ModuleList([Block(D, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop_path=dpr[i],
                                           norm_eps=norm_eps) for i in range(depth)])
        self.norm = nn.LayerNorm(D, eps=norm_eps)
        self.feature_dim = in_chans * (patch_size // hog_cell) ** 2 * hog_orientations
        self.pred_head = nn.Linear(D, self.feature_dim)
        self.initialize_weights()

    def initialize_weights(self):
        for name in ("cls_token", "pos_embed_class", "pos_embed_spatial", "pos_embed_temporal", "mask_token"):
            p = getattr(self, name, None)
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        init_linear_and_norm(self, trunc=True)

    def forward_target(self, x):
        """x [N, 3, T, H, W] -> HOG of each cube's centre frame, [N, T'*S, feature_dim] (float32)."""
        n, c, t, h, w = x.shape
        idx = torch.tensor(centre_frames(t, self.patch_embed.t_patch_size))
        frames = x.index_select(2, idx).transpose(1, 2).reshape(n * len(idx), c, h, w)
        f = hog(frames, self.hog_orientations, self.hog_cell, self.patch_embed.patch_size // self.hog_cell)
        return f.reshape(n, len(idx) * f.shape[1], -1).to(torch.float32)

    def forward_features(self, x, mask):
        """x [N, 3, T, H, W], mask [N, L] (1 = masked) -> [N, L, D] after norm (cls removed)."""
        f = self.patch_embed(x)
        n, t, s, d = f.shape
        f = f.reshape(n, t * s, d)
        m = mask.to(f.dtype)[..., None]
        f = f * (1 - m) + self.mask_token * m
        f = f + separable_pos_embed(self.pos_embed_spatial, self.pos_embed_temporal, t, s)
        if self.cls_embed:
            f = torch.cat([(self.cls_token + self.pos_embed_class).expand(n, -1, -1), f], dim=1)
        for blk in self.blocks:
            f = blk(f)
        f = self.norm(f)
        return f[:, 1:] if self.cls_embed else f

    def forward(self, x, mask):
        pred = self.pred_head(self.forward_features(x, mask))
        target = self.forward_target(x)
        loss = ((pred - target) ** 2).mean(-1)
        m = mask.to(loss.dtype)
        return (loss * m).sum() / m.sum(), pred, target


def num_masked(mask_ratio, num_tokens):
    return int(math.floor(mask_ratio * num_tokens + 0.5))


def maskfeat_vit_base(**kw):
    """MaskFeat with the ViT-B/16 video backbone (16 frames, t_patch 2)."""
    return MaskFeat(**{**dict(embed_dim=768, depth=12, num_heads=12, num_frames=16), **kw})
