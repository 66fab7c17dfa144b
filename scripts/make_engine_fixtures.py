"""Generates the engine fixtures: every shim op and the optimiser checked against PyTorch.

Run: PYTHONPATH=.torch:reference python3 scripts/make_engine_fixtures.py
Writes Tests/TorchTests/Fixtures/ops.safetensors and Tests/NNTests/Fixtures/adamw.safetensors.

ops.safetensors: for each case `c`: inputs `c.in0..`, the upstream gradient `c.up`, the output `c.out`, and the
gradient of sum(out * up) w.r.t. each floating input `c.grad0..`. The Swift test runs the same op by name.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import st_io  # noqa: E402

torch.manual_seed(0)


def r(*s):
    return torch.randn(s, dtype=torch.float32)


def pos(*s):
    return torch.rand(*s, dtype=torch.float32) + 0.5


idx = lambda *a, **k: torch.randint(*a, **k, dtype=torch.int64)  # noqa: E731

# name -> (inputs, fn). Integer inputs get no gradient.
CASES = {
    "add": ([r(3, 4), r(4)], lambda a, b: a + b),
    "sub": ([r(3, 4), r(3, 1)], lambda a, b: a - b),
    "mul": ([r(3, 4), r(3, 4)], lambda a, b: a * b),
    "div": ([r(3, 4), pos(3, 4)], lambda a, b: a / b),
    "add_scalar": ([r(5)], lambda a: a + 1.5),
    "mul_scalar": ([r(5)], lambda a: a * -2.0),
    "rsub_scalar": ([r(5)], lambda a: 3.0 - a),
    "pow": ([pos(6)], lambda a: a ** 2.5),
    "exp": ([r(6)], torch.exp),
    "log": ([pos(6)], torch.log),
    "sqrt": ([pos(6)], torch.sqrt),
    "rsqrt": ([pos(6)], torch.rsqrt),
    "tanh": ([r(6)], torch.tanh),
    "sigmoid": ([r(6)], torch.sigmoid),
    "neg": ([r(6)], torch.neg),
    "clamp": ([r(10)], lambda a: a.clamp(-0.5, 0.7)),
    "sum_dims": ([r(2, 3, 4)], lambda a: a.sum(dim=(0, 2))),
    "sum_all": ([r(2, 3, 4)], lambda a: a.sum()),
    "mean_keep": ([r(2, 3, 4)], lambda a: a.mean(dim=-1, keepdim=True)),
    "var_unbiased": ([r(2, 3, 8)], lambda a: a.var(dim=-1, keepdim=True)),
    "amax": ([r(2, 5)], lambda a: a.amax(dim=1)),
    "reshape": ([r(2, 3, 4)], lambda a: a.reshape(4, 6)),
    "permute": ([r(2, 3, 4)], lambda a: a.permute(2, 0, 1)),
    "transpose": ([r(2, 3, 4)], lambda a: a.transpose(1, 2)),
    "slice": ([r(4, 10)], lambda a: a[:, 1:9:3]),
    "select": ([r(4, 10)], lambda a: a[2]),
    "index_select": ([r(5, 3), torch.tensor([4, 0, 2, 2])], lambda a, i: a.index_select(0, i)),
    "gather": ([r(2, 6, 3), idx(0, 6, (2, 4, 1)).expand(2, 4, 3).contiguous()], lambda a, i: a.gather(1, i)),
    "scatter": ([r(2, 5), torch.tensor([[4, 0, 1], [2, 3, 0]]), r(2, 3)], lambda a, i, s: a.scatter(1, i, s)),
    "cat": ([r(2, 3), r(2, 5)], lambda a, b: torch.cat([a, b], dim=1)),
    "stack": ([r(2, 3), r(2, 3)], lambda a, b: torch.stack([a, b], dim=1)),
    "expand": ([r(1, 3)], lambda a: a.expand(4, 3)),
    "repeat": ([r(2, 3)], lambda a: a.repeat(2, 1, 2)),
    "repeat_interleave": ([r(2, 3)], lambda a: a.repeat_interleave(3, dim=1)),
    "flatten": ([r(2, 3, 4, 5)], lambda a: a.flatten(1, 2)),
    "where": ([r(4, 5) > 0, r(4, 5), r(4, 5)], lambda c, a, b: torch.where(c, a, b)),
    "masked_fill": ([r(4, 5), r(4, 5) > 0], lambda a, m: a.masked_fill(m, 0.25)),
    "matmul": ([r(3, 4, 5), r(3, 5, 2)], torch.matmul),
    "bmm": ([r(3, 4, 5), r(3, 5, 2)], torch.bmm),
    "baddbmm": ([r(3, 4, 2), r(3, 4, 5), r(3, 5, 2)], lambda s, a, b: torch.baddbmm(s, a, b, beta=0.5, alpha=0.125)),
    "linear": ([r(2, 4, 8), r(6, 8), r(6)], F.linear),
    "linear_nobias": ([r(4, 8), r(6, 8)], F.linear),
    "conv3d": ([r(2, 3, 4, 8, 8), r(5, 3, 2, 4, 4), r(5)], lambda x, w, b: F.conv3d(x, w, b, stride=(2, 4, 4))),
    "conv2d": ([r(2, 3, 8, 8), r(5, 3, 4, 4), r(5)], lambda x, w, b: F.conv2d(x, w, b, stride=4)),
    "layer_norm": ([r(4, 10), r(10), r(10)], lambda x, w, b: F.layer_norm(x, (10,), w, b, eps=1e-6)),
    "gelu": ([r(20)], F.gelu),
    "gelu_tanh": ([r(20)], lambda x: F.gelu(x, approximate="tanh")),
    "softmax": ([r(3, 7)], lambda x: F.softmax(x, dim=-1)),
    "log_softmax": ([r(3, 7)], lambda x: F.log_softmax(x, dim=1)),
    "sdpa": ([r(2, 3, 5, 4), r(2, 3, 6, 4), r(2, 3, 6, 4)], F.scaled_dot_product_attention),
    "sdpa_scale": ([r(2, 3, 5, 4), r(2, 3, 5, 4), r(2, 3, 5, 4)],
                   lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3)),
    "mse_loss": ([r(4, 6), r(4, 6)], F.mse_loss),
    "mse_none": ([r(4, 6), r(4, 6)], lambda a, b: F.mse_loss(a, b, reduction="none")),
    "cross_entropy": ([r(6, 5), torch.tensor([0, 4, 2, 1, 3, 3])], lambda x, t: F.cross_entropy(x, t)),
    "cross_entropy_smooth": ([r(6, 5), torch.tensor([0, 4, 2, 1, 3, 3])],
                             lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1)),
    "cross_entropy_soft": ([r(6, 5), F.softmax(r(6, 5), -1)], lambda x, t: F.cross_entropy(x, t)),
    "interpolate_bicubic": ([r(1, 4, 5, 5)],
                            lambda x: F.interpolate(x, size=(7, 3), mode="bicubic", align_corners=False)),
    "interpolate_linear": ([r(1, 4, 6)], lambda x: F.interpolate(x, size=9, mode="linear", align_corners=False)),
    "argsort": ([torch.randperm(12).float().reshape(3, 4)], lambda a: a.argsort(dim=1)),
    "erfinv": ([torch.rand(8) * 1.8 - 0.9], torch.erfinv),
}


def main():
    out = {}
    for name, (inputs, fn) in CASES.items():
        xs = [x.clone().requires_grad_(x.is_floating_point()) for x in inputs]
        y = fn(*xs)
        for i, x in enumerate(inputs):
            out[f"{name}.in{i}"] = x
        out[f"{name}.out"] = y.detach()
        if y.is_floating_point() and y.requires_grad:
            up = r(*y.shape)
            (y * up).sum().backward()
            out[f"{name}.up"] = up
            for i, x in enumerate(xs):
                if x.grad is not None:
                    out[f"{name}.grad{i}"] = x.grad
    st_io.save(out, os.path.join(st_io.fixtures_dir("TorchTests"), "ops.safetensors"), {"torch": torch.__version__})
    adamw_fixture()


def lr_at(epoch, lr, min_lr, warmup, epochs):
    """MAE's half-cycle cosine after linear warmup (epoch may be fractional)."""
    if epoch < warmup:
        return lr * epoch / warmup
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


