"""Evaluation views: short-side resize -> crop -> normalise, as the two upstreams do it (own code, NumPy/PyTorch).

Two conventions (same input: decoded uint8 frames `[T, H, W, 3]`, RGB):

* **mae_st test transform** (`util/kinetics.py` test mode -> `util/decoder/utils.py: spatial_sampling` with
  `spatial_idx` 0/1/2): `tensor_normalize` to float32 first, then `random_short_side_scale_jitter(min=max=size)`:
  no resize when the short side already equals `size`, else long side `floor((long / short) * size)` and
  `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` (no antialias) on float32; then
  `uniform_crop`: offsets `ceil((side - crop) / 2)`, with spatial_idx 0/2 moving to the start/end of the longer
  side (left/right for landscape and square, top/bottom for portrait). No rounding to uint8 anywhere.
* **Hugging Face `VideoMAEImageProcessor`** (PIL backend, `VideoMAEImageProcessorPil`): `get_resize_output_image_size`
  long side `int(size * long / short)` (floor), `resize` with `PILImageResampling.BILINEAR` (Pillow's separable
  triangle filter, widened by the scale when downsampling, i.e. antialiased; fixed-point, uint8 after each pass,
  horizontal pass first), `center_crop` offsets `(side - crop) // 2` (zero padding when the crop is larger),
  `rescale(1/255)` in float64 -> float32, `normalize`.

`pil_resize_bilinear` ports Pillow's `Resample.c` (`precompute_coeffs`, `normalize_coeffs_8bpc`,
`ImagingResampleHorizontal_8bpc` / `Vertical_8bpc`, `ImagingResampleInner`) so fixtures can be regenerated without
Pillow; `make_eval_views_fixture.py` checks it against the real processor bit for bit when Pillow is importable.
"""
import math

import numpy as np
import torch

PRECISION_BITS = 32 - 8 - 2  # Pillow's 8-bit fixed point


# ---------------------------------------------------------------- Hugging Face (PIL backend)

