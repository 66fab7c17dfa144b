"""Python side of the Swift checkpoint-interop tests (Tests/ModelsTests/InteropTests.swift).

  make_mae <dir>   writes mae_st-style checkpoints of a tiny perturbed MAE (reference/models_mae_st.py):
                   <dir>/mae.pth ({"model": state_dict, "epoch", "args"} as mae_st main_pretrain saves),
                   <dir>/mae_release.pth ({"model_state": ...} as mae_st's released checkpoints),
                   <dir>/finetuned_maest.pth (the "same" classifier as mae_st's models_vit stores it: fc_norm as norm),
                   and <dir>/expected.safetensors: input x, the head/fc_norm to install, and the reference
                   classifier's features/logits after mae_st-style loading (strict=False, decoder dropped) for the
                   same grid ("same.*") and a bigger grid ("big.*": positions resized bicubic spatial /
                   linear temporal, align_corners=False).
  make_mae_joint <dir>
                   the same for mae_st's sep_pos_embed=False (learned joint pos_embed / decoder_pos_embed, cls token):
                   <dir>/mae_joint.pth and <dir>/expected_joint.safetensors with the MAE's loss/pred for an input and
                   noise ("mae.*"), and the classifier's features/logits after loading the encoder for the same grid
                   ("same.*"), a bigger image ("wide.*": 6x6 x 2) and more frames ("long.*": 4x4 x 4), the joint
                   table resized per axis (`resize_joint`: stmae's rule; mae_st has none for video grids).
  check_hf <hf_dir> <x.safetensors> <out_dir>
                   loads <hf_dir> with transformers.VideoMAEForVideoClassification, writes
                   <out_dir>/hf_logits.safetensors, re-saves the model with save_pretrained (transformers' own key
                   layout) to <out_dir>/resaved and as
                   <out_dir>/bin/pytorch_model.bin (+ config.json), and prints a JSON summary.
  check_hf_encoder <hf_dir> <x.safetensors> <out_dir>
                   loads <hf_dir> with transformers.VideoMAEModel, writes <out_dir>/hf_hidden.safetensors, and saves
                   it inside VideoMAEForPreTraining to <out_dir>/pretraining (decoder keys to be skipped on read).
  make_hf <dir>    writes Hugging Face sources as transformers saves them: <dir>/cls (VideoMAEForVideoClassification,
                   16 heads of 4 channels, layer_norm_eps 1e-12, 5 named labels) and <dir>/pretraining
                   (VideoMAEForPreTraining with 10 id2label entries), each with a preprocessor_config.json of Kinetics
                   mean/std and non-default size/resample; <dir>/ref.safetensors: x, the classifier's logits and the
                   pre-training encoder's last_hidden_state.
  hf_summary <ref.safetensors> <dir>...
                   loads each directory with transformers (a classifier with VideoMAEForVideoClassification, otherwise
                   VideoMAEModel) and prints, per directory name, its config's heads / eps / sizes / labels, the
                   processor's mean / std / size / resample, and the largest |logits − ref logits| (or hidden state).
  load_pth <file>  prints the "args" entry of a .pth loaded with torch.load(weights_only=True) as JSON.

Run with PYTHONPATH=.torch:.pylibs:reference HF_HUB_OFFLINE=1.
"""
import argparse
import json
import os
import shutil
import sys

import torch
import torch.nn.functional as F

import st_io
from make_model_fixtures import perturb
from models_mae_st import MaskedAutoencoderViT
from models_vit import VisionTransformer

MAE = dict(img_size=8, patch_size=2, in_chans=3, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16,
           decoder_depth=1, decoder_num_heads=2, mlp_ratio=4.0, num_frames=4, t_patch_size=2, pred_t_dim=4,
           cls_embed=True, sep_pos_embed=True)
BIG = dict(img_size=12, num_frames=8)  # grid 6x6 x 4 instead of 4x4 x 2


def classifier(**over):
    kw = dict(num_frames=MAE["num_frames"], t_patch_size=2, img_size=MAE["img_size"], patch_size=2, num_classes=5,
              embed_dim=32, depth=2, num_heads=2, dropout=0.0, cls_embed=True, sep_pos_embed=True, global_pool=True)
    kw.update(over)
    return VisionTransformer(**kw).eval()


