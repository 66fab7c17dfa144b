"""The prepared GPU check (issue 25 item 7), PyTorch side: runs stmae-gpucheck (the Swift binary of the bundle) and the
project's PyTorch reference (reference/models_mae_st.py, models_vit.py) on the same device and prints one JSON line per
check, each with "status": "ok" | "fail" | "error" | "skipped".

  (a) a_parity_fp32 / a_parity_bf16  ViT-B MAE loss and gradient norm, same weights (exchanged as safetensors) and masks
  (b) b_pretrain_step                ViT-B/16 16x224 pre-training step, batch 8, bf16: s/step and MFU, stmae vs PyTorch
                                     eager (SDPA + fused AdamW) and torch.compile when it works
  (c) c_inference                    classifier inference clips/s, stmae vs PyTorch eager
  (d) d_finetune_fp16                one fine-tuning step in fp16 autocast
  (e) e_allreduce                    a one-rank all-reduce through stmae's c10d binding (NCCL on CUDA)

    python3 gpu_check.py --bin ./stmae-gpucheck [--device cuda|cpu] [--tiny]

--tiny (the CPU rehearsal, `make gpu-bundle-check`) shrinks every model and input; the checks and outputs are the same.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))
import models_mae_st  # noqa: E402
import models_vit  # noqa: E402
import st_io  # noqa: E402

# Dense bf16 tensor-core peaks (FLOP/s) by device name, for MFU; other devices: a measured bf16 GEMM.
NOMINAL_PEAK = {"H100": 989.4e12, "H200": 989.4e12, "H800": 989.4e12, "A100": 312e12, "L40S": 362e12, "B200": 2.25e15}


STATUSES = []  # every check's status: the script exits 1 unless all are ok


def emit(check, status, **fields):
    STATUSES.append(status)
    print(json.dumps({"check": check, "status": status, **fields}, sort_keys=True), flush=True)


def swift(args, timeout=600):
    """Runs stmae-gpucheck with `args`; its last JSON line."""
    r = subprocess.run([A.bin, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        cmd = " ".join(map(str, args))
        raise RuntimeError(f"stmae-gpucheck {cmd}: exit {r.returncode}: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def sync():
    if A.device.startswith("cuda"):
        torch.cuda.synchronize()


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


# ---- sizes ----------------------------------------------------------------------------------------------------
def mae_kwargs():
    """reference/models_mae_st.py kwargs = stmae's MAEConfig keys (the Swift side reads them from the metadata)."""
    if A.tiny:
        return dict(img_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2, num_heads=2,
                    decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, mlp_ratio=4.0, norm_pix_loss=False,
                    num_frames=4,
                    t_patch_size=2, pred_t_dim=4, cls_embed=False, sep_pos_embed=True, qkv_bias=True,
                    mask_type="random", mask_ratio=0.9, norm_eps=1e-6)
    return dict(img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12,
                decoder_embed_dim=512, decoder_depth=4, decoder_num_heads=16, mlp_ratio=4.0, norm_pix_loss=False,
                num_frames=16,
                t_patch_size=2, pred_t_dim=16, cls_embed=False, sep_pos_embed=True, qkv_bias=True, mask_type="random",
                mask_ratio=0.9, norm_eps=1e-6)


def step_sizes():
    """(model name for stmae-gpucheck, batch, frames, image size, warmup, steps)."""
    return ("tiny", 2, 4, 16, 1, 2) if A.tiny else ("mae_vit_base_patch16", 8, 16, 224, 3, 10)


