#!/usr/bin/env python3
"""Regenerates Tests/TensorFilesTests/Fixtures with real torch
(run: PYTHONPATH=.torch python3 scripts/make_tensorfiles_fixtures.py).

Writes tiny files the Swift TensorFiles tests compare against exactly:
  checkpoint.pth              mae_st main_pretrain-style torch.save dict (model/optimizer/epoch/args/scaler + numpy
                              scalars)
  checkpoint_expected.*       the same tensors, contiguous, as safetensors; epoch/args/param_groups as JSON
  release.pth                 {"model_state": a real nn.Module state_dict (with _metadata, BatchNorm buffers)},
                              saved with pickle protocol 4 (FRAME/MEMOIZE/STACK_GLOBAL)
  release_expected.safetensors
  malicious.pth               zip whose data.pkl names os.system (torch.load(weights_only=True) must refuse it too)
  truncated.pth               first 60% of checkpoint.pth
  values.safetensors/.json    one tensor per dtype with known values
  compressed.pth              checkpoint.pth re-zipped with deflate (must be refused clearly)
  legacy.pth                  pre-1.6 (non-zip) torch.save format (refused with a clear message)
  embeddings.npy, fortran.npy numpy arrays: float32 arange(12)/4 as [3, 4]; int16 arange(6) as [2, 3] in Fortran order
"""
import argparse
import collections
import io
import json
import math
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "reference"))
import st_io  # noqa: E402

OUT = st_io.fixtures_dir("TensorFilesTests")