def resize(sd, model):
    """Spatial bicubic over the 2-D grid, temporal linear (align_corners=False)."""
    sd = dict(sd)
    s = sd["pos_embed_spatial"]
    g, g2 = int(round(s.shape[1] ** 0.5)), model.patch_embed.grid_size
    img = s.reshape(1, g, g, -1).permute(0, 3, 1, 2)
    sd["pos_embed_spatial"] = F.interpolate(img, size=(g2, g2), mode="bicubic", align_corners=False) \
        .permute(0, 2, 3, 1).reshape(1, g2 * g2, -1)
    t = sd["pos_embed_temporal"]
    sd["pos_embed_temporal"] = F.interpolate(t.permute(0, 2, 1), size=model.t_grid, mode="linear",
                                             align_corners=False).permute(0, 2, 1)
    return sd


def make_mae(out):
    torch.manual_seed(7)
    mae = MaskedAutoencoderViT(**MAE)
    gen = torch.Generator().manual_seed(8)
    perturb(mae, gen)
    sd = mae.state_dict()
    args = argparse.Namespace(model="mae_vit_tiny", num_heads=MAE["num_heads"], blr=1.6e-3,
                              num_frames=MAE["num_frames"])
    torch.save({"model": sd, "epoch": 3, "args": args}, os.path.join(out, "mae.pth"))
    torch.save({"model_state": sd, "cur_epoch": 3}, os.path.join(out, "mae_release.pth"))
    t = {}
    head_w = 0.3 * torch.randn(5, 32, generator=gen)
    head_b, fcw, fcb = (0.1 * torch.randn(5, generator=gen), 1 + 0.1 * torch.randn(32, generator=gen),
                        0.1 * torch.randn(32, generator=gen))
    t.update({"head.weight": head_w, "head.bias": head_b, "fc_norm.weight": fcw, "fc_norm.bias": fcb})
    for tag, over in (("same", {}), ("big", BIG)):
        model = classifier(**over)
        src = sd if not over else resize(sd, model)
        msg = model.load_state_dict(src, strict=False)
        assert sorted(msg.missing_keys) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"], msg
        with torch.no_grad():
            model.head.weight.copy_(head_w); model.head.bias.copy_(head_b)
            model.fc_norm.weight.copy_(fcw); model.fc_norm.bias.copy_(fcb)
            nf, img = over.get("num_frames", MAE["num_frames"]), over.get("img_size", MAE["img_size"])
            x = torch.randn(2, 3, nf, img, img, generator=gen)
            t[f"{tag}.x"] = x
            t[f"{tag}.features"] = model.forward_features(x)
            t[f"{tag}.logits"] = model(x)
            if not over:
                # mae_st's own classifier pools x[:, 1:].mean(1) then `norm` (no fc_norm): the same function with
                # fc_norm stored as norm. A fine-tuned mae_st checkpoint, with its head.
                ft = {("norm." + k[len("fc_norm."):] if k.startswith("fc_norm.") else k): v
                      for k, v in model.state_dict().items()}
                torch.save({"model": ft, "epoch": 9}, os.path.join(out, "finetuned_maest.pth"))
            if over:
                t["big.pos_embed_spatial"] = src["pos_embed_spatial"].contiguous()
                t["big.pos_embed_temporal"] = src["pos_embed_temporal"].contiguous()
    st_io.save(t, os.path.join(out, "expected.safetensors"))
    print(json.dumps({"keys": len(sd)}))


def resize_joint(pe, t0, g0, t1, g1, cls):
    """Joint [1, cls + t0*g0*g0, D] -> [1, cls + t1*g1*g1, D]: cls rows kept, bicubic over each frame's grid, then
    linear over time (align_corners=False)."""
    d = pe.shape[-1]
    x = pe[:, cls:].reshape(t0, g0, g0, d).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(g1, g1), mode="bicubic", align_corners=False)
    x = x.permute(2, 3, 1, 0).reshape(g1 * g1, d, t0)
    x = F.interpolate(x, size=t1, mode="linear", align_corners=False)
    return torch.cat([pe[:, :cls], x.permute(2, 0, 1).reshape(1, t1 * g1 * g1, d)], dim=1)


