"""Loads a Swift-written torch.save file with torch.load(weights_only=True); prints a JSON summary for the Swift test.

usage: check_swift_checkpoint.py CKPT EXPECTED_SAFETENSORS RESAVE_PATH
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "reference"))
import st_io  # noqa: E402

ckpt_path, expected_path, resave_path = sys.argv[1:4]
ck = torch.load(ckpt_path, weights_only=True)
expected = st_io.load(expected_path)
model = ck["model"]
mismatched = [k for k, v in expected.items()
              if k not in model or model[k].dtype != v.dtype or model[k].shape != v.shape or not torch.equal(model[k], v)]
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
torch.save(ck, resave_path)
print(json.dumps(summary))
