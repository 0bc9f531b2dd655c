"""Parity fixtures for models::DaClip and models::DrExperts (tests/data/models/dr_experts_*).

Runs the authors' own modules: `dascore_vit_models` from FuBohan01/DR.Experts (models/deit.py,
models/din.py and the DA-CLIP fork of open_clip vendored in models/open_clip/). Pass the path of a
checkout of that repository (never copied into biqa):

  /work/refvenv/bin/python tools/reference/make_dr_experts_fixtures.py /path/to/DR.Experts

Their module hard-codes the published sizes (DeiT-III-S 384 px, DA-CLIP ViT-B/32 at 224 px, a 7×7
controller grid upsampled to 24×24, widths 384 / 512 / 768), a checkpoint path on the authors'
machine and `.cuda()` calls. To run it small on a CPU this script patches, in memory only:
  - the literal sizes in models/deit.py (DeiT widths and depth, 512 / 768 / 576, `reshape(bs, 7, 7`,
    `size=(24, 24)`, `size=(224, 224)`) to the shrunken ones below;
  - `open_clip.create_model_from_pretrained('daclip_ViT-B-32', <path>)` to
    `open_clip.create_model('daclip_tiny')`, a config registered with the vendored factory;
  - torch.Tensor.cuda / nn.Module.cuda to no-ops;
  - for the variants: the subtraction `(A1_softmax - self.alpha * A2_softmax)` to
    `(A2_softmax - self.alpha * A1_softmax)` (the code before the 2025-12-07 commit), and
    `self.diff_attention = diff_attention(...)` / `self.diff_attention(` to the ten-module
    `diff_attention_list` of that commit;
  - the package `models` is entered without its __init__.py (which imports files deleted from the
    repository).
Everything else is the authors' code as it is.

Shrunken config: DeiT img 32, patch 8 (4×4 grid), embed 16, depth 2, 2 heads; DA-CLIP embed 12,
vision image 24, patch 8 (3×3 grid), width 16, 2 layers, head_width 8; text context 77, vocab
49408, width 4, 2 heads, 1 layer. The token embedding is zero except the rows the 10 prompts use
and is stored as float16 (the model runs on the rounded values); the content visual tower
`head.clip.visual.*` (= `head.visual.*`), which DR.Experts never runs, is all zeros. The files are
mostly zeros.

Written (tests/data/models/):
  dr_experts_shared.safetensors   state_dict of HEAD's layout (single `diff_attention`, 870-key
      structure incl. the duplicated `head.visual.*`, unused L1/L2/backbone.head) + io tensors:
      io.input [2,3,32,32] (already ImageNet-normalised values), io.tokens [10,77],
      io.text_features [10,12] (unit rows), io.degradation [2,12] (unit), io.hidden [2,10,16]
      (zero_modules[-1] output, batch-first), io.features [2,17,16] (DeiT output F),
      io.priors [2,10,16] (D), io.expert_weights [2,10] (DDWM w at the CLS token),
      io.score_current [2,1] (A_dist − α·A_sem), io.score_previous [2,1] (A_sem − α·A_dist).
  dr_experts_list_trainer.pth     a trainer checkpoint like main.py's save_checkpoint:
      {"model": state_dict with `diff_attention_list.{0..9}`, "optimizer": {...}, "lr_scheduler",
       "max_plcc", "scaler", "epoch", "config": a yacs-style CfgNode} (a stand-in class
      `yacs.config.CfgNode` subclassing dict when yacs is not installed).
  dr_experts_list_io.safetensors  io.input, io.score_current, io.score_previous of that model.
  da_clip_module.pth              {"state_dict": {"module." + DA-CLIP key: ...}, "epoch", "name"}:
      the DA-CLIP part (head.*) of dr_experts_shared as DA-CLIP's own trainer saves it.
"""
import json
import math
import pathlib
import struct
import sys
import types

import numpy as np
import torch
import torch.nn as nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "models"
torch.set_num_threads(1)

DEIT = dict(img=32, patch=8, embed=16, depth=2, heads=2)
CLIP_CFG = {
    "embed_dim": 12,
    "vision_cfg": {"image_size": 24, "layers": 2, "width": 16, "patch_size": 8, "head_width": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 4, "heads": 2, "layers": 1},
    "custom_text": True,
}
CLIP_GRID = CLIP_CFG["vision_cfg"]["image_size"] // CLIP_CFG["vision_cfg"]["patch_size"]
DEIT_GRID = DEIT["img"] // DEIT["patch"]


