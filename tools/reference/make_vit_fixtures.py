"""Parity fixtures for nn::VisionTransformer (tests/data/nn/vit_*.safetensors).

Shrunken timm 0.9.16 VisionTransformer configs (pinned in requirements.txt) with random weights,
LayerNorm affines and LayerScale gammas included. Each file holds the model's state_dict under
timm's keys, "io.input", "io.output" (forward), "io.features" (forward_features), "io.pre_logits"
(forward_head(pre_logits=True)), "io.block<i>" (output of block i) and "io.block<i>_normed"
(the same through the model's final norm, as get_intermediate_layers(norm=True)), and metadata
"config": timm's constructor arguments plus "out_indices".

  /work/refvenv/bin/python tools/reference/make_vit_fixtures.py
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import NN, gen, randomize, save  # noqa: E402

import timm  # noqa: E402
import timm.models.vision_transformer as vit_module  # noqa: E402
from timm.models.vision_transformer import VisionTransformer, resample_abs_pos_embed  # noqa: E402

torch.set_num_threads(1)


def dinov2_resample(posemb, new_size, num_prefix_tokens=1, **_):
    """facebookresearch/dinov2's interpolate_pos_encoding (Depth Anything's encoder): bicubic with
    scale_factor (new + 0.1) / old and antialias off, restated over timm's argument names."""
    n = posemb.shape[1] - num_prefix_tokens
    m = int(math.sqrt(n))
    if n == new_size[0] * new_size[1] and new_size[0] == new_size[1]:
        return posemb
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    scale = (float(new_size[0] + 0.1) / m, float(new_size[1] + 0.1) / m)
    grid = F.interpolate(grid.reshape(1, m, m, -1).permute(0, 3, 1, 2), scale_factor=scale, mode="bicubic",
                         antialias=False)
    assert tuple(grid.shape[-2:]) == tuple(new_size)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).reshape(1, -1, posemb.shape[-1])], dim=1)


def vit_case(name: str, kwargs: dict, input_hw, out_indices, seed: int, batch: int = 2, extra=None) -> None:
    torch.manual_seed(seed)
    model = VisionTransformer(**kwargs).eval()
    g = gen(seed)
    randomize(model, g)
    with torch.no_grad():  # prefix tokens and position embeddings large enough to matter
        for p in (model.cls_token, model.reg_token, model.pos_embed):
            if p is not None:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    x = torch.randn(batch, kwargs.get("in_chans", 3), *input_hw, generator=g)
    with torch.no_grad():
        out = model(x)
        features = model.forward_features(x)
        pre_logits = model.forward_head(features, pre_logits=True)
        blocks = model._intermediate_layers(x, out_indices)  # prefix tokens kept
    tensors = dict(model.state_dict())
    tensors["io.input"] = x
    tensors["io.output"] = out
    tensors["io.features"] = features
    tensors["io.pre_logits"] = pre_logits
    for i, b in zip(sorted(out_indices), blocks):
        tensors[f"io.block{i}"] = b
        with torch.no_grad():
            tensors[f"io.block{i}_normed"] = model.norm(b)
    config = dict(kwargs, out_indices=list(out_indices), **(extra or {}))
    save(NN / f"vit_{name}.safetensors", tensors, {"config": json.dumps(config)})


def main() -> None:
    small = dict(img_size=16, patch_size=4, embed_dim=16, depth=2, num_heads=4, mlp_ratio=2.0)
    # DeiT-III: LayerScale, position embeddings for the patches only, a classification head.
    vit_case("deit3", dict(small, init_values=1e-6, no_embed_class=True, num_classes=5), (16, 16), [0, 1], 1)
    # ViT-B/8 as DSMix uses it: no class token, mean of the patch tokens, fc_norm (timm's default for avg).
    vit_case("avg_no_cls", dict(small, class_token=False, global_pool="avg", num_classes=0), (16, 16), [0], 2)
    # DINOv2 (vit_small_patch14_dinov2 shrunken): LayerScale, patch 14, pos_embed for 28² resampled to 42².
    vit_case("dinov2", dict(small, img_size=28, patch_size=14, init_values=1e-5, num_classes=0,
                            dynamic_img_size=True), (42, 42), [0, 1], 3, batch=1)
    # DINOv2's own resampling (scale factor with a 0.1 offset, no antialias), 2x2 -> 4x3 (non-square).
    vit_module.resample_abs_pos_embed = dinov2_resample
    try:
        vit_case("dinov2_offset", dict(small, img_size=28, patch_size=14, init_values=1e-5, num_classes=0,
                                       dynamic_img_size=True), (56, 42), [1], 7, batch=1,
                 extra=dict(pos_embed_interpolate_offset=0.1, pos_embed_antialias=False))
    finally:
        vit_module.resample_abs_pos_embed = resample_abs_pos_embed
    # Register tokens excluded from the resampling; a non-square input.
    vit_case("reg_tokens", dict(small, reg_tokens=2, init_values=1e-5, num_classes=0, dynamic_img_size=True),
             (12, 20), [1], 4)
    # Class token pooled, then fc_norm (so no final norm), then a head.
    vit_case("fc_norm", dict(small, fc_norm=True, num_classes=3), (16, 16), [1], 5)
    # Plain ViT with norm_pre (patch conv without bias), no qkv bias, a head.
    vit_case("head_pre_norm", dict(small, pre_norm=True, qkv_bias=False, num_classes=7), (16, 16), [0], 6)
    total = sum(p.stat().st_size for p in NN.glob("vit_*.safetensors"))
    print(f"wrote vit fixtures under {NN} ({total / 1024:.0f} KiB) with timm {timm.__version__}")


if __name__ == "__main__":
    main()
