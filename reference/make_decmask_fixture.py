"""Fixture for MAE dual masking (decoder masking, VideoMAE V2 style):
Tests/ModelsTests/Fixtures/mae_decmask*.safetensors.

    PYTHONPATH=.torch:reference python3 reference/make_decmask_fixture.py

Keys as make_model_fixtures.py, plus input.decoder_noise [N, L] and out.ids_decode [N, M]; out.pred is the
prediction of the decoded (masked, decoder-kept) tokens only and out.loss their mean squared error.
"""
import json
import os

import torch

import st_io
from make_model_fixtures import MAE_BASE, OUT_DIR, perturb
from models_mae_st import MaskedAutoencoderViT, decoder_masking, masking

CASES = {
    "mae_decmask": dict(decoder_mask_ratio=0.5),
    "mae_decmask_cls_tube": dict(decoder_mask_ratio=0.75, cls_embed=True, mask_type="tube", mask_ratio=0.5),
}


def main():
    for i, (name, extra) in enumerate(CASES.items()):
        cfg = dict(MAE_BASE, **extra)
        torch.manual_seed(4321 + i)
        model = MaskedAutoencoderViT(**cfg)
        gen = torch.Generator().manual_seed(8765 + i)
        perturb(model, gen)
        x = torch.randn(2, 3, cfg["num_frames"], cfg["img_size"], cfg["img_size"], generator=gen)
        noise = model.make_noise(2, generator=gen)
        dnoise = model.make_decoder_noise(2, generator=gen)
        loss, pred, mask = model(x, noise, decoder_noise=dnoise)
        loss.backward()
        _, _, m = masking(model.mask_type, noise, model.mask_ratio, model.t_grid, model.s_grid)
        ids = decoder_masking(m, dnoise, model.decoder_mask_ratio)
        t = {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()}
        t.update({"input.x": x, "input.noise": noise, "input.decoder_noise": dnoise, "out.loss": loss.detach(),
                  "out.pred": pred.detach(), "out.mask": mask, "out.ids_decode": ids})
        t.update({f"grad.{k}": p.grad.detach().clone() for k, p in model.named_parameters()})
        path = os.path.join(OUT_DIR, f"{name}.safetensors")
        st_io.save(t, path, {"case": name, "config": json.dumps(cfg, sort_keys=True), "torch": torch.__version__})
        print(f"{path}: loss {loss.item():.6f}, decoded {ids.shape[1]} of {int(mask[0].sum())} masked tokens, "
              f"{os.path.getsize(path) // 1024} KB")


if __name__ == "__main__":
    main()