def save(path: pathlib.Path, tensors: dict, metadata: dict) -> None:
    """safetensors with I64, F32, then F16 tensors (each aligned to its element size)."""
    order = {np.dtype("<i8"): (0, "I64"), np.dtype("<f4"): (1, "F32"), np.dtype("<f2"): (2, "F16")}
    items = []
    for name, t in tensors.items():
        a = t.detach().contiguous().cpu().numpy()
        a = a.astype("<i8") if a.dtype == np.int64 else a.astype("<f2") if a.dtype == np.float16 else a.astype("<f4")
        rank, dtype = order[a.dtype]
        items.append((rank, name, dtype, a))
    items.sort(key=lambda x: x[0])
    header, blobs, offset = {}, [], 0
    for _, name, dtype, a in items:
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = dict(metadata)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_authors_modules(src: pathlib.Path, previous_sign: bool, module_list: bool, shrink: bool = True):
    """models.deit of the checkout with the patches listed in the docstring, as a fresh module."""
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    if "models" not in sys.modules:  # the package without its __init__ (it imports deleted files)
        pkg = types.ModuleType("models")
        pkg.__path__ = [str(src / "models")]
        sys.modules["models"] = pkg
    import models.open_clip as oc  # the authors' DA-CLIP fork
    from models.open_clip import factory
    factory._MODEL_CONFIGS["daclip_tiny"] = json.loads(json.dumps(CLIP_CFG))

    text = (src / "models" / "deit.py").read_text()

    def shrink_sizes(patch, e):
        patch("vit_models(img_size = img_size, patch_size=16, embed_dim=384, depth=12, num_heads=6",
              f"vit_models(img_size = img_size, patch_size={DEIT['patch']}, embed_dim={e}, depth={DEIT['depth']}, "
              f"num_heads={DEIT['heads']}")
        patch("self.embed_dim = 384", f"self.embed_dim = {e}")
        patch("if img_size == 384:", f"if img_size == {DEIT['img']}:")
        patch("self.N = 576", f"self.N = {DEIT_GRID * DEIT_GRID}")
        patch("open_clip.create_model_from_pretrained('daclip_ViT-B-32', pretrained=checkpoint)",
              "(open_clip.create_model('daclip_tiny'), None)")
        E, W = CLIP_CFG["embed_dim"], CLIP_CFG["vision_cfg"]["width"]
        patch("nn.Linear(512, self.embed_dim)", f"nn.Linear({E}, self.embed_dim)", 2)
        patch("nn.LayerNorm(512)", f"nn.LayerNorm({E})")
        patch("nn.Linear(768, self.embed_dim)", f"nn.Linear({W}, self.embed_dim)")
        patch("reshape(bs, 7, 7, self.embed_dim)", f"reshape(bs, {CLIP_GRID}, {CLIP_GRID}, self.embed_dim)")
        patch("size=(24, 24)", f"size=({DEIT_GRID}, {DEIT_GRID})")
        size = CLIP_CFG["vision_cfg"]["image_size"]
        patch("size=(224, 224)", f"size=({size}, {size})")


    def patch(old, new, count=1):
        nonlocal text
        assert text.count(old) == count, (old, text.count(old))
        text = text.replace(old, new)

    e = DEIT["embed"]
    if not shrink:  # the published sizes: only the checkpoint path and the variants change
        patch("open_clip.create_model_from_pretrained('daclip_ViT-B-32', pretrained=checkpoint)",
              "(open_clip.create_model('daclip_ViT-B-32'), None)")
    else:
        shrink_sizes(patch, e)
    if previous_sign:
        patch("(A1_softmax - self.alpha * A2_softmax)", "(A2_softmax - self.alpha * A1_softmax)")
    if module_list:
        patch("self.diff_attention = diff_attention(self.embed_dim)",
              "self.diff_attention_list = nn.ModuleList([diff_attention(self.embed_dim) for _ in range(10)])")
        patch("self.diff_attention(da_metrics_i", "self.diff_attention_list[i](da_metrics_i")
    mod = types.ModuleType("models.deit_patched")
    mod.__package__ = "models"
    mod.__file__ = str(src / "models" / "deit.py")
    exec(compile(text, mod.__file__, "exec"), mod.__dict__)
    return mod, oc


def randomize(model: nn.Module, g: torch.Generator, used_token_rows) -> None:
    """Random values for every parameter: LayerNorm scales around 1, PReLU slopes around 0.25,
    α around 0.5, the rest normal / sqrt(fan-in); the token embedding zero outside the prompts'
    rows and rounded to float16."""
    seen = set()
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if t.data_ptr() in seen:  # head.visual.* is head.clip.visual.*
                continue
            seen.add(t.data_ptr())
            leaf = name.rsplit(".", 1)[-1]
            if name.endswith("alpha"):
                t.copy_(0.5 + 0.2 * torch.randn((), generator=g))
            elif "active_unit.fc" in name and t.numel() == 1 and leaf == "weight":  # PReLU
                t.copy_(0.25 + 0.1 * torch.randn(t.shape, generator=g))
            elif t.dim() == 1 and leaf == "weight":
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.3)
            elif t.dim() == 0:
                t.copy_(torch.randn((), generator=g))
            elif leaf in ("gamma_1", "gamma_2"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            else:
                fan_in = t[0].numel() if t.dim() > 1 else 4
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(fan_in))
        emb = model.head.clip.token_embedding.weight
        keep = torch.zeros(emb.shape[0], dtype=torch.bool)
        keep[list(used_token_rows)] = True
        emb[~keep] = 0
        emb.copy_(emb.half().float())
        for p in model.head.clip.visual.parameters():
            p.zero_()


