"""Parity fixtures for nn::SwinTransformer (tests/data/nn/swin_*.safetensors), from timm 0.9.16.

Two shrunken timm SwinTransformer models with random weights (LayerNorm affines and relative
position bias tables included) from fixed seeds:

  swin_tiny.safetensors      img 32, patch 2, window 4, embed 4, depths (2,2,2,1), heads (1,1,2,2),
                             5 classes. Stage resolutions 16, 8 (shifted windows with the -100 mask),
                             4 (= window: no shift), 2 (< window: the window shrinks to 2).
                             The plain model's state_dict (keys unchanged), "io.input" [2,3,32,32],
                             "io.layers_0".."io.layers_3" (stage outputs before the final norm, NHWC)
                             and "io.logits".
  swin_buffers.safetensors   the non-persistent buffers of that model (relative_position_index,
                             attn_mask) under their module paths, as older checkpoints store them.
  swin_features.safetensors  timm.create_model(..., features_only=True): the feature wrapper's
                             state_dict ("layers_0.blocks..." keys, no final norm, no head) of a model
                             with img (32, 48), patch 2, embed 4, window 5, qkv_bias False, mlp_ratio 2: windows that
                             do not divide the map (zero padding, masks on the padded map) and one
                             axis clamped while the other shifts. "io.input" [1,3,32,48] and the four
                             feature maps.

The metadata "config" entry holds the timm constructor arguments.
  /work/refvenv/bin/python tools/reference/make_swin_fixtures.py
"""
import json
import math
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import NN, gen, save  # noqa: E402

import timm  # noqa: E402

assert timm.__version__ == "0.9.16", timm.__version__
torch.set_num_threads(1)


def randomize(model: torch.nn.Module, g: torch.Generator) -> None:
    """Norm scales around 1 with nonzero shifts, bias tables large enough to matter, every other
    tensor small normal values scaled by its fan-in."""
    with torch.no_grad():
        for name, t in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "relative_position_bias_table":
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif t.dim() == 1 and leaf == "weight":
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.3)
            elif t.dim() == 1:
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(fan_in))


def stage_outputs(model, x):
    """The four stage outputs of a plain SwinTransformer, before the final norm (NHWC)."""
    outs = []
    h = model.patch_embed(x)
    for layer in model.layers:
        h = layer(h)
        outs.append(h)
    return outs


def tiny():
    config = dict(img_size=32, patch_size=2, in_chans=3, embed_dim=4, depths=[2, 2, 2, 1],
                  num_heads=[1, 1, 2, 2], window_size=4, mlp_ratio=4.0, qkv_bias=True,
                  num_classes=5, global_pool="avg")
    torch.manual_seed(0)
    model = timm.models.swin_transformer.SwinTransformer(**config).eval()
    randomize(model, gen(2101))
    x = torch.randn(2, 3, 32, 32, generator=gen(2102))
    with torch.no_grad():
        feats = stage_outputs(model, x)
        logits = model(x)
    shifted = [(i, j) for i, s in enumerate(model.layers) for j, b in enumerate(s.blocks) if any(b.shift_size)]
    assert shifted == [(0, 1), (1, 1)], shifted
    assert model.layers[3].blocks[0].window_size == (2, 2)
    tensors = dict(model.state_dict())
    tensors["io.input"] = x
    for i, f in enumerate(feats):
        tensors[f"io.layers_{i}"] = f
    tensors["io.logits"] = logits
    save(NN / "swin_tiny.safetensors", tensors, {"config": json.dumps(config)})

    buffers = {k: v for k, v in model.named_buffers() if k.endswith(("relative_position_index", "attn_mask"))}
    assert not any(k in model.state_dict() for k in buffers)  # non-persistent in timm 0.9
    save(NN / "swin_buffers.safetensors", buffers, {"config": json.dumps(config)})


def features():
    config = dict(img_size=[32, 48], patch_size=2, in_chans=3, embed_dim=4, depths=[2, 2, 2, 1],
                  num_heads=[2, 2, 4, 4], window_size=5, mlp_ratio=2.0, qkv_bias=False,
                  num_classes=0, global_pool="avg")
    torch.manual_seed(1)
    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, features_only=True,
                              **config).eval()
    randomize(model, gen(2201))
    blocks = [m for m in model.modules() if isinstance(m, timm.models.swin_transformer.SwinTransformerBlock)]
    assert [b.window_size for b in blocks[4:8]] == [(4, 5), (4, 5), (2, 3)]
    assert [b.shift_size for b in blocks] == [(0, 0), (2, 2), (0, 0), (2, 2), (0, 0), (0, 2), (0, 0)]
    x = torch.randn(1, 3, 32, 48, generator=gen(2202))
    with torch.no_grad():
        feats = model(x)
    tensors = dict(model.state_dict())
    assert any(k.startswith("layers_0.blocks.") for k in tensors)
    tensors["io.input"] = x
    for i, f in enumerate(feats):
        tensors[f"io.layers_{i}"] = f
    save(NN / "swin_features.safetensors", tensors, {"config": json.dumps(config)})


if __name__ == "__main__":
    tiny()
    features()