def adamw_fixture():
    """10 steps of fused AdamW with two groups (decay / no decay, lr_scale), MAE schedule and grad clipping."""
    torch.manual_seed(1)
    w1, b1, w2, b2 = r(16, 8) * 0.3, r(16) * 0.1, r(4, 16) * 0.3, r(4) * 0.1
    x, y = r(32, 8), r(32, 4)
    params = [t.clone().requires_grad_() for t in (w1, b1, w2, b2)]
    groups = [{"params": [params[0], params[2]], "weight_decay": 0.05, "lr_scale": 1.0},
              {"params": [params[1], params[3]], "weight_decay": 0.0, "lr_scale": 0.5}]
    opt = torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), fused=True)
    out = {"x": x, "y": y, "w1": w1, "b1": b1, "w2": w2, "b2": b2}
    steps, steps_per_epoch, epochs, warmup, base_lr, min_lr = 10, 2, 5, 1, 1e-2, 1e-4
    lrs, losses, norms = [], [], []
    for it in range(steps):
        lr = lr_at(it / steps_per_epoch, base_lr, min_lr, warmup, epochs)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        h = F.gelu(F.linear(x, params[0], params[1]))
        loss = F.mse_loss(F.linear(h, params[2], params[3]), y)
        opt.zero_grad()
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(params, 0.5).item())
        opt.step()
        lrs.append(lr)
        losses.append(loss.item())
        for name, p in zip(("w1", "b1", "w2", "b2"), params):
            out[f"step{it}.{name}"] = p.detach().clone()
    out["lrs"] = torch.tensor(lrs, dtype=torch.float64)
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out["grad_norms"] = torch.tensor(norms, dtype=torch.float64)
    st_io.save(out, os.path.join(st_io.fixtures_dir("NNTests"), "adamw.safetensors"),
               {"steps_per_epoch": steps_per_epoch, "epochs": epochs, "warmup_epochs": warmup, "blr": base_lr,
                "min_lr": min_lr, "clip_grad": 0.5, "betas": "0.9,0.95", "weight_decay": 0.05})


if __name__ == "__main__":
    main()