def hf_resize_output_size(height: int, width: int, shortest_edge: int) -> tuple[int, int]:
    """transformers `get_resize_output_image_size(default_to_square=False)`: (new_h, new_w), long side floored."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = shortest_edge, int(shortest_edge * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def _bilinear_filter(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def pil_coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pillow `precompute_coeffs` + `normalize_coeffs_8bpc` for BILINEAR (support 1) over the whole input.

    Returns `xmin [out]`, `taps [out]` (count of used inputs) and int fixed-point weights `[out, ksize]`.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    xmins, counts = np.zeros(out_size, np.int64), np.zeros(out_size, np.int64)
    kk = np.zeros((out_size, ksize), np.int64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # C (int) truncates toward zero, as int() does
        xmax = min(int(center + support + 0.5), in_size) - xmin
        w = [_bilinear_filter((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for v in w:
            ww += v
        if ww != 0.0:
            w = [v / ww for v in w]
        for x, v in enumerate(w):  # bilinear weights are >= 0: (int)(0.5 + w * 2^22)
            kk[xx, x] = int(0.5 + v * (1 << PRECISION_BITS))
        xmins[xx], counts[xx] = xmin, xmax
    return xmins, counts, kk


def _pil_pass(img: np.ndarray, in_size: int, out_size: int, axis: int) -> np.ndarray:
    """One 8-bit pass along `axis` of an int array (rounded, clipped to uint8 like Pillow's `clip8`)."""
    xmins, counts, kk = pil_coeffs(in_size, out_size)
    ksize = kk.shape[1]
    idx = np.minimum(xmins[:, None] + np.arange(ksize)[None], in_size - 1)  # unused taps have weight 0
    kk = np.where(np.arange(ksize)[None] < counts[:, None], kk, 0)
    moved = np.moveaxis(img.astype(np.int64), axis, -1)               # [..., in]
    acc = (moved[..., idx] * kk).sum(-1) + (1 << (PRECISION_BITS - 1))  # [..., out]
    out = np.clip(acc >> PRECISION_BITS, 0, 255)
    return np.moveaxis(out, -1, axis).astype(np.uint8)


def pil_resize_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """`PIL.Image.resize((out_w, out_h), BILINEAR)` of a uint8 `[H, W, C]` image (Pillow `ImagingResampleInner`)."""
    h, w = img.shape[:2]
    out = img
    if out_w != w:  # need_horizontal: the horizontal pass runs first, into a uint8 temporary
        out = _pil_pass(out, w, out_w, axis=1)
    if out_h != h:
        out = _pil_pass(out, h, out_h, axis=0)
    return out.astype(np.uint8)


def hf_center_crop(img: np.ndarray, crop_h: int, crop_w: int) -> np.ndarray:
    """transformers `center_crop` (NumPy) of `[H, W, C]`: offsets `(side - crop) // 2`, zero padding if too small."""
    h, w = img.shape[:2]
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    out = np.zeros((crop_h, crop_w) + img.shape[2:], img.dtype)
    ys, xs = np.arange(crop_h) + top, np.arange(crop_w) + left
    vy, vx = (ys >= 0) & (ys < h), (xs >= 0) & (xs < w)
    out[np.ix_(vy, vx)] = img[np.ix_(ys[vy], xs[vx])]
    return out


def hf_pixels(frames: np.ndarray, shortest_edge: int, crop: int) -> np.ndarray:
    """uint8 `[T, crop, crop, 3]`: `resize` (PIL bilinear) then `center_crop`, before rescale/normalize."""
    out = []
    for f in frames:
        nh, nw = hf_resize_output_size(f.shape[0], f.shape[1], shortest_edge)
        out.append(hf_center_crop(pil_resize_bilinear(f, nh, nw), crop, crop))
    return np.stack(out)


def hf_preprocess(frames: np.ndarray, shortest_edge: int, crop: int, mean, std) -> np.ndarray:
    """`VideoMAEImageProcessorPil` on one video: float32 `[T, 3, crop, crop]` (rescale in float64, then normalize)."""
    x = (hf_pixels(frames, shortest_edge, crop).astype(np.float64) * (1 / 255)).astype(np.float32)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


# ---------------------------------------------------------------- mae_st test transform

def tensor_normalize(frames: torch.Tensor, mean, std) -> torch.Tensor:
    """mae_st `tensor_normalize`: uint8 -> float32 / 255, minus mean, over std (channels last)."""
    x = frames.float() / 255.0
    return (x - torch.tensor(mean)) / torch.tensor(std)


def short_side_scale(images: torch.Tensor, size: int) -> torch.Tensor:
    """mae_st `random_short_side_scale_jitter(images, size, size)` on `[N, C, H, W]` (float)."""
    height, width = images.shape[2], images.shape[3]
    if (width <= height and width == size) or (height <= width and height == size):
        return images
    new_h, new_w = size, size
    if width < height:
        new_h = int(math.floor((float(height) / width) * size))
    else:
        new_w = int(math.floor((float(width) / height) * size))
    return torch.nn.functional.interpolate(images, size=(new_h, new_w), mode="bilinear", align_corners=False)


def uniform_crop_offsets(height: int, width: int, size: int, spatial_idx: int) -> tuple[int, int]:
    """mae_st `uniform_crop` offsets (y, x)."""
    y, x = int(math.ceil((height - size) / 2)), int(math.ceil((width - size) / 2))
    if height > width:
        y = 0 if spatial_idx == 0 else (height - size if spatial_idx == 2 else y)
    else:
        x = 0 if spatial_idx == 0 else (width - size if spatial_idx == 2 else x)
    return y, x


def mae_st_test_view(frames: np.ndarray, short_side: int, crop: int, spatial_idx: int, mean, std) -> np.ndarray:
    """mae_st test-mode view of uint8 `[T, H, W, 3]`: float32 `[3, T, crop, crop]` (normalised, no uint8 rounding)."""
    x = tensor_normalize(torch.from_numpy(np.ascontiguousarray(frames)), mean, std)
    x = x.permute(3, 0, 1, 2)  # T H W C -> C T H W (interpolate sees C as batch, T as channels)
    x = short_side_scale(x, short_side)
    y0, x0 = uniform_crop_offsets(x.shape[2], x.shape[3], crop, spatial_idx)
    return x[:, :, y0:y0 + crop, x0:x0 + crop].contiguous().numpy()