def model_state():
    g = torch.Generator().manual_seed(0)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = collections.OrderedDict()
    sd["patch_embed.proj.weight"] = torch.randn(4, 3, 2, 2, 2, generator=g)
    sd["patch_embed.proj.bias"] = torch.randn(4, generator=g)
    sd["pos_embed_spatial"] = torch.randn(1, 4, 4, generator=g).to(torch.bfloat16)
    sd["blocks.0.attn.qkv.weight"] = base
    sd["blocks.0.attn.qkv.weight_t"] = base.t()  # non-contiguous view of the same storage
    sd["blocks.0.attn.proj.weight"] = base[1:3, 2:5]  # offset + non-contiguous view, same storage
    sd["norm.weight"] = torch.randn(3, generator=g).to(torch.float16)
    sd["decoder_pos_embed"] = torch.randn(2, 3, generator=g).double()
    sd["mask_token_counts"] = torch.tensor([3, -1, 2**40], dtype=torch.int64)
    sd["num_batches_tracked"] = torch.tensor(5, dtype=torch.int64)
    sd["empty"] = torch.empty(0, 3)
    sd["flags"] = torch.tensor([True, False, True])
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = model_state()
    # A real optimizer state dict (AdamW after one step), as main_pretrain saves it.
    net = torch.nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 10)
        net.bias.fill_(0.5)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95))
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    args = argparse.Namespace(batch_size=2, epochs=10, accum_iter=1, model="mae_vit_large_patch16", input_size=224,
                              mask_ratio=0.9, norm_pix_loss=True, weight_decay=0.05, lr=None, blr=0.00016, min_lr=0.0,
                              output_dir="./output_dir", num_frames=16, t_patch_size=2, sampling_rate=4,
                              repeat_aug=4, dist_url="env://", fp32=False, decoder_embed_dim=512,
                              path_to_data_dir="", jitter_scales_relative=[0.5, 1.0],
                              jitter_aspect_relative=(0.75, 1.3333))
    ckpt = {"model": sd, "optimizer": opt.state_dict(), "epoch": 3, "args": args, "scaler": None,
            "best_acc": np.float64(0.875), "np_steps": np.int64(7), "np_half": np.float32(0.5),
            "ema_param": torch.nn.Parameter(torch.tensor([1.0, 2.0]))}  # pickled via torch._utils._rebuild_parameter
    path = os.path.join(OUT, "checkpoint.pth")
    torch.save(ckpt, path)

    expected = collections.OrderedDict((k, v.contiguous()) for k, v in sd.items())
    for pid, st in opt.state_dict()["state"].items():
        for name, t in st.items():
            expected[f"optimizer.state.{pid}.{name}"] = t.contiguous()
    st_io.save(expected, os.path.join(OUT, "checkpoint_expected.safetensors"))

    def jsonable(v):
        if isinstance(v, (list, tuple)):
            return [jsonable(x) for x in v]
        return v
    meta = {"epoch": 3, "model_keys": list(sd.keys()),
            "args": {k: jsonable(v) for k, v in vars(args).items()},
            "param_groups": [{k: jsonable(v) for k, v in g.items()} for g in opt.state_dict()["param_groups"]],
            "best_acc": 0.875, "np_steps": 7, "np_half": 0.5}

    # Release layout, protocol 4 pickle.
    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Conv3d(3, 4, kernel_size=(2, 2, 2), stride=2), torch.nn.BatchNorm3d(4),
                               torch.nn.Flatten(), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    head(torch.randn(2, 3, 2, 2, 2))  # update BatchNorm running stats and num_batches_tracked
    rel = head.state_dict()
    assert hasattr(rel, "_metadata")
    meta["release_keys"] = list(rel.keys())
    torch.save({"model_state": rel}, os.path.join(OUT, "release.pth"), pickle_protocol=4)
    st_io.save({k: v.contiguous() for k, v in rel.items()}, os.path.join(OUT, "release_expected.safetensors"))

    with open(os.path.join(OUT, "checkpoint_expected.json"), "w") as f:
        json.dump(meta, f, indent=1)

    # Malicious: a hand-built archive whose pickle calls os.system. Never load it with weights_only=False.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    mpath = os.path.join(OUT, "malicious.pth")
    with zipfile.ZipFile(mpath, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("malicious/data.pkl", evil)
        z.writestr("malicious/byteorder", "little")
        z.writestr("malicious/version", "3\n")
    try:
        torch.load(mpath, weights_only=True)
        raise SystemExit("torch.load accepted the malicious pickle")
    except pickle.UnpicklingError as e:
        assert "os.system" in str(e) or "system" in str(e), e

    with open(path, "rb") as f:
        blob = f.read()
    with open(os.path.join(OUT, "truncated.pth"), "wb") as f:
        f.write(blob[: len(blob) * 6 // 10])

    compressed = os.path.join(OUT, "compressed.pth")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(compressed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    torch.save({"a": torch.ones(2)}, os.path.join(OUT, "legacy.pth"), _use_new_zipfile_serialization=False)
    np.save(os.path.join(OUT, "embeddings.npy"), (np.arange(12, dtype=np.float32) / 4).reshape(3, 4))
    np.save(os.path.join(OUT, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)))

    # One tensor per dtype with exactly representable values.
    vals = [0.0, -1.5, 2.25, 1024.0, -0.125, 3.0]
    ints = [0, -1, 7, -128, 127, 42]
    tensors = {
        "f64": torch.tensor(vals + [math.pi], dtype=torch.float64),
        "f32": torch.tensor(vals, dtype=torch.float32).reshape(2, 3),
        "f16": torch.tensor(vals, dtype=torch.float16).reshape(3, 2),
        "bf16": torch.tensor(vals, dtype=torch.bfloat16).reshape(1, 2, 3),
        "i64": torch.tensor(ints + [-(2**40)], dtype=torch.int64),
        "i32": torch.tensor(ints + [-(2**31)], dtype=torch.int32),
        "i16": torch.tensor(ints + [-(2**15)], dtype=torch.int16),
        "i8": torch.tensor(ints, dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255, 128], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "scalar": torch.tensor(2.5),
        "zero": torch.zeros(2, 0, 3),
    }
    st_io.save(tensors, os.path.join(OUT, "values.safetensors"),
               metadata={"format": "pt", "source": "make_tensorfiles_fixtures"})
    desc = {k: {"dtype": st_io._DT[t.dtype], "shape": list(t.shape), "values": t.double().flatten().tolist()}
            for k, t in tensors.items()}
    with open(os.path.join(OUT, "values.json"), "w") as f:
        json.dump({"metadata": {"format": "pt", "source": "make_tensorfiles_fixtures"}, "tensors": desc}, f, indent=1)

    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} fixtures, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