def build(src, seed, previous_sign, module_list, shrink=True):
    mod, oc = load_authors_modules(src, previous_sign, module_list, shrink)
    model = mod.dascore_vit_models(img_size=DEIT["img"] if shrink else 384, model_size="small").eval()
    tokens = model.text
    randomize(model, torch.Generator().manual_seed(seed), sorted(set(tokens.flatten().tolist())))
    return model, mod, oc


def stored(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        out[k] = v.half() if k.endswith("token_embedding.weight") else v
    return out


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/drx-src").resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    x = torch.randn(2, 3, DEIT["img"], DEIT["img"], generator=torch.Generator().manual_seed(7))

    # HEAD's layout; the same weights under both subtraction signs.
    model, mod, _ = build(src, 1, previous_sign=False, module_list=False)
    previous, _, _ = build(src, 1, previous_sign=True, module_list=False)
    previous.load_state_dict(model.state_dict())
    weights_at_cls = {}
    h = model.decoder.AttentionActivate.active_unit.register_forward_hook(
        lambda m, i, o: weights_at_cls.__setitem__("w", o[:, :, 0, 0].detach().clone()))
    with torch.no_grad():
        score = model(x)
        score_prev = previous(x)
        h.remove()
        # The intermediates, recomputed with the authors' own submodules as forward() does.
        feats = model.backbone(x)
        size = CLIP_CFG["vision_cfg"]["image_size"]
        da = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
        da = (da - mean) / std
        text = model.head.encode_text(model.text)
        text = text / text.norm(dim=-1, keepdim=True)
        degr, hiddens = model.head.encode_image(da, control=True)
        degr = degr / degr.norm(dim=-1, keepdim=True)
        pri = model.norm1(text.unsqueeze(0) * degr.unsqueeze(1))
        pri = torch.stack([model.linears[i](pri[:, i]) for i in range(10)], dim=1)
    sd = model.state_dict()
    io = {
        "io.input": x, "io.tokens": model.text, "io.text_features": text, "io.degradation": degr,
        "io.hidden": hiddens[-1].permute(1, 0, 2), "io.features": feats, "io.priors": pri,
        "io.expert_weights": weights_at_cls["w"], "io.score_current": score, "io.score_previous": score_prev,
    }
    # "biqa.config": what biqa's loader needs besides the weights (head counts are not in the shapes).
    meta = {"biqa.config": json.dumps({"deit": {"num_heads": DEIT["heads"]}, "daclip": CLIP_CFG}),
            "tolerance": "1e-4 relative"}
    save(OUT / "dr_experts_shared.safetensors", {**stored(sd), **io}, meta)
    print("shared: score", score.flatten().tolist(), "previous", score_prev.flatten().tolist())

    # DA-CLIP alone, as its trainer saves it (DDP's "module." prefix, under "state_dict").
    head = {"module." + k[len("head."):]: v for k, v in stored(sd).items() if k.startswith("head.")}
    torch.save({"epoch": 3, "name": "daclip_tiny", "state_dict": head}, OUT / "da_clip_module.pth")

    # The rebuttal commit's ten diff_attention modules, in a trainer checkpoint.
    lmodel, _, _ = build(src, 2, previous_sign=False, module_list=True)
    lprev, _, _ = build(src, 2, previous_sign=True, module_list=True)
    lprev.load_state_dict(lmodel.state_dict())
    with torch.no_grad():
        ls, lp = lmodel(x), lprev(x)
    try:
        from yacs.config import CfgNode
    except ImportError:  # a stand-in with yacs' module and class name (a dict subclass, like yacs')
        yacs = types.ModuleType("yacs")
        yacs.config = types.ModuleType("yacs.config")

        class CfgNode(dict):
            pass

        CfgNode.__module__ = "yacs.config"
        CfgNode.__qualname__ = "CfgNode"
        yacs.config.CfgNode = CfgNode
        sys.modules["yacs"], sys.modules["yacs.config"] = yacs, yacs.config
    cfg = CfgNode()
    cfg["MODEL"] = CfgNode({"TYPE": "deit", "NAME": "tiny", "DROP_PATH_RATE": 0.0})
    cfg["DATA"] = CfgNode({"INPUT_SIZE": DEIT["img"], "CROP_SIZE": (DEIT["img"], DEIT["img"])})
    cfg.__dict__["frozen"] = True
    optimizer = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4)}},
                 "param_groups": [{"lr": 2e-5, "betas": (0.9, 0.999), "params": [0]}]}
    ckpt = {"model": stored(lmodel.state_dict()), "optimizer": optimizer, "lr_scheduler": {"decay_t": 3},
            "max_plcc": 0.5, "scaler": {"scale": 65536.0}, "epoch": 8, "config": cfg}
    torch.save(ckpt, OUT / "dr_experts_list_trainer.pth")
    save(OUT / "dr_experts_list_io.safetensors",
         {"io.input": x, "io.score_current": ls, "io.score_previous": lp}, meta)
    print("list: score", ls.flatten().tolist(), "previous", lp.flatten().tolist())


if __name__ == "__main__":
    main()