def mae_train_flops_per_clip(kw):
    """Training FLOPs of one clip (forward x3), as stmae's `maeTrainFlopsPerClip` (Sources/Training/Metrics.swift)."""
    p, d, dd, r = kw["patch_size"], kw["embed_dim"], kw["decoder_embed_dim"], kw["mlp_ratio"]
    s_tokens, t_tokens = (kw["img_size"] // p) ** 2, kw["num_frames"] // kw["t_patch_size"]
    L = s_tokens * t_tokens
    kept = int(L * (1 - kw["mask_ratio"]))

    def block(n, dim):
        return 2 * n * (4 + 2 * r) * dim * dim + 4 * n * n * dim
    u = kw["t_patch_size"] * kw["pred_t_dim"] // kw["num_frames"]
    f = 2 * L * 3 * kw["t_patch_size"] * p * p * d
    f += kw["depth"] * block(kept, d) + 2 * kept * d * dd
    f += kw["decoder_depth"] * block(L, dd)
    f += 2 * L * dd * u * p * p * 3
    return 3 * f


def peak_flops():
    """(FLOP/s, source): the nominal bf16 peak of a known GPU, else the best of a few bf16 GEMMs measured here."""
    if A.device.startswith("cuda"):
        name = torch.cuda.get_device_name()
        for key, v in NOMINAL_PEAK.items():
            if key in name:
                return v, f"nominal {key} bf16 dense"
    n = 512 if A.tiny else 8192
    a = torch.randn(n, n, device=A.device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=A.device, dtype=torch.bfloat16)
    best = float("inf")
    for _ in range(5):
        sync()
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best, f"measured bf16 GEMM {n}^3"


# ---- (a) parity -----------------------------------------------------------------------------------------------
def check_parity(tmp):
    kw = mae_kwargs()
    torch.manual_seed(0)
    model = models_mae_st.MaskedAutoencoderViT(**kw)
    n = 2
    x = torch.randn(n, 3, kw["num_frames"], kw["img_size"], kw["img_size"])
    noise = model.make_noise(n)
    path = os.path.join(tmp, "parity.safetensors")
    tensors = {f"param.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors.update({"input.x": x, "input.noise": noise})
    st_io.save(tensors, path, metadata={"config": json.dumps(kw)})
    model.to(A.device)
    for precision in ("fp32", "bf16"):
        name = f"a_parity_{precision}"
        try:
            model.zero_grad(set_to_none=True)
            with torch.autocast(A.device.split(":")[0], dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss, _, _ = model(x.to(A.device), noise.to(A.device))
            loss.backward()
            ref_norm = torch.sqrt(sum(p.grad.double().pow(2).sum() for p in model.parameters() if p.grad is not None))
            ref = {"loss": loss.item(), "grad_norm": ref_norm.item()}
            ours = swift(["parity", path, A.device, precision])
            tol = 1e-3 if precision == "fp32" else 3e-2  # fp32: GPU reduction order; bf16: 8-bit mantissa
            d_loss, d_norm = rel(ours["loss"], ref["loss"]), rel(ours["grad_norm"], ref["grad_norm"])
            ok = d_loss <= tol and d_norm <= tol
            emit(name, "ok" if ok else "fail", device=A.device, stmae=ours, pytorch=ref, rel_loss=d_loss,
                 rel_grad_norm=d_norm, tolerance=tol, model="tiny" if A.tiny else "ViT-B MAE 16x224")
        except Exception as e:  # one failing check must not hide the others
            emit(name, "error", error=repr(e), trace=traceback.format_exc()[-1500:])


# ---- (b) pre-training step -------------------------------------------------------------------------------------------
def param_groups(model, weight_decay):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim == 1 or name.endswith(".bias")
        (no_decay if skip else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def torch_pretrain_step_time(kw, batch, warmup, steps, compiled):
    torch.manual_seed(0)
    model = models_mae_st.MaskedAutoencoderViT(**kw).to(A.device)
    fused = A.device.startswith("cuda")
    opt = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-4, betas=(0.9, 0.95), fused=fused)
    fwd = torch.compile(model) if compiled else model
    x = torch.randn(batch, 3, kw["num_frames"], kw["img_size"], kw["img_size"], device=A.device)
    times, loss = [], None
    for i in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        noise = model.make_noise(batch).to(A.device)
        with torch.autocast(A.device.split(":")[0], dtype=torch.bfloat16):
            loss, _, _ = fwd(x, noise)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        value = loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def check_pretrain():
    name, batch, frames, size, warmup, steps = step_sizes()
    kw = mae_kwargs()
    kw.update(num_frames=frames, img_size=size, pred_t_dim=frames)
    try:
        flops = mae_train_flops_per_clip(kw) * batch
        peak, peak_source = peak_flops()
        ours = swift(["pretrain", A.device, batch, frames, size, name, warmup, steps], timeout=900)
        eager, eager_loss = torch_pretrain_step_time(kw, batch, warmup, steps, compiled=False)
        row = {"stmae": {"s_per_step": ours["s_per_step"], "mfu": flops / ours["s_per_step"] / peak},
               "pytorch_eager": {"s_per_step": eager, "mfu": flops / eager / peak}}
        try:
            compiled, _ = torch_pretrain_step_time(kw, batch, warmup, steps, compiled=True)
            row["pytorch_compile"] = {"s_per_step": compiled, "mfu": flops / compiled / peak}
        except Exception as e:
            row["pytorch_compile"] = {"error": repr(e)[-500:]}
        emit("b_pretrain_step", "ok", device=A.device, batch=batch, frames=frames, img_size=size, precision="bf16",
             flops_per_step=flops, peak_flops=peak, peak_source=peak_source,
             stmae_vs_eager=ours["s_per_step"] / eager, **row)
    except Exception as e:
        emit("b_pretrain_step", "error", error=repr(e), trace=traceback.format_exc()[-1500:])


# ---- (c) inference ---------------------------------------------------------------------------------------------------
def check_infer():
    _, batch, frames, size, warmup, steps = step_sizes()
    model_name = "tiny" if A.tiny else "vit_base_patch16"
    try:
        ours = swift(["infer", A.device, batch, frames, size, model_name, warmup, steps])
        torch.manual_seed(0)
        if A.tiny:
            vit = models_vit.VisionTransformer(num_frames=frames, img_size=size, patch_size=4, embed_dim=32, depth=2,
                                               num_heads=2, num_classes=10)
        else:
            vit = models_vit.vit_base_patch16(num_frames=frames, img_size=size)
        vit = vit.to(A.device).eval()
        x = torch.randn(batch, 3, frames, size, size, device=A.device)
        times = []
        with torch.no_grad():
            for i in range(warmup + steps):
                sync()
                t0 = time.perf_counter()
                with torch.autocast(A.device.split(":")[0], dtype=torch.bfloat16):
                    vit(x).float().sum().item()
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
        eager = batch / statistics.median(times)
        emit("c_inference", "ok", device=A.device, batch=batch, precision="bf16",
             stmae_clips_per_s=ours["clips_per_s"], pytorch_eager_clips_per_s=eager,
             stmae_vs_eager=ours["clips_per_s"] / eager)
    except Exception as e:
        emit("c_inference", "error", error=repr(e), trace=traceback.format_exc()[-1500:])


# ---- (d) fine-tuning step in fp16 ------------------------------------------------------------------------------------
def check_finetune():
    _, batch, frames, size, _, _ = step_sizes()
    try:
        ours = swift(["finetune", A.device, batch, frames, size, "tiny" if A.tiny else "vit_base_patch16"])
        # a step taken after the skipped ones halved the scale (torch.amp.GradScaler: 65536 × 0.5^skipped)
        ok = (ours["finite"] and ours["stepped"] and ours["logits_dtype"] in ("float16", "Half", "f16", "half")
              and ours["loss_scale"] == 65536 * 0.5 ** ours["skipped_steps"])
        emit("d_finetune_fp16", "ok" if ok else "fail", device=A.device, stmae=ours,
             note="fp16 autocast steps through GradScaler until one is taken (inf/NaN gradients skip a step)")
    except Exception as e:
        emit("d_finetune_fp16", "error", error=repr(e), trace=traceback.format_exc()[-1500:])


# ---- (e) all-reduce --------------------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_allreduce():
    try:
        ours = swift(["allreduce", A.device, free_port()], timeout=180)
        want_backend = "nccl" if A.device.startswith("cuda") else "gloo"
        ok = ours["result"] == [1.0, 2.0, 3.0] and ours["backend"] == want_backend
        emit("e_allreduce", "ok" if ok else "fail", device=A.device, stmae=ours)
    except Exception as e:
        emit("e_allreduce", "error", error=repr(e), trace=traceback.format_exc()[-1500:])


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the stmae-gpucheck binary")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="rehearsal sizes (CPU)")
    A = ap.parse_args()
    if A.device == "cuda":
        A.device = "cuda:0"
    if A.device.startswith("cuda") and not torch.cuda.is_available():
        emit("environment", "error", error="--device cuda but torch.cuda.is_available() is False")
        return 1
    emit("environment", "ok", torch=torch.__version__, cuda=torch.version.cuda, python=sys.version.split()[0],
         device=A.device, device_name=torch.cuda.get_device_name() if A.device.startswith("cuda") else "cpu",
         tiny=A.tiny)
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 parity: IEEE fp32 GEMMs on both sides (libtorch's default)
    with tempfile.TemporaryDirectory() as tmp:
        check_parity(tmp)
    check_pretrain()
    check_infer()
    check_finetune()
    check_allreduce()
    return 0 if all(s == "ok" for s in STATUSES) else 1


A = None
if __name__ == "__main__":
    sys.exit(main())
