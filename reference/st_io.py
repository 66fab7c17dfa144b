"""Minimal safetensors writer/reader for fixtures (own code; format: u64 header length, JSON header, raw bytes)."""
import json
import os
import struct

import torch

_DT = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
       torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
       torch.bool: "BOOL"}
_TD = {v: k for k, v in _DT.items()}


def fixtures_dir(target: str) -> str:
    """`Tests/<target>/Fixtures` (created if missing) under the checkout, or under $STMAE_FIXTURES_ROOT when set
    (`make fixtures-check` regenerates into a temporary tree and compares it with the committed files)."""
    root = os.environ.get("STMAE_FIXTURES_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.normpath(os.path.join(root, "Tests", target, "Fixtures"))
    os.makedirs(path, exist_ok=True)
    return path


def save(tensors: dict, path: str, metadata: dict | None = None) -> None:
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path: str) -> dict:
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(data[8 + n + a:8 + n + b])
        dt = _TD[e["dtype"]]
        out[name] = (torch.frombuffer(buf, dtype=torch.uint8).view(dt).reshape(e["shape"]) if buf
                     else torch.empty(e["shape"], dtype=dt))
    return out