def make_mae_joint(out):
    from models_mae_st import masking, noise_shape
    torch.manual_seed(11)
    mae = MaskedAutoencoderViT(**dict(MAE, sep_pos_embed=False, mask_ratio=0.75))
    gen = torch.Generator().manual_seed(12)
    perturb(mae, gen)
    sd = mae.state_dict()
    assert "pos_embed" in sd and "decoder_pos_embed" in sd and not any("pos_embed_" in k for k in sd)
    args = argparse.Namespace(model="mae_vit_tiny", num_heads=MAE["num_heads"], sep_pos_embed=False)
    torch.save({"model": sd, "epoch": 3, "args": args}, os.path.join(out, "mae_joint.pth"))
    t = {}
    x = torch.randn(2, 3, MAE["num_frames"], MAE["img_size"], MAE["img_size"], generator=gen)
    noise = torch.rand(noise_shape("random", 2, mae.t_grid, mae.s_grid), generator=gen)
    with torch.no_grad():
        loss, pred, mask = mae(x, noise)
    t.update({"mae.x": x, "mae.noise": noise, "mae.loss": loss, "mae.pred": pred, "mae.mask": mask})
    head_w = 0.3 * torch.randn(5, 32, generator=gen)
    head_b, fcw, fcb = (0.1 * torch.randn(5, generator=gen), 1 + 0.1 * torch.randn(32, generator=gen),
                        0.1 * torch.randn(32, generator=gen))
    t.update({"head.weight": head_w, "head.bias": head_b, "fc_norm.weight": fcw, "fc_norm.bias": fcb})
    for tag, img, nf in (("same", 8, 4), ("wide", 12, 4), ("long", 8, 8)):
        model = classifier(img_size=img, num_frames=nf, sep_pos_embed=False)
        src = dict(sd)
        if tag != "same":
            src["pos_embed"] = resize_joint(sd["pos_embed"], 2, 4, model.t_grid, model.patch_embed.grid_size, 1)
            t[f"{tag}.pos_embed"] = src["pos_embed"].contiguous()
        msg = model.load_state_dict(src, strict=False)
        assert sorted(msg.missing_keys) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"], msg
        with torch.no_grad():
            model.head.weight.copy_(head_w); model.head.bias.copy_(head_b)
            model.fc_norm.weight.copy_(fcw); model.fc_norm.bias.copy_(fcb)
            x = torch.randn(2, 3, nf, img, img, generator=gen)
            t[f"{tag}.x"], t[f"{tag}.features"], t[f"{tag}.logits"] = x, model.forward_features(x), model(x)
    st_io.save(t, os.path.join(out, "expected_joint.safetensors"))
    print(json.dumps({"keys": len(sd)}))


def check_hf(hf_dir, x_path, out):
    from transformers import VideoMAEForVideoClassification
    import transformers
    model = VideoMAEForVideoClassification.from_pretrained(hf_dir).eval()
    x = st_io.load(x_path)["x"]  # [N, 3, T, H, W]
    with torch.no_grad():
        logits = model(pixel_values=x.permute(0, 2, 1, 3, 4)).logits  # HF takes [N, T, C, H, W]
    st_io.save({"logits": logits.contiguous()}, os.path.join(out, "hf_logits.safetensors"))
    model.save_pretrained(os.path.join(out, "resaved"))
    bin_dir = os.path.join(out, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(bin_dir, "pytorch_model.bin"))
    shutil.copy(os.path.join(hf_dir, "config.json"), bin_dir)
    # VideoMAEImageProcessor itself needs torchvision + PIL (not installed); read its config the way it does.
    from transformers.image_processing_base import ImageProcessingMixin
    proc, _ = ImageProcessingMixin.get_image_processor_dict(hf_dir)
    print(json.dumps({"transformers": transformers.__version__, "num_labels": model.config.num_labels,
                      "image_processor_type": proc["image_processor_type"],
                      "image_mean": proc["image_mean"], "image_std": proc["image_std"],
                      "crop_size": proc["crop_size"],
                      "labels": [model.config.id2label[i] for i in range(model.config.num_labels)],
                      "keys": sorted(model.state_dict().keys())[:3], "fc_norm_eps": model.fc_norm.eps,
                      "layer_norm_eps": model.config.layer_norm_eps}))


def check_hf_encoder(hf_dir, x_path, out):
    """A pre-trained encoder exported as VideoMAEModel: last_hidden_state (after `layernorm`, all tokens)."""
    from transformers import VideoMAEModel
    model = VideoMAEModel.from_pretrained(hf_dir).eval()
    x = st_io.load(x_path)["x"]
    with torch.no_grad():
        h = model(pixel_values=x.permute(0, 2, 1, 3, 4)).last_hidden_state
    st_io.save({"hidden": h.contiguous()}, os.path.join(out, "hf_hidden.safetensors"))
    # The same encoder inside transformers' pre-training model (decoder freshly initialised), saved in its layout.
    from transformers import VideoMAEForPreTraining
    VideoMAEForPreTraining.from_pretrained(hf_dir).save_pretrained(os.path.join(out, "pretraining"))
    print(json.dumps({"use_mean_pooling": model.config.use_mean_pooling, "has_layernorm": model.layernorm is not None}))


