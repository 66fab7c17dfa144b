"""Loads a Swift-written torch.save file with torch.load(weights_only=True); prints a JSON summary for the Swift test.

usage: check_swift_checkpoint.py CKPT EXPECTED_SAFETENSORS RESAVE_PATH [ZIP64_CKPT]
"""
import collections
import json
import sys

import torch

import st_io  # reference/st_io.py, on PYTHONPATH

ckpt_path, expected_path, resave_path = sys.argv[1:4]
ck = torch.load(ckpt_path, weights_only=True)
expected = st_io.load(expected_path)
model = ck["model"]


def same_bits(a, b):
    """Bitwise equality (random float16/bfloat16 patterns include NaNs, which torch.equal treats as unequal)."""
    return (a.dtype == b.dtype and a.shape == b.shape
            and torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8)))


mismatched = [k for k, v in expected.items() if k not in model or not same_bits(model[k], v)]
summary = {
    "ordered": type(model) is collections.OrderedDict,
    "model_keys": list(model.keys()),
    "mismatched": mismatched,
    "shared": model["base"].untyped_storage().data_ptr() == model["view"].untyped_storage().data_ptr(),
    "view_contiguous": model["view"].is_contiguous(),
    "requires_grad": model["base"].requires_grad,
    "epoch": ck["epoch"],
    "args": ck["args"],
    "extra": [ck["extra"][0], list(ck["extra"][1]), ck["extra"][2].hex(), str(ck["dtype"])],
    "optimizer_state_keys": sorted(ck["optimizer"]["state"].keys()),
}
if len(sys.argv) > 4:  # the same checkpoint written with ZIP64 records throughout
    z64 = torch.load(sys.argv[4], weights_only=True)
    summary["zip64_mismatched"] = [k for k, v in expected.items() if not same_bits(z64["model"][k], v)]
torch.save(ck, resave_path)
print(json.dumps(summary))
