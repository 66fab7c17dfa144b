"""Fixture for stmae's GradScaler (Sources/NN/GradScaler.swift): Tests/NNTests/Fixtures/gradscaler.safetensors.

    PYTHONPATH=.torch:reference python3 reference/make_gradscaler_fixture.py

torch.amp.GradScaler("cpu") with growth_interval 3 over fused AdamW (two parameters, clip_grad_norm after unscale_,
as mae_st's NativeScalerWithGradNormCount), 9 steps. Each step's loss is sum(p · g) over the parameters, so the
gradients are the given `g` times the scale; step 4 plants an inf in g (the step is skipped, the scale halves).
Keys: `p0`, `p1` (initial parameters), `stepK.g0|g1` (the loss's coefficients), and after each step
`stepK.p0|p1`, `stepK.scale` (float []), `stepK.growth_tracker` (int32 []), `stepK.stepped` (1 taken, 0 skipped),
`stepK.norm` (the total gradient norm after unscaling; inf on the skipped step). Metadata: the scaler settings.
"""
import os

import torch

import st_io

STEPS, INF_STEP, INTERVAL, INIT_SCALE, CLIP = 9, 4, 3, 1024.0, 1.0


def main():
    gen = torch.Generator().manual_seed(2024)
    p = [torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)]
    params = [t.clone().requires_grad_() for t in p]
    opt = torch.optim.AdamW(params, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.05, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=INIT_SCALE, growth_factor=2.0, backoff_factor=0.5,
                                  growth_interval=INTERVAL)
    out = {"p0": p[0], "p1": p[1]}
    for k in range(STEPS):
        g = [torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)]
        if k == INF_STEP:
            g[0][1, 2] = float("inf")
        loss = sum((q * c).sum() for q, c in zip(params, g))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
        before = [q.detach().clone() for q in params]
        scaler.step(opt)
        stepped = not all(torch.equal(a, b.detach()) for a, b in zip(before, params))
        scaler.update()
        out.update({f"step{k}.g0": g[0], f"step{k}.g1": g[1], f"step{k}.p0": params[0].detach().clone(),
                    f"step{k}.p1": params[1].detach().clone(),
                    f"step{k}.scale": torch.tensor(scaler.get_scale(), dtype=torch.float32),
                    f"step{k}.growth_tracker": scaler._growth_tracker.clone(),
                    f"step{k}.stepped": torch.tensor(1 if stepped else 0, dtype=torch.int64),
                    f"step{k}.norm": norm.detach().clone().float()})
        print(f"step {k}: scale {scaler.get_scale():g} tracker {int(scaler._growth_tracker)} stepped {stepped}")
    path = os.path.join(st_io.fixtures_dir("NNTests"), "gradscaler.safetensors")
    st_io.save(out, path, {"steps": str(STEPS), "inf_step": str(INF_STEP), "growth_interval": str(INTERVAL),
                           "init_scale": str(INIT_SCALE), "clip_grad": str(CLIP), "torch": torch.__version__})
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
