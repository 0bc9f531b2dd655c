"""Parity fixtures for models::DepthAnything and DGIQA's depth image (tests/data/models/depth_anything_*).

Runs the DGIQA authors' own classes (uf-robopi/DGIQA, which vendors Depth Anything V1 and the DINOv2
hub unchanged), fetched and unpacked outside this repository and never committed:

  git -C <mirror of uf-robopi/DGIQA> archive HEAD | tar -x -C /tmp/dgiqa-src
  /work/refvenv/bin/python tools/reference/make_depth_fixtures.py [--src /tmp/dgiqa-src]

Every module gets random weights (LayerNorm affines, LayerScale gammas, biases, class token and
position embeddings included) at two seeds, batch 2 where the code allows, and shrunken widths and
depths (patch 14 kept), so that the files stay small:

  depth_anything_encoder{,_s2}   DinoVisionTransformer (the vendored hub's class, built directly with
                                 fewer blocks and channels) -> get_intermediate_layers(x, 4,
                                 return_class_token=True) at the stored grid and at resampled grids
  depth_anything_pos_embed       interpolate_pos_encoding of a 37x37 table (Depth Anything's 518
                                 input) for the grids of 518x686, 532x518 and 518x518
  depth_anything_rcu / _fusion   blocks.ResidualConvUnit, blocks.FeatureFusionBlock (both resize modes)
  depth_anything_head{,_s2}      dpt.DPTHead
  depth_anything_net{,_s2}       dpt.DPT_DINOv2(encoder='vits', features=64, out_channels=[48, 96, 192,
                                 384]) with its two halves replaced by shrunken ones of the same classes
  depth_anything_generator       depth_utils.DepthGenerator.__call__ on small 8-bit images, its model the
                                 random net above: the uint8 depth image, the float map before the
                                 scaling, the first and last rows of the network input, and the
                                 resize rule of depth_anything.util.transform.Resize for many sizes
  ../transforms/opencv_bicubic   cv2.resize(INTER_CUBIC) on float64 images (uint8 / 255)

The inputs are stored as float32 (images as uint8), cv2 outputs as float64; everything else float32.
huggingface_hub is replaced by a stub module (the depth code imports PyTorchModelHubMixin and
hf_hub_download at import time but never calls them here).
"""
import argparse
from functools import partial
import json
import math
import os
import pathlib
import struct
import sys
import types

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import gen, randomize  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
MODELS = ROOT / "models"
TRANSFORMS = ROOT / "transforms"

torch.set_num_threads(1)


def save(path: pathlib.Path, tensors: dict, metadata: dict) -> None:
    """safetensors: float64 arrays as F64, uint8 as U8, int64 as I64, the rest as F32 (aligned)."""
    items = []
    for name, t in tensors.items():
        a = t.detach().contiguous().cpu().numpy() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)
        if a.dtype == np.float64:
            items.append((0, name, "F64", a.astype("<f8")))
        elif a.dtype == np.int64:
            items.append((1, name, "I64", a.astype("<i8")))
        elif a.dtype == np.uint8:
            items.append((3, name, "U8", a))
        else:
            items.append((2, name, "F32", a.astype("<f4")))
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
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def import_authors(src: pathlib.Path):
    stub = types.ModuleType("huggingface_hub")
    stub.PyTorchModelHubMixin = type("PyTorchModelHubMixin", (), {})
    stub.hf_hub_download = None
    sys.modules["huggingface_hub"] = stub  # timm (imported by make_op_fixtures) may have loaded the real one
    sys.path.insert(0, str(src / "torchhub" / "facebookresearch_dinov2_main"))
    sys.path.insert(0, str(src))
    os.chdir(src)  # DPT_DINOv2 loads the DINOv2 hub from a relative directory
    import vision_transformer as dinov2  # noqa: E402  (the vendored hub's module)
    from dinov2.layers import MemEffAttention, NestedTensorBlock  # noqa: E402
    from depth_anything import blocks, dpt  # noqa: E402
    import depth_utils  # noqa: E402
    return types.SimpleNamespace(dinov2=dinov2, Block=partial(NestedTensorBlock, attn_class=MemEffAttention),
                                 blocks=blocks, dpt=dpt, depth_utils=depth_utils)