HF_SIZES = dict(image_size=8, patch_size=2, num_frames=4, tubelet_size=2, hidden_size=64, num_hidden_layers=2,
                num_attention_heads=16, intermediate_size=256, decoder_hidden_size=32, decoder_num_hidden_layers=1,
                decoder_num_attention_heads=2, decoder_intermediate_size=64)
HF_PROC = {"image_processor_type": "VideoMAEImageProcessor", "do_resize": True, "size": {"shortest_edge": 10},
           "do_center_crop": True, "crop_size": {"height": 8, "width": 8}, "do_rescale": True,
           "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.45, 0.45, 0.45],
           "image_std": [0.225, 0.225, 0.225], "resample": 3}


def make_hf(out):
    from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEForVideoClassification, VideoMAEModel
    torch.manual_seed(31)
    gen = torch.Generator().manual_seed(32)
    names = ["run", "jump", "swim", "sit", "wave"]
    cfg = VideoMAEConfig(**HF_SIZES, id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})
    assert cfg.layer_norm_eps == 1e-12, cfg.layer_norm_eps
    cls = VideoMAEForVideoClassification(cfg).eval()
    perturb(cls, gen)
    pre = VideoMAEForPreTraining(VideoMAEConfig(**HF_SIZES, id2label={i: f"class {i}" for i in range(10)})).eval()
    perturb(pre, gen)
    for name, model in (("cls", cls), ("pretraining", pre)):
        model.save_pretrained(os.path.join(out, name))
        with open(os.path.join(out, name, "preprocessor_config.json"), "w") as f:
            json.dump(HF_PROC, f, indent=2)
    x = torch.randn(2, 3, 4, 8, 8, generator=gen)
    with torch.no_grad():
        logits = cls(pixel_values=x.permute(0, 2, 1, 3, 4)).logits
        hidden = VideoMAEModel.from_pretrained(os.path.join(out, "pretraining")).eval()(
            pixel_values=x.permute(0, 2, 1, 3, 4)).last_hidden_state
    st_io.save({"x": x, "logits": logits.contiguous(), "hidden": hidden.contiguous()},
               os.path.join(out, "ref.safetensors"))
    print(json.dumps({"num_labels": cls.config.num_labels, "pretraining_labels": len(pre.config.id2label)}))


def hf_summary(ref_path, *dirs):
    from transformers import VideoMAEForVideoClassification, VideoMAEModel
    from transformers.image_processing_base import ImageProcessingMixin
    ref = st_io.load(ref_path)
    x = ref["x"].permute(0, 2, 1, 3, 4)
    out = {}
    for d in dirs:
        with open(os.path.join(d, "config.json")) as f:
            classifier = "VideoMAEForVideoClassification" in json.load(f).get("architectures", [])
        model = (VideoMAEForVideoClassification if classifier else VideoMAEModel).from_pretrained(d).eval()
        with torch.no_grad():
            y = model(pixel_values=x).logits if classifier else model(pixel_values=x).last_hidden_state
        diff = float((y - ref["logits" if classifier else "hidden"]).abs().max())
        proc, _ = ImageProcessingMixin.get_image_processor_dict(d)
        c = model.config
        out[os.path.basename(d)] = {
            "heads": c.num_attention_heads, "layer_norm_eps": c.layer_norm_eps, "image_size": c.image_size,
            "num_frames": c.num_frames, "labels": [c.id2label[i] for i in range(c.num_labels)] if classifier else None,
            "image_mean": proc["image_mean"], "image_std": proc["image_std"], "size": proc.get("size"),
            "resample": proc.get("resample"), "max_abs_diff": diff}
    print(json.dumps(out))


if __name__ == "__main__":
    torch.set_num_threads(1)
    cmd = sys.argv[1]
    if cmd == "make_mae":
        make_mae(sys.argv[2])
    elif cmd == "make_mae_joint":
        make_mae_joint(sys.argv[2])
    elif cmd == "check_hf":
        check_hf(*sys.argv[2:5])
    elif cmd == "check_hf_encoder":
        check_hf_encoder(*sys.argv[2:5])
    elif cmd == "make_hf":
        make_hf(sys.argv[2])
    elif cmd == "load_pth":
        print(json.dumps(torch.load(sys.argv[2], weights_only=True)["args"]))
    elif cmd == "hf_summary":
        hf_summary(*sys.argv[2:])
    else:
        sys.exit(f"unknown command {cmd}")
