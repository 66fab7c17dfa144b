"""Writes Tests/DatasetsTests/Fixtures/eval_views.safetensors: evaluation views of deterministic frames.

Per case `<name>` (frames `test_frames(T, H, W)`, rebuilt bit for bit by the Swift test from the same integer formula):
  `<name>.params`  int64 [W, H, T, short_side, crop]
  `<name>.sum`     int64 [1], sum of the input bytes (the Swift test checks it rebuilt the same frames)
  `<name>.hf`      uint8 [T, crop, crop, 3]: transformers `VideoMAEImageProcessor` (PIL backend) pixels after
                   resize + center_crop; its float output is exactly `(hf / 255 - mean) / std` (checked here)
  `<name>.mae_st.<i>` float32 [3, T, crop, crop]: mae_st's test view with spatial_idx i (normalised)
MEAN/STD are in the metadata. With Pillow importable the HF pixels come from the real processor
(`VideoMAEImageProcessorPil`, transformers from .pylibs) and must equal `eval_views_ref.pil_resize_bilinear`'s
port bit for bit; without Pillow the port is used (same bytes). mae_st views come from `eval_views_ref`
(PyTorch `interpolate`, as mae_st's `util/decoder/transform.py`).

  PYTHONPATH=.torch:.pylibs:reference python3 reference/make_eval_views_fixture.py [--check]
"""
import os
import sys

# PyTorch's AVX2/AVX-512 bilinear kernels compute the source position with one FMA (as CUDA does); the baseline
# kernel rounds twice (outputs move by up to ~0.003 pixel levels). Pin the common one so regeneration is stable.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import eval_views_ref as R  # noqa: E402
import st_io  # noqa: E402

OUT = os.path.join(st_io.fixtures_dir("DatasetsTests"), "eval_views.safetensors")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# name, W, H, T, short side, crop, mae_st spatial indices
CASES = [
    ("l320x240_s224", 320, 240, 1, 224, 224, [1]),   # long side 298.67: floor 298 (round gave 299)
    ("l171x128_s64", 171, 128, 2, 64, 56, [0, 2]),    # 85.5: floor 85
    ("p97x131_s56", 97, 131, 2, 56, 48, [0, 1, 2]),   # portrait, 75.63: floor 75
    ("p97x131_s112", 97, 131, 1, 112, 112, [1]),      # upscaling
    ("l171x128_s128", 171, 128, 1, 128, 112, [1]),    # short side already right: no resize, crop offset 29.5
    ("sq64_s40", 64, 64, 1, 40, 40, [0, 2]),          # square: spatial index moves along x
    ("l300x10_s16", 300, 10, 1, 16, 16, [0, 2]),      # extreme aspect, 30x upscaling of the short side
    ("l640x360_s40", 640, 360, 2, 40, 32, [1]),       # 9x shrinking: PIL's filter spans 19 taps, torch's 2
]


def _hash32(x, y, t, c):
    """uint32 mixing of pixel coordinates (wrapping arithmetic, mirrored in the Swift test)."""
    m = 0xFFFFFFFF
    h = ((x * 73856093) ^ (y * 19349663) ^ (t * 83492791) ^ (c * 2654435761)) & m
    h ^= h >> 13
    h = (h * 0x5BD1E995) & m
    return h ^ (h >> 15)


def test_frames(t: int, h: int, w: int) -> np.ndarray:
    """uint8 [T, H, W, 3]: wrapping diagonal gradients (sharp edges where they wrap) plus noise in [-16, 15]."""
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    out = np.empty((t, h, w, 3), np.uint8)
    for f in range(t):
        for c in range(3):
            g = (x * 255 // max(w - 1, 1) + y * 255 // max(h - 1, 1) + 40 * f + 85 * c) % 256
            out[f, :, :, c] = np.clip(g + (_hash32(x, y, f, c) >> 27) - 16, 0, 255)
    return out


def hf_pixels(frames, short, crop):
    """HF pixels [T, crop, crop, 3] uint8, from the real processor when Pillow is there (and checked against the
    port)."""
    port = R.hf_pixels(frames, short, crop)
    try:
        import PIL  # noqa: F401
        from transformers import VideoMAEImageProcessorPil
    except ImportError:
        return port, False
    p = VideoMAEImageProcessorPil(size={"shortest_edge": short}, crop_size={"height": crop, "width": crop},
                                  image_mean=MEAN, image_std=STD)
    got = np.asarray(p([list(frames)], input_data_format="channels_last", return_tensors="np")["pixel_values"])[0]
    px = p([list(frames)], input_data_format="channels_last", do_rescale=False, do_normalize=False, return_tensors="np")
    px = np.asarray(px["pixel_values"])[0]  # [T, 3, crop, crop], float from uint8 pixels
    real = px.transpose(0, 2, 3, 1)
    assert np.array_equal(real, real.round()) and real.min() >= 0 and real.max() <= 255
    real = real.astype(np.uint8)
    assert np.array_equal(real, port), "eval_views_ref.pil_resize_bilinear differs from Pillow"
    assert np.array_equal(got, R.hf_preprocess(frames, short, crop, MEAN, STD)), "normalisation differs"
    return real, True


def build():
    tensors, used_pil = {}, True
    for name, w, h, t, short, crop, idxs in CASES:
        frames = test_frames(t, h, w)
        tensors[f"{name}.params"] = torch.tensor([w, h, t, short, crop], dtype=torch.int64)
        tensors[f"{name}.sum"] = torch.tensor([int(frames.astype(np.int64).sum())], dtype=torch.int64)
        px, real = hf_pixels(frames, short, crop)
        used_pil &= real
        tensors[f"{name}.hf"] = torch.from_numpy(np.ascontiguousarray(px))
        for i in idxs:
            tensors[f"{name}.mae_st.{i}"] = torch.from_numpy(R.mae_st_test_view(frames, short, crop, i, MEAN, STD))
    return tensors, used_pil


def main():
    torch.set_num_threads(1)
    tensors, used_pil = build()
    meta = {"mean": ",".join(map(str, MEAN)), "std": ",".join(map(str, STD))}
    src = "transformers VideoMAEImageProcessorPil (Pillow)" if used_pil else "eval_views_ref PIL port (no Pillow)"
    if "--check" in sys.argv:
        old = st_io.load(OUT)
        assert sorted(old) == sorted(tensors), "fixture keys differ"
        for k, v in tensors.items():
            assert torch.equal(old[k], v), f"{k} differs from a fresh regeneration"
        print(f"eval_views fixture matches a fresh regeneration ({len(tensors)} tensors; HF pixels from {src})")
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    st_io.save(tensors, OUT, metadata=meta)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes; HF pixels from {src})")


if __name__ == "__main__":
    main()