def randomize_all(module: nn.Module, g: torch.Generator) -> None:
    """make_op_fixtures.randomize, then tokens and position embeddings large enough to matter."""
    randomize(module, g)
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("cls_token", "pos_embed", "mask_token"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def encoder(A, img_size, embed_dim, depth, num_heads, mlp_ratio=4.0):
    # What the hub's dinov2_vits14 builds, with other sizes: LayerScale (init_values 1.0), MLP FFN,
    # no chunks, no registers, interpolate_offset 0.1 without antialias.
    return A.dinov2.DinoVisionTransformer(img_size=img_size, patch_size=14, embed_dim=embed_dim, depth=depth,
                                          num_heads=num_heads, mlp_ratio=mlp_ratio, block_fn=A.Block,
                                          init_values=1.0, ffn_layer="mlp", block_chunks=0,
                                          num_register_tokens=0, interpolate_antialias=False,
                                          interpolate_offset=0.1).eval()


def tap_tensors(prefix, taps):
    out = {}
    for i, (patches, cls) in enumerate(taps):
        out[f"io.{prefix}.block{i}"] = patches
        out[f"io.{prefix}.cls{i}"] = cls
    return out


def encoder_fixture(A, name, seed, cfg, inputs):
    torch.manual_seed(seed)
    model = encoder(A, **cfg)
    g = gen(seed)
    randomize_all(model, g)
    tensors = dict(model.state_dict())
    for key, shape in inputs.items():
        x = torch.randn(*shape, generator=g)
        with torch.no_grad():
            taps = model.get_intermediate_layers(x, 4, return_class_token=True)
        tensors[f"io.{key}"] = x
        tensors.update(tap_tensors(key, taps))
    config = dict(cfg, patch_size=14, inputs=list(inputs))
    save(MODELS / f"depth_anything_{name}.safetensors", tensors, {"config": json.dumps(config)})


def pos_embed_fixture(A):
    torch.manual_seed(40)
    model = encoder(A, img_size=518, embed_dim=4, depth=1, num_heads=1)
    g = gen(40)
    randomize_all(model, g)
    tensors = dict(model.state_dict())  # a whole (one-block) encoder, so that the C++ test loads it
    with torch.no_grad():
        grids = [(37, 49), (38, 37), (37, 37)]
        for gh, gw in grids:
            x = torch.zeros(1, 1 + gh * gw, 4)
            # prepare_tokens_with_masks passes (x, H, W) under the names (w, h)
            tensors[f"io.grid{gh}x{gw}"] = model.interpolate_pos_encoding(x, gh * 14, gw * 14)
    save(MODELS / "depth_anything_pos_embed.safetensors", tensors,
         {"config": json.dumps({"grids": grids, "img_size": 518, "embed_dim": 4, "depth": 1, "num_heads": 1,
                                "patch_size": 14})})


def pieces_fixtures(A):
    g = gen(50)
    torch.manual_seed(50)
    rcu = A.blocks.ResidualConvUnit(6, nn.ReLU(False), False).eval()
    randomize_all(rcu, g)
    x = torch.randn(2, 6, 5, 7, generator=g)
    with torch.no_grad():
        out = rcu(x)
    save(MODELS / "depth_anything_rcu.safetensors", dict(rcu.state_dict(), **{"io.input": x, "io.output": out}),
         {"config": json.dumps({"features": 6})})

    fusion = A.dpt._make_fusion_block(6, False).eval()  # as DPTHead builds its refinenets
    randomize_all(fusion, g)
    x, skip = torch.randn(2, 6, 4, 5, generator=g), torch.randn(2, 6, 4, 5, generator=g)
    with torch.no_grad():
        fused = fusion(x, skip, size=(7, 9))
        single = fusion(x)  # one input, no size: scale_factor 2
    save(MODELS / "depth_anything_fusion.safetensors",
         dict(fusion.state_dict(), **{"io.input": x, "io.skip": skip, "io.fused": fused, "io.single": single}),
         {"config": json.dumps({"features": 6, "fused_size": [7, 9]})})


def head_fixture(A, name, seed, in_channels, features, out_channels, batch, grid):
    torch.manual_seed(seed)
    head = A.dpt.DPTHead(1, in_channels, features, False, out_channels=out_channels, use_clstoken=False).eval()
    g = gen(seed)
    randomize_all(head, g)
    with torch.no_grad():
        head.scratch.output_conv2[2].bias.fill_(0.5)  # keep most of the output above the final ReLU
    gh, gw = grid
    feats = [(torch.randn(batch, gh * gw, in_channels, generator=g), torch.randn(batch, in_channels, generator=g))
             for _ in range(4)]
    with torch.no_grad():
        out = head(feats, gh, gw)
    tensors = dict(head.state_dict())
    for i, (t, _) in enumerate(feats):
        tensors[f"io.tokens{i}"] = t
    tensors["io.output"] = out
    config = {"in_channels": in_channels, "features": features, "out_channels": out_channels, "grid": list(grid)}
    save(MODELS / f"depth_anything_{name}.safetensors", tensors, {"config": json.dumps(config)})


def shrunken_net(A, seed, enc, features, out_channels):
    """DPT_DINOv2 as the authors build it, then both halves swapped for shrunken ones."""
    torch.manual_seed(seed)
    net = A.dpt.DPT_DINOv2(encoder="vits", features=64, out_channels=[48, 96, 192, 384])
    net.pretrained = encoder(A, **enc)
    net.depth_head = A.dpt.DPTHead(1, enc["embed_dim"], features, False, out_channels=out_channels,
                                   use_clstoken=False)
    net.eval()
    g = gen(seed)
    randomize_all(net, g)
    with torch.no_grad():
        net.depth_head.scratch.output_conv2[2].bias.fill_(0.5)
    return net, g


def net_fixture(A, name, seed, enc, features, out_channels, input_shape):
    net, g = shrunken_net(A, seed, enc, features, out_channels)
    x = torch.randn(*input_shape, generator=g)
    with torch.no_grad():
        depth = net(x)
        taps = net.pretrained.get_intermediate_layers(x, 4, return_class_token=True)
    tensors = dict(net.state_dict())
    tensors["io.input"] = x
    tensors["io.depth"] = depth
    tensors.update(tap_tensors("input", taps))
    config = {"encoder": dict(enc, patch_size=14), "features": features, "out_channels": out_channels}
    save(MODELS / f"depth_anything_{name}.safetensors", tensors, {"config": json.dumps(config)})
    return net


def generator_fixture(A, nets):
    DepthGenerator = A.depth_utils.DepthGenerator
    tensors, cases = {}, []
    rng = np.random.default_rng(60)
    for key, net, (h, w) in [("a", nets[0], (30, 40)), ("b", nets[1], (33, 29))]:
        # The generator's own __init__, with from_pretrained answering the random net.
        A.depth_utils.DepthAnything.from_pretrained = classmethod(lambda cls, _name, _net=net: _net)
        gen_ = DepthGenerator("vits", torch.device("cpu"))
        # A smooth picture with noise, so that the depth map is not flat.
        yy, xx = np.mgrid[0:h, 0:w]
        base = 127 + 90 * np.sin(yy[..., None] * 0.31 + xx[..., None] * 0.17 + np.arange(3) * 1.3)
        rgb = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        out = gen_(bgr)
        net_input = gen_.transform({"image": rgb / 255.0})["image"]  # [3, H1, W1] float32
        with torch.no_grad():
            d = gen_.model(torch.from_numpy(net_input).unsqueeze(0))
            fmap = torch.nn.functional.interpolate(d[None], (h, w), mode="bilinear", align_corners=False)[0, 0]
        tensors[f"{key}.image"] = rgb
        tensors[f"{key}.depth_image"] = out
        tensors[f"{key}.depth_map"] = fmap
        tensors[f"{key}.input_top"] = torch.from_numpy(net_input[:, :4].copy())
        tensors[f"{key}.input_bottom"] = torch.from_numpy(net_input[:, -4:].copy())
        cases.append({"name": key, "net": "net" if key == "a" else "net_s2", "input_size": list(net_input.shape[1:])})
    # The Resize rule (width=height=518, keep_aspect_ratio, multiple of 14, lower_bound) for many sizes.
    resize = gen_.transform.transforms[0]
    sizes = [(30, 40), (33, 29), (768, 1024), (384, 512), (518, 518), (1, 1), (1000, 7), (7, 1000), (517, 519),
             (480, 640), (1080, 1920), (2000, 1500), (37, 37), (259, 1036), (100, 101), (300, 299), (123, 457)]
    table = []
    for h, w in sizes:
        nw, nh = resize.get_size(w, h)
        table.append([h, w, int(nh), int(nw)])
    save(MODELS / "depth_anything_generator.safetensors", tensors,
         {"cases": json.dumps(cases), "resize_table": json.dumps(table)})


def bicubic_fixture():
    import cv2
    rng = np.random.default_rng(70)
    tensors, cases = {}, []
    for name, (h, w, c), (oh, ow) in [("up", (7, 9, 3), (16, 20)), ("down", (13, 11, 3), (5, 4)),
                                      ("one_axis", (6, 8, 3), (6, 13)), ("same", (5, 5, 3), (5, 5)),
                                      ("grey_up", (4, 5, 1), (11, 9)), ("mixed", (9, 4, 3), (4, 17))]:
        img = rng.integers(0, 256, (h, w, c)).astype(np.uint8)
        f = img / 255.0
        out = cv2.resize(f if c == 3 else f[..., 0], (ow, oh), interpolation=cv2.INTER_CUBIC)
        tensors[f"{name}.input"] = img if c == 3 else img[..., 0]
        tensors[f"{name}.output"] = out
        cases.append({"name": name, "size": [oh, ow]})
    save(TRANSFORMS / "opencv_bicubic.safetensors", tensors,
         {"cases": json.dumps(cases), "opencv": cv2.__version__})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default="/tmp/dgiqa-src", help="the unpacked uf-robopi/DGIQA repository")
    args = parser.parse_args()
    bicubic_fixture()
    A = import_authors(pathlib.Path(args.src).resolve())

    encoder_fixture(A, "encoder", 11, dict(img_size=56, embed_dim=16, depth=5, num_heads=2),
                    {"square": (2, 3, 56, 56), "wide": (1, 3, 56, 70), "tall": (1, 3, 84, 56)})
    encoder_fixture(A, "encoder_s2", 12, dict(img_size=28, embed_dim=24, depth=4, num_heads=3, mlp_ratio=2.0),
                    {"wide": (2, 3, 42, 56)})
    pos_embed_fixture(A)
    pieces_fixtures(A)
    head_fixture(A, "head", 21, 16, 8, [4, 8, 12, 16], 2, (3, 4))
    head_fixture(A, "head_s2", 22, 12, 6, [6, 6, 10, 8], 1, (5, 3))
    net = net_fixture(A, "net", 31, dict(img_size=56, embed_dim=32, depth=4, num_heads=2), 12, [6, 8, 12, 16],
                      (2, 3, 70, 98))
    net_s2 = net_fixture(A, "net_s2", 32, dict(img_size=28, embed_dim=24, depth=4, num_heads=3, mlp_ratio=2.0), 8,
                         [4, 8, 12, 16], (2, 3, 42, 56))
    generator_fixture(A, [net, net_s2])
    files = list(MODELS.glob("depth_anything_*.safetensors")) + [TRANSFORMS / "opencv_bicubic.safetensors"]
    for p in sorted(files):
        print(f"{p.stat().st_size / 1024:8.1f} KiB  {p.name}")
    print(f"total {sum(p.stat().st_size for p in files) / 1024:.0f} KiB, torch {torch.__version__}")


if __name__ == "__main__":
    main()
