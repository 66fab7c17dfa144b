"""Reference spatiotemporal masked autoencoder (MAE-ST / VideoMAE style) in plain PyTorch.

Written for this project from the papers ("Masked Autoencoders As Spatiotemporal Learners",
Feichtenhofer et al. 2022; "VideoMAE", Tong et al. 2022) and the published architectures'
*facts* (parameter names, shapes, initialisation, patchify order).  It is the ground truth
that the Swift `Models` target is checked against; see reference/README.md.

Conventions (the contract with the Swift side):
  * input video x: [N, C=3, T, H, W] float32.
  * tokens are t-major: token index l = t * S + s, with S = (H/p) * (W/p), s = h * (W/p) + w.
  * mask: [N, L] float, 1 = removed (masked), 0 = kept (visible).
  * every masking decision is a deterministic function of an explicit `noise` tensor
    (shape depends on `mask_type`, see `noise_shape` / `masking`).
  * patchify channel order per token: (u, p, q, c) with c fastest, i.e. feature index
    ((u * p + i) * p + j) * 3 + c for temporal offset u, row i, column j, channel c.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# "sdpa" -> F.scaled_dot_product_attention, "explicit" -> softmax(q k^T * scale) v.
ATTN_IMPLS = ("sdpa", "explicit")
MASK_TYPES = ("random", "tube", "temporal", "boundary", "time_slice", "window")


# ----------------------------------------------------------------------------------------------
# Building blocks (shared with models_vit.py)
# ----------------------------------------------------------------------------------------------
def sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """VideoMAE / "Attention is all you need" 1-D sinusoid table, shape [1, n_position, dim].

    angle(pos, j) = pos / 10000 ** (2 * (j // 2) / dim); even j -> sin, odd j -> cos
    (interleaved, not concatenated).  Computed in float64, returned as float32.
    """
    pos = torch.arange(n_position, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    expo = 2.0 * torch.div(j, 2, rounding_mode="floor") / dim
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), expo)
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.to(torch.float32)[None]


class PatchEmbed(nn.Module):
    """Conv3d patch embedding; kernel = stride = (t_patch_size, p, p). Output [N, T', S, D]."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim, num_frames, t_patch_size):
        super().__init__()
        assert img_size % patch_size == 0 and num_frames % t_patch_size == 0
        self.img_size, self.patch_size = img_size, patch_size
        self.num_frames, self.t_patch_size = num_frames, t_patch_size
        self.grid_size = img_size // patch_size
        self.t_grid_size = num_frames // t_patch_size
        self.input_size = (self.t_grid_size, self.grid_size, self.grid_size)
        self.num_patches = self.t_grid_size * self.grid_size * self.grid_size
        k = (t_patch_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=k, stride=k)

    def forward(self, x):
        n, _, t, h, w = x.shape
        assert h == self.img_size and w == self.img_size and t == self.num_frames, x.shape
        y = self.proj(x)  # [N, D, T', H', W']
        d = y.shape[1]
        return y.flatten(3).permute(0, 2, 3, 1).reshape(n, self.t_grid_size, -1, d)


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v projections (mae_st key layout)."""

    def __init__(self, dim, num_heads, qkv_bias=True, k_bias=None, proj_drop=0.0):
        super().__init__()
        assert dim % num_heads == 0
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias if k_bias is None else k_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.impl = "sdpa"

    def forward(self, x):
        b, n, c = x.shape

        def heads(t):
            return t.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        if self.impl == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v)
        elif self.impl == "explicit":
            a = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
            o = a @ v
        else:
            raise ValueError(self.impl)
        o = o.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(o))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def drop_path(x, p: float, training: bool):
    """Stochastic depth: drop the whole residual branch per sample, rescale kept by 1/(1-p)."""
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    m = x.new_empty(shape).bernoulli_(keep)
    return x * m / keep


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)); x + mlp(norm2(x))."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True, k_bias=None, drop=0.0,
                 drop_path=0.0, norm_eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, k_bias=k_bias, proj_drop=drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = drop_path

    def forward(self, x):
        x = x + drop_path(self.attn(self.norm1(x)), self.drop_path, self.training)
        x = x + drop_path(self.mlp(self.norm2(x)), self.drop_path, self.training)
        return x


def set_attn_impl(model: nn.Module, impl: str) -> None:
    assert impl in ATTN_IMPLS
    for m in model.modules():
        if isinstance(m, Attention):
            m.impl = impl


def add_pos_embeds(m: nn.Module, prefix: str, D: int, cls_embed: bool) -> None:
    """m's `{prefix}pos_embed*` of width D over its t_grid x s_grid patch tokens: learned separable (m.sep_pos_embed:
    `_spatial`, `_temporal`, `_class` with cls), learned joint (m.joint_pos_embed, mae_st sep_pos_embed=False: one
    table over (cls +) the L patch tokens), else the fixed VideoMAE 1-D sinusoid over the L patch tokens (the cls token
    gets none; non-persistent: not in state_dict, fixtures store it as `buffer.pos_embed`)."""
    L = m.t_grid * m.s_grid
    if m.sep_pos_embed:
        setattr(m, prefix + "pos_embed_spatial", nn.Parameter(torch.zeros(1, m.s_grid, D)))
        setattr(m, prefix + "pos_embed_temporal", nn.Parameter(torch.zeros(1, m.t_grid, D)))
        if cls_embed:
            setattr(m, prefix + "pos_embed_class", nn.Parameter(torch.zeros(1, 1, D)))
    elif m.joint_pos_embed:
        setattr(m, prefix + "pos_embed", nn.Parameter(torch.zeros(1, L + int(cls_embed), D)))
    else:
        m.register_buffer(prefix + "pos_embed", sinusoid_table(L, D), persistent=False)


def separable_pos_embed(spatial, temporal, t_grid, s_grid):
    """[1, T'*S, D]: spatial repeated over T' + temporal repeat-interleaved over S (t-major)."""
    return spatial.repeat(1, t_grid, 1) + torch.repeat_interleave(temporal, s_grid, dim=1)


# ----------------------------------------------------------------------------------------------
# Masking
# ----------------------------------------------------------------------------------------------
def noise_shape(mask_type: str, n: int, t_grid: int, s_grid: int):
    """optimized-stmae's `temporal` / `boundary` are fixed patterns: no noise ([N, 0])."""
    return {"random": (n, t_grid * s_grid), "tube": (n, s_grid), "time_slice": (n, t_grid), "window": (n, 1),
            "temporal": (n, 0), "boundary": (n, 0)}[mask_type]


def num_kept(mask_type: str, mask_ratio: float, t_grid: int, s_grid: int) -> int:
    """Number of visible tokens per sample (same for every sample)."""
    if mask_type in ("random", "temporal", "boundary"):   # mae_st / optimized-stmae: len_keep = int(L * (1 - ratio))
        return int(t_grid * s_grid * (1 - mask_ratio))
    if mask_type == "tube":            # VideoMAE: num_masked = int(ratio * S) per frame
        return (s_grid - int(mask_ratio * s_grid)) * t_grid
    if mask_type in ("time_slice", "window"):   # whole time slices: masked = int(ratio * T')
        return (t_grid - int(mask_ratio * t_grid)) * s_grid
    raise ValueError(mask_type)


def masking(mask_type: str, noise: torch.Tensor, mask_ratio: float, t_grid: int, s_grid: int):
    """Deterministic masking from `noise`. Returns (ids_keep [N,K], ids_restore [N,L], mask [N,L]).

    ids_shuffle = cat(kept ids, removed ids); ids_restore = argsort(ids_shuffle), so that
    gather(cat(kept_tokens, mask_tokens), ids_restore) puts every token back at its index.

    random   : noise [N, L]; ids_shuffle = argsort(noise) (ascending: small noise = kept);
               keep the first int(L*(1-r)); kept tokens stay in *noise order* (mae_st).
    tube     : noise [N, S]; argsort(noise) over spatial positions, the first S - int(r*S)
               spatial positions are visible in EVERY time slice (VideoMAE tube masking).
    temporal : optimized-stmae's: no noise; the first K = int(L*(1-r)) tokens in token (= time) order are
               visible, every later one removed (the past predicts the future).
    boundary : optimized-stmae's: no noise; the first K - K//2 and the last K//2 tokens (K = int(L*(1-r)))
               are visible — both ends of the clip — and the middle is removed.
    time_slice: noise [N, T']; argsort(noise) over time slices, the first T' - int(r*T') slices
               are visible in full, the others removed in full (paper's "time-only" masking).
    window   : noise [N, 1] in [0, 1); project-defined: one contiguous window of
               k = T' - int(r*T') visible time slices starting at
               start = min(floor(noise * (T' - k + 1)), T' - k); every slice outside it (towards
               both clip boundaries) is removed.
    For all but random the kept (and removed) ids are in ascending token order
    (t-major), i.e. ids_shuffle = stable argsort of the mask.
    """
    n = noise.shape[0]
    L = t_grid * s_grid
    assert tuple(noise.shape) == noise_shape(mask_type, n, t_grid, s_grid), (mask_type, noise.shape)
    keep = num_kept(mask_type, mask_ratio, t_grid, s_grid)
    assert 0 < keep <= L
    dev = noise.device
    if mask_type == "random":
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        mask = torch.ones(n, L, device=dev)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        return ids_shuffle[:, :keep], ids_restore, mask
    if mask_type == "tube":
        s_keep = keep // t_grid
        order = torch.argsort(noise, dim=1)
        sm = torch.ones(n, s_grid, device=dev)
        sm.scatter_(1, order[:, :s_keep], 0.0)
        mask = sm.repeat(1, t_grid)                     # token t*S+s -> sm[s]
    elif mask_type in ("temporal", "boundary"):
        head = keep if mask_type == "temporal" else keep - keep // 2
        pos = torch.arange(L, device=dev)[None, :].expand(n, L)
        mask = ((pos >= head) & (pos < L - (keep - head))).float()
    elif mask_type == "time_slice":
        t_keep = keep // s_grid
        order = torch.argsort(noise, dim=1)
        tm = torch.ones(n, t_grid, device=dev)
        tm.scatter_(1, order[:, :t_keep], 0.0)
        mask = torch.repeat_interleave(tm, s_grid, dim=1)  # token t*S+s -> tm[t]
    elif mask_type == "window":
        t_keep = keep // s_grid
        start = torch.clamp(torch.floor(noise[:, 0] * (t_grid - t_keep + 1)).long(), 0, t_grid - t_keep)
        t_idx = torch.arange(t_grid, device=dev)[None, :]
        tm = ((t_idx < start[:, None]) | (t_idx >= start[:, None] + t_keep)).float()
        mask = torch.repeat_interleave(tm, s_grid, dim=1)
    else:
        raise ValueError(mask_type)
    ids_shuffle = torch.argsort(mask, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle[:, :keep], ids_restore, mask


def gather_tokens(x, ids):
    """x [N, L, D], ids [N, K] -> [N, K, D]."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------
def init_linear_and_norm(model: nn.Module, trunc: bool = False) -> None:
    """MAE's `_init_weights` over `model.modules()`: Linear weights xavier-uniform (or trunc-normal 0.02), biases 0;
    LayerNorm weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if trunc:
                nn.init.trunc_normal_(m.weight, std=0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class MaskedAutoencoderViT(nn.Module):
    """Spatiotemporal MAE with ViT encoder/decoder; state-dict keys follow mae_st's models_mae.py."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=1024, depth=24, num_heads=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=4.0,
                 norm_pix_loss=False, num_frames=16, t_patch_size=2, pred_t_dim=8, cls_embed=True,
                 sep_pos_embed=True, qkv_bias=True, mask_type="random", mask_ratio=0.9, norm_eps=1e-6,
                 trunc_init=False, decoder_mask_ratio=0.0, sincos_pos_embed=False):
        super().__init__()
        assert mask_type in MASK_TYPES
        assert in_chans == 3, "patchify assumes 3 channels (as mae_st)"
        assert (t_patch_size * pred_t_dim) % num_frames == 0
        # positions: sincos_pos_embed -> fixed sinusoid (VideoMAE), else sep_pos_embed -> learned separable,
        # else learned joint `pos_embed` over space-time (mae_st sep_pos_embed=False)
        self.cls_embed, self.sincos_pos_embed = cls_embed, sincos_pos_embed
        self.sep_pos_embed = sep_pos_embed and not sincos_pos_embed
        self.joint_pos_embed = not sep_pos_embed and not sincos_pos_embed
        self.norm_pix_loss, self.mask_type, self.mask_ratio = norm_pix_loss, mask_type, mask_ratio
        assert 0.0 <= decoder_mask_ratio < 1.0
        self.decoder_mask_ratio = decoder_mask_ratio
        self.num_frames, self.pred_t_dim = num_frames, pred_t_dim
        self.t_pred_patch_size = t_patch_size * pred_t_dim // num_frames
        self.trunc_init = trunc_init

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, num_frames, t_patch_size)
        self.t_grid = self.patch_embed.t_grid_size
        self.s_grid = self.patch_embed.grid_size ** 2
        L = self.patch_embed.num_patches
        D, Dd = embed_dim, decoder_embed_dim

        if cls_embed:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
            self.decoder_cls_token = nn.Parameter(torch.zeros(1, 1, Dd))
        add_pos_embeds(self, "", D, cls_embed)

        self.blocks = nn.ModuleList(
            [Block(D, num_heads, mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(D, eps=norm_eps)

        self.decoder_embed = nn.Linear(D, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        add_pos_embeds(self, "decoder_", Dd, cls_embed)
        self.decoder_blocks = nn.ModuleList(
            [Block(Dd, decoder_num_heads, mlp_ratio, qkv_bias=qkv_bias, norm_eps=norm_eps)
             for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(Dd, eps=norm_eps)
        self.decoder_pred = nn.Linear(Dd, self.t_pred_patch_size * patch_size ** 2 * in_chans)
        self.initialize_weights()

    # -- init (MAE / mae_st) ------------------------------------------------------------------
    def initialize_weights(self):
        for name in ("cls_token", "pos_embed_spatial", "pos_embed_temporal", "pos_embed_class",
                     "decoder_pos_embed_spatial", "decoder_pos_embed_temporal", "decoder_pos_embed_class",
                     "pos_embed", "decoder_pos_embed"):
            p = getattr(self, name, None)
            if isinstance(p, nn.Parameter):
                nn.init.trunc_normal_(p, std=0.02)  # truncation at +-2 (absolute), as timm/torch default
        # NOTE: mae_st leaves decoder_cls_token at zero (it is never initialised).
        w = self.patch_embed.proj.weight.data
        if self.trunc_init:
            nn.init.trunc_normal_(w)
            nn.init.trunc_normal_(self.mask_token, std=0.02)
        else:
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
            nn.init.normal_(self.mask_token, std=0.02)
        # patch_embed.proj.bias keeps PyTorch's Conv3d default U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        # fan_in = in_chans * t_patch * p * p (mae_st does not re-initialise it).
        init_linear_and_norm(self, trunc=self.trunc_init)

    # -- patchify -------------------------------------------------------------------------------
    def patchify(self, imgs):
        """imgs [N, 3, T2, H, W] -> [N, (T2/u)*(H/p)*(W/p), u*p*p*3], per-token order (u, p, q, c)."""
        n, c, t2, h, w = imgs.shape
        p, u = self.patch_embed.patch_size, self.t_pred_patch_size
        x = imgs.reshape(n, c, t2 // u, u, h // p, p, w // p, p)
        x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)  # n t h w u p q c
        return x.reshape(n, (t2 // u) * (h // p) * (w // p), u * p * p * c)

    def unpatchify(self, x, t2=None):
        n = x.shape[0]
        p, u = self.patch_embed.patch_size, self.t_pred_patch_size
        t2 = t2 or self.pred_t_dim
        g = self.patch_embed.grid_size
        x = x.reshape(n, t2 // u, g, g, u, p, p, 3).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(n, 3, t2, g * p, g * p)

    def target_frame_indices(self, device=None):
        return torch.linspace(0, self.num_frames - 1, self.pred_t_dim, device=device).long()

    # -- positional embeddings -------------------------------------------------------------------
    def _patch_pos(self):
        """[1, L, D]: positions of the patch tokens (joint: the rows after the cls row)."""
        if self.sep_pos_embed:
            return separable_pos_embed(self.pos_embed_spatial, self.pos_embed_temporal, self.t_grid, self.s_grid)
        return self.pos_embed[:, int(self.cls_embed):] if self.joint_pos_embed else self.pos_embed

    def _decoder_patch_pos(self):
        if self.sep_pos_embed:
            return separable_pos_embed(self.decoder_pos_embed_spatial, self.decoder_pos_embed_temporal,
                                       self.t_grid, self.s_grid)
        return self.decoder_pos_embed[:, int(self.cls_embed):] if self.joint_pos_embed else self.decoder_pos_embed

    def _cls_pos(self, decoder=False):
        """[1, 1, D] position of the cls token, or None (sinusoid: none)."""
        if self.sep_pos_embed:
            return self.decoder_pos_embed_class if decoder else self.pos_embed_class
        if self.joint_pos_embed:
            return (self.decoder_pos_embed if decoder else self.pos_embed)[:, :1]
        return None

    # -- forward -----------------------------------------------------------------------------------
    def forward_encoder(self, x, ids_keep):
        x = self.patch_embed(x)
        n, t, s, d = x.shape
        x = x.reshape(n, t * s, d)
        pos = self._patch_pos().expand(n, -1, -1)
        x = gather_tokens(x, ids_keep) + gather_tokens(pos, ids_keep)
        if self.cls_embed:
            cls = self.cls_token.expand(n, -1, -1)
            if self._cls_pos() is not None:
                cls = cls + self._cls_pos()
            x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x[:, 1:] if self.cls_embed else x

    def _prepend_decoder_cls(self, x):
        if not self.cls_embed:
            return x
        cls = self.decoder_cls_token.expand(x.shape[0], -1, -1)
        if self._cls_pos(decoder=True) is not None:
            cls = cls + self._cls_pos(decoder=True)
        return torch.cat([cls, x], dim=1)

    def forward_decoder(self, x, ids_restore):
        n, k, _ = x.shape
        L = ids_restore.shape[1]
        x = self.decoder_embed(x)
        x = torch.cat([x, self.mask_token.expand(n, L - k, -1)], dim=1)
        x = gather_tokens(x, ids_restore)  # unshuffle
        x = x + self._decoder_patch_pos()
        x = self._prepend_decoder_cls(x)
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:] if self.cls_embed else x

    def forward_decoder_masked(self, x, ids_keep, ids_decode):
        """Dual masking (VideoMAE V2): the decoder sees the visible tokens (at their positions) and mask tokens at
        `ids_decode` only; attention is order-free, so no unshuffle. x: [N, K, D] -> pred [N, M, u*p*p*3]."""
        n, m = x.shape[0], ids_decode.shape[1]
        pos = self._decoder_patch_pos().expand(n, -1, -1)
        vis = self.decoder_embed(x) + gather_tokens(pos, ids_keep)
        msk = self.mask_token.expand(n, m, -1) + gather_tokens(pos, ids_decode)
        x = torch.cat([vis, msk], dim=1)
        x = self._prepend_decoder_cls(x)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x[:, -m:]))

    def forward_target(self, imgs):
        idx = self.target_frame_indices(imgs.device)
        target = self.patchify(torch.index_select(imgs, 2, idx))
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)  # unbiased
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return target

    def forward_loss(self, imgs, pred, mask):
        target = self.forward_target(imgs)
        loss = ((pred - target) ** 2).mean(dim=-1)  # [N, L]
        return (loss * mask).sum() / mask.sum()

    def forward(self, x, noise, mask_ratio=None, decoder_noise=None):
        r = self.mask_ratio if mask_ratio is None else mask_ratio
        ids_keep, ids_restore, mask = masking(self.mask_type, noise, r, self.t_grid, self.s_grid)
        latent = self.forward_encoder(x, ids_keep)
        if self.decoder_mask_ratio > 0:
            ids_decode = decoder_masking(mask, decoder_noise, self.decoder_mask_ratio)
            pred = self.forward_decoder_masked(latent, ids_keep, ids_decode)
            target = gather_tokens(self.forward_target(x), ids_decode)
            return ((pred - target) ** 2).mean(), pred, mask
        pred = self.forward_decoder(latent, ids_restore)
        loss = self.forward_loss(x, pred, mask)
        return loss, pred, mask

    def make_noise(self, n, generator=None):
        return torch.rand(noise_shape(self.mask_type, n, self.t_grid, self.s_grid), generator=generator)

    def make_decoder_noise(self, n, generator=None):
        return torch.rand(n, self.t_grid * self.s_grid, generator=generator)


def decoder_masking(mask, decoder_noise, ratio):
    """Of the masked tokens (mask 1), the decoder keeps int(masked * (1 - ratio)) -- those of smallest decoder noise
    [N, L] (random over the masked tokens; VideoMAE V2 uses a running-cell pattern instead). -> ids [N, M]."""
    masked = int(mask[0].sum().item())
    m = max(1, int(masked * (1 - ratio)))
    return torch.argsort(decoder_noise + (1 - mask) * 2, dim=1)[:, :m]


def _factory(embed_dim, depth, num_heads, patch_size):
    def make(**kw):
        kw.setdefault("patch_size", patch_size)
        return MaskedAutoencoderViT(embed_dim=embed_dim, depth=depth, num_heads=num_heads, **kw)
    return make


# The standard sizes (stmae's ModelSize table): name -> (embed dim, depth, heads, patch). vit_tiny is stmae's test size.
VIT_SIZES = {
    "vit_small_patch16": (384, 12, 6, 16), "vit_base_patch16": (768, 12, 12, 16),
    "vit_large_patch16": (1024, 24, 16, 16), "vit_huge_patch14": (1280, 32, 16, 14), "vit_tiny": (192, 4, 3, 16),
}
# mae_vit_small_patch16, …, mae_vit_tiny
globals().update({"mae_" + name: _factory(*size) for name, size in VIT_SIZES.items()})
