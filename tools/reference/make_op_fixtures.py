"""Parity fixtures for the CPU ops (tests/data/ops/) and the basic nn layers (tests/data/nn/).

Every op and layer runs in PyTorch on random inputs and random weights from fixed seeds; inputs,
weights and outputs are written as small .safetensors files that the C++ tests compare against
(max|out - ref| / max|ref| <= 1e-4 in float32).

  ops/<op>.safetensors   tensors "<case>.<name>", metadata "cases": a JSON list of the cases and
                         their options
  nn/<case>.safetensors  the module's state_dict under its own key names, "io.input" /
                         "io.output" (and masks), metadata "config": the layer's settings as JSON

The timm layers (Mlp, Attention, Block with LayerScale, PatchEmbed) come from timm 0.9.16 (pinned in
requirements.txt; it imports with --no-deps) when it is installed; each is then also checked against
the plain-PyTorch restatement below (same state_dict keys, same output), which is what runs when
timm is absent:
  /work/refvenv/bin/python tools/reference/make_op_fixtures.py   (or /usr/bin/python3 without timm)
"""
import json
from functools import partial
import math
import pathlib
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
OPS = ROOT / "ops"
NN = ROOT / "nn"

torch.set_num_threads(1)

try:
    import timm
    import timm.layers
    import timm.models.vision_transformer
except ImportError:
    timm = None


# ---------------------------------------------------------------- safetensors writer


def save(path: pathlib.Path, tensors: dict, metadata: dict) -> None:
    """safetensors by hand: 8-byte header length, JSON header, raw little-endian data.

    Float tensors are stored as F32, int64 as I64, bool as BOOL, in that order, so that every
    tensor stays aligned to its element size in the file."""
    items = []
    for name, t in tensors.items():
        a = t.detach().contiguous().cpu().numpy()
        if a.dtype == np.bool_:
            items.append((2, name, "BOOL", a.astype(np.uint8)))
        elif a.dtype == np.int64:
            items.append((0, name, "I64", a.astype("<i8")))
        else:
            items.append((1, name, "F32", a.astype("<f4")))
    items.sort(key=lambda x: x[0])
    header, blobs, offset = {}, [], 0
    for _, name, dtype, a in items:
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {k: v for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class OpFile:
    """Collects the cases of one op file."""

    def __init__(self, name: str):
        self.name, self.tensors, self.cases = name, {}, []

    def case(self, name: str, tensors: dict, **options) -> None:
        assert all("." not in k for k in tensors)
        self.cases.append({"name": name, **options})
        for k, v in tensors.items():
            self.tensors[f"{name}.{k}"] = v

    def write(self) -> None:
        save(OPS / f"{self.name}.safetensors", self.tensors, {"cases": json.dumps(self.cases)})


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g) * scale


# ---------------------------------------------------------------- ops


def gemm_fixtures():
    f, g = OpFile("gemm"), gen(101)
    a, b = randn(g, 5, 7), randn(g, 7, 6)
    f.case("mm", {"a": a, "b": b, "out": a @ b}, op="matmul")
    a, bt = randn(g, 9, 7), randn(g, 6, 7)  # b given as its transpose: the test uses bt.transpose(0, 1)
    f.case("mm_bt", {"a": a, "b": bt, "out": a @ bt.t()}, op="matmul", transpose_b=True)
    a, b = randn(g, 2, 1, 4, 5), randn(g, 3, 5, 6)
    f.case("bmm_broadcast", {"a": a, "b": b, "out": torch.matmul(a, b)}, op="matmul")
    a, b = randn(g, 3, 4, 5), randn(g, 3, 5, 2)
    f.case("bmm", {"a": a, "b": b, "out": torch.matmul(a, b)}, op="matmul")
    x, w, bias = randn(g, 2, 3, 8), randn(g, 5, 8), randn(g, 5)
    f.case("linear_bias", {"x": x, "weight": w, "bias": bias, "out": F.linear(x, w, bias)}, op="linear")
    x, w = randn(g, 4, 8), randn(g, 6, 8)
    f.case("linear_nobias", {"x": x, "weight": w, "out": F.linear(x, w)}, op="linear")
    x, w, bias = randn(g, 40, 64), randn(g, 48, 64), randn(g, 48)  # big enough to be split across threads
    f.case("linear_large", {"x": x, "weight": w, "bias": bias, "out": F.linear(x, w, bias)}, op="linear")
    f.write()


def conv_fixtures():
    f, g = OpFile("conv2d"), gen(202)

    def add(name, n, c, h, w, o, k, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True):
        x = randn(g, n, c, h, w)
        wt = randn(g, o, c // groups, *k, scale=1.0 / math.sqrt(c // groups * k[0] * k[1]))
        b = randn(g, o) if bias else None
        out = F.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
        t = {"x": x, "weight": wt, "out": out}
        if bias:
            t["bias"] = b
        f.case(name, t, stride=list(stride), padding=list(padding), dilation=list(dilation), groups=groups)

    add("basic", 2, 3, 9, 9, 4, (3, 3))
    add("stride2_pad1", 1, 3, 10, 9, 5, (3, 3), stride=(2, 2), padding=(1, 1))
    add("asymmetric", 1, 3, 8, 11, 4, (3, 2), stride=(2, 1), padding=(0, 2), dilation=(1, 2), bias=False)
    add("dilation2", 1, 2, 9, 9, 3, (3, 3), padding=(2, 2), dilation=(2, 2))
    add("groups2", 2, 4, 7, 6, 6, (3, 3), padding=(1, 1), groups=2, bias=False)
    add("depthwise", 1, 4, 9, 8, 8, (3, 3), stride=(2, 2), padding=(1, 1), groups=4)
    add("depthwise_dilated", 1, 3, 8, 8, 3, (3, 3), padding=(2, 2), dilation=(2, 2), groups=3, bias=False)
    add("pointwise", 2, 4, 5, 6, 6, (1, 1))
    add("pointwise_stride2", 1, 4, 6, 6, 3, (1, 1), stride=(2, 2))
    add("patchify", 1, 3, 8, 12, 6, (4, 4), stride=(4, 4))

    # Conv (no bias) followed by an eval-mode BatchNorm: the test folds the BN into the conv.
    x = randn(g, 2, 3, 7, 7)
    wt = randn(g, 6, 3, 3, 3, scale=0.3)
    bn_w, bn_b = 1.0 + randn(g, 6, scale=0.2), randn(g, 6, scale=0.2)
    mean, var = randn(g, 6, scale=0.5), torch.rand(6, generator=g) + 0.5
    eps = 1e-3
    out = F.batch_norm(F.conv2d(x, wt, padding=1), mean, var, bn_w, bn_b, training=False, eps=eps)
    f.case("conv_bn", {"x": x, "weight": wt, "bn_weight": bn_w, "bn_bias": bn_b, "running_mean": mean,
                       "running_var": var, "out": out}, padding=[1, 1], eps=eps)
    f.write()


def norm_fixtures():
    f, g = OpFile("norm"), gen(303)
    x = randn(g, 2, 5, 16, scale=2.0) + 3.0
    w, b = 1.0 + randn(g, 16, scale=0.3), randn(g, 16, scale=0.3)
    f.case("layer_norm_affine", {"x": x, "weight": w, "bias": b,
                                 "out": F.layer_norm(x, (16,), w, b, eps=1e-6)}, op="layer_norm", eps=1e-6)
    x = randn(g, 3, 10)
    f.case("layer_norm_plain", {"x": x, "out": F.layer_norm(x, (10,), eps=1e-5)}, op="layer_norm", eps=1e-5)

    x = randn(g, 2, 6, 5, 4)
    w, b = 1.0 + randn(g, 6, scale=0.3), randn(g, 6, scale=0.3)
    f.case("group_norm_3", {"x": x, "weight": w, "bias": b, "out": F.group_norm(x, 3, w, b, eps=1e-5)},
           op="group_norm", groups=3, eps=1e-5)
    f.case("group_norm_1", {"x": x, "out": F.group_norm(x, 1, eps=1e-6)}, op="group_norm", groups=1, eps=1e-6)
    f.case("group_norm_per_channel", {"x": x, "weight": w, "bias": b, "out": F.group_norm(x, 6, w, b, eps=1e-5)},
           op="group_norm", groups=6, eps=1e-5)
    x3 = randn(g, 2, 4, 7)
    w4, b4 = 1.0 + randn(g, 4, scale=0.3), randn(g, 4, scale=0.3)
    f.case("group_norm_1d", {"x": x3, "weight": w4, "bias": b4, "out": F.group_norm(x3, 2, w4, b4, eps=1e-5)},
           op="group_norm", groups=2, eps=1e-5)

    x = randn(g, 3, 4, 12)
    w = 1.0 + randn(g, 12, scale=0.3)
    rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w  # RMSNorm (timm RmsNorm / torch 2.4)
    f.case("rms_norm", {"x": x, "weight": w, "out": rms}, op="rms_norm", eps=1e-6)

    x = randn(g, 2, 4, 3, 5)
    mean, var = randn(g, 4, scale=0.5), torch.rand(4, generator=g) + 0.5
    w, b = 1.0 + randn(g, 4, scale=0.3), randn(g, 4, scale=0.3)
    f.case("batch_norm_2d", {"x": x, "running_mean": mean, "running_var": var, "weight": w, "bias": b,
                             "out": F.batch_norm(x, mean, var, w, b, training=False, eps=1e-5)},
           op="batch_norm", eps=1e-5)
    x = randn(g, 3, 4)
    f.case("batch_norm_1d_plain", {"x": x, "running_mean": mean, "running_var": var,
                                   "out": F.batch_norm(x, mean, var, training=False, eps=1e-3)},
           op="batch_norm", eps=1e-3)
    f.write()


def activation_fixtures():
    f, g = OpFile("activation"), gen(404)
    x = randn(g, 4, 33, scale=3.0)
    for name, fn in [("gelu", lambda t: F.gelu(t)),
                     ("gelu_tanh", lambda t: F.gelu(t, approximate="tanh")),
                     ("quick_gelu", lambda t: t * torch.sigmoid(1.702 * t)),
                     ("relu", F.relu), ("silu", F.silu), ("sigmoid", torch.sigmoid),
                     ("selu", F.selu), ("tanh", torch.tanh)]:
        f.case(name, {"x": x, "out": fn(x)}, op="activation", act=name)
    x = randn(g, 2, 3, 4, 5)
    w1 = torch.tensor([0.25])
    f.case("prelu_shared", {"x": x, "weight": w1, "out": F.prelu(x, w1)}, op="prelu")
    w3 = randn(g, 3, scale=0.5)
    f.case("prelu_channels", {"x": x, "weight": w3, "out": F.prelu(x, w3)}, op="prelu")
    x = randn(g, 3, 4, 7, scale=20.0) + 50.0  # large logits: the max must be subtracted
    f.case("softmax_last", {"x": x, "out": F.softmax(x, dim=-1)}, op="softmax", axis=-1)
    f.case("softmax_axis1", {"x": x, "out": F.softmax(x, dim=1)}, op="softmax", axis=1)
    f.case("log_softmax_last", {"x": x, "out": F.log_softmax(x, dim=-1)}, op="log_softmax", axis=-1)
    f.case("log_softmax_axis0", {"x": x, "out": F.log_softmax(x, dim=0)}, op="log_softmax", axis=0)
    f.write()


def pool_fixtures():
    f, g = OpFile("pool"), gen(505)

    def mx(name, shape, k, s, p=(0, 0), d=(1, 1), ceil=False):
        x = randn(g, *shape)
        out = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil)
        f.case(name, {"x": x, "out": out}, op="max", kernel=list(k), stride=list(s), padding=list(p),
               dilation=list(d), ceil_mode=ceil)

    def avg(name, shape, k, s, p=(0, 0), ceil=False, include_pad=True, divisor=None):
        x = randn(g, *shape)
        out = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad, divisor_override=divisor)
        opts = dict(op="avg", kernel=list(k), stride=list(s), padding=list(p), ceil_mode=ceil,
                    count_include_pad=include_pad)
        if divisor is not None:
            opts["divisor_override"] = divisor
        f.case(name, {"x": x, "out": out}, **opts)

    mx("max_k3s2p1", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1))
    mx("max_ceil", (1, 2, 8, 8), (3, 3), (2, 2), ceil=True)
    mx("max_ceil_pad", (1, 2, 6, 6), (3, 3), (2, 2), (1, 1), ceil=True)
    mx("max_dilated", (1, 2, 9, 10), (2, 3), (1, 2), (1, 1), (2, 1))
    avg("avg_k3s2p1_include_pad", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1))
    avg("avg_k3s2p1_exclude_pad", (2, 3, 9, 9), (3, 3), (2, 2), (1, 1), include_pad=False)
    avg("avg_ceil_include_pad", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1), ceil=True)
    avg("avg_ceil_exclude_pad", (1, 2, 8, 7), (3, 3), (2, 2), (1, 1), ceil=True, include_pad=False)
    avg("avg_k2", (1, 3, 6, 8), (2, 2), (2, 2))
    avg("avg_divisor", (1, 2, 7, 7), (3, 2), (2, 1), (1, 1), divisor=5)
    for name, shape, out in [("adaptive_3x4", (1, 3, 7, 9), (3, 4)), ("adaptive_identity", (1, 2, 5, 5), (5, 5)),
                             ("adaptive_global", (2, 3, 6, 5), (1, 1)), ("adaptive_up", (1, 2, 2, 3), (4, 5))]:
        x = randn(g, *shape)
        f.case(name, {"x": x, "out": F.adaptive_avg_pool2d(x, out)}, op="adaptive_avg", output=list(out))
    f.write()


def interpolate_fixtures():
    f, g = OpFile("interpolate"), gen(606)
    small = randn(g, 1, 2, 7, 9)
    big = randn(g, 1, 2, 16, 13)

    def add(name, x, size=None, scale=None, mode="bilinear", align_corners=None, antialias=False):
        kw = {}
        if mode in ("bilinear", "bicubic"):
            kw["align_corners"] = bool(align_corners)
            kw["antialias"] = antialias
        if scale is not None:
            out = F.interpolate(x, scale_factor=scale, mode=mode, **kw)
        else:
            out = F.interpolate(x, size=size, mode=mode, **kw)
        opts = dict(mode=mode, align_corners=bool(align_corners), antialias=antialias)
        if scale is not None:
            opts["scale"] = list(scale)
        else:
            opts["size"] = list(size)
        f.case(name, {"x": x, "out": out}, **opts)

    for mode in ("bilinear", "bicubic"):
        for ac in (False, True):
            tag = f"{mode}_{'ac' if ac else 'hp'}"
            add(f"{tag}_up", small, (11, 15), mode=mode, align_corners=ac)
            add(f"{tag}_down", big, (5, 6), mode=mode, align_corners=ac)
            add(f"{tag}_aa_down", big, (5, 6), mode=mode, align_corners=ac, antialias=True)
            add(f"{tag}_aa_up", small, (11, 15), mode=mode, align_corners=ac, antialias=True)
        add(f"{mode}_aa_down4", randn(g, 1, 1, 16, 16), (4, 4), mode=mode, antialias=True)
        add(f"{mode}_aa_mixed", big, (20, 7), mode=mode, antialias=True)
    add("nearest_up", small, (11, 15), mode="nearest")
    add("nearest_down", big, (5, 6), mode="nearest")
    add("nearest_double", small, (14, 18), mode="nearest")
    add("nearest_exact_up", small, (11, 15), mode="nearest-exact")
    add("nearest_exact_down", big, (5, 6), mode="nearest-exact")
    # Scale factors drive the coordinate mapping (DINOv2's position-embedding resize uses (g + 0.1) / 37).
    pos = randn(g, 1, 3, 6, 6)
    add("bicubic_scale_dinov2", pos, scale=((4 + 0.1) / 6, (5 + 0.1) / 6), mode="bicubic")
    add("bilinear_scale_up", small, scale=(1.5, 1.7), mode="bilinear")
    add("bilinear_scale_same_size", randn(g, 1, 1, 5, 5), scale=(1.1, 1.1), mode="bilinear")
    add("nearest_scale", small, scale=(1.6, 0.7), mode="nearest")
    f.write()


def attention_fixtures():
    f, g = OpFile("attention"), gen(707)

    def reference(q, k, v, mask=None, scale=None, causal=False):
        s = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
        logits = (q @ k.transpose(-2, -1)) * s
        if mask is not None:
            logits = logits + mask
        if causal:
            n, m = logits.shape[-2:]
            logits = logits.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
        return logits.softmax(-1) @ v

    q, k, v = randn(g, 2, 3, 5, 8), randn(g, 2, 3, 6, 8), randn(g, 2, 3, 6, 4)
    f.case("basic", {"q": q, "k": k, "v": v, "out": reference(q, k, v)})
    f.case("scale", {"q": q, "k": k, "v": v, "out": reference(q, k, v, scale=0.3)}, scale=0.3)
    mask = randn(g, 5, 6)
    f.case("mask_2d", {"q": q, "k": k, "v": v, "mask": mask, "out": reference(q, k, v, mask)})
    mask4 = randn(g, 2, 1, 5, 6)
    f.case("mask_per_batch", {"q": q, "k": k, "v": v, "mask": mask4, "out": reference(q, k, v, mask4)})
    allowed = torch.rand(2, 1, 5, 6, generator=g) > 0.3
    allowed[..., 0] = True  # every query keeps at least one key
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))
    f.case("mask_bool", {"q": q, "k": k, "v": v, "allowed": allowed, "out": reference(q, k, v, additive)})
    qs, ks, vs = randn(g, 1, 2, 5, 4), randn(g, 1, 2, 5, 4), randn(g, 1, 2, 5, 4)
    f.case("causal", {"q": qs, "k": ks, "v": vs, "out": reference(qs, ks, vs, causal=True)}, causal=True)
    ql, kl = randn(g, 1, 2, 4, 8, scale=10.0), randn(g, 1, 2, 4, 8, scale=10.0)
    vl = randn(g, 1, 2, 4, 8)
    f.case("large_logits", {"q": ql, "k": kl, "v": vl, "out": reference(ql, kl, vl)})
    # Many keys, and wide values: biqa computes these through its GEMM kernel, the cases above
    # (at most 7 SIMD packets of keys, 8 of values) directly.
    qm, km, vm = randn(g, 1, 2, 9, 8), randn(g, 1, 2, 150, 8), randn(g, 1, 2, 150, 4)
    maskm = randn(g, 9, 150)
    f.case("many_keys_mask", {"q": qm, "k": km, "v": vm, "mask": maskm, "out": reference(qm, km, vm, maskm)})
    qc = randn(g, 1, 1, 130, 4)
    f.case("many_keys_causal", {"q": qc, "k": qc, "v": qc, "out": reference(qc, qc, qc, causal=True)}, causal=True)
    qw, kw, vw = randn(g, 1, 1, 5, 8), randn(g, 1, 1, 6, 8), randn(g, 1, 1, 6, 136)
    f.case("wide_values", {"q": qw, "k": kw, "v": vw, "out": reference(qw, kw, vw)})
    f.write()


def elementwise_fixtures():
    f, g = OpFile("elementwise"), gen(808)
    a, b = randn(g, 2, 3, 4), randn(g, 2, 3, 4)
    f.case("add_same", {"a": a, "b": b, "out": a + b}, op="add")
    a, b = randn(g, 2, 1, 4), randn(g, 3, 1)
    f.case("add_broadcast", {"a": a, "b": b, "out": a + b}, op="add")
    a, b = randn(g, 3, 4), randn(g, 4)
    f.case("sub_row", {"a": a, "b": b, "out": a - b}, op="sub")
    a, b = randn(g, 2, 3, 4), randn(g, 1, 3, 1)
    f.case("mul_channel", {"a": a, "b": b, "out": a * b}, op="mul")
    a, b = randn(g, 2, 3), torch.rand(2, 1, generator=g) + 0.5
    f.case("div_column", {"a": a, "b": b, "out": a / b}, op="div")
    a, b = randn(g, 4), randn(g, 3, 1)
    f.case("sub_outer", {"a": a, "b": b, "out": a - b}, op="sub")
    a = randn(g, 3, 5)
    for op, s, out in [("add", 2.5, a + 2.5), ("sub", 0.5, a - 0.5), ("mul", -1.5, a * -1.5), ("div", 3.0, a / 3.0)]:
        f.case(f"{op}_scalar", {"a": a, "out": out}, op=op, scalar=s)
    x, y = randn(g, 2, 3, 4), randn(g, 2, 1, 4)
    f.case("concat_axis1", {"a": x, "b": y, "out": torch.cat([x, y], dim=1)}, op="concat", axis=1)
    f.case("permute_201", {"a": x, "out": x.permute(2, 0, 1).contiguous()}, op="permute", order=[2, 0, 1])
    f.write()


# ---------------------------------------------------------------- timm modules (timm 0.9 definitions)


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU,
                 norm_layer=None, bias=True):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.drop1 = nn.Dropout(0.0)
        self.norm = norm_layer(hidden_features) if norm_layer is not None else nn.Identity()
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)
        self.drop2 = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop2(self.fc2(self.norm(self.drop1(self.act(self.fc1(x))))))


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=False):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.Identity()
        self.k_norm = nn.Identity()
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(0.0)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        x = self.attn_drop(attn) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, C)))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=False, init_values=None,
                 act_layer=nn.GELU, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = nn.Identity()

    def forward(self, x):
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class PatchEmbed(nn.Module):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, norm_layer=None,
                 output_fmt=None, bias=True):
        super().__init__()
        self.output_fmt = output_fmt or "NLC"
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def forward(self, x):
        x = self.proj(x)
        if self.output_fmt == "NLC":
            x = x.flatten(2).transpose(1, 2)
        elif self.output_fmt == "NHWC":
            x = x.permute(0, 2, 3, 1)
        return self.norm(x)


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride, padding, eps):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x):
        return self.bn(self.conv(x))


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# ---------------------------------------------------------------- nn layers


def randomize(module: nn.Module, g: torch.Generator) -> None:
    """Random values for every parameter and buffer: norm scales around 1, BatchNorm running
    variances positive, everything else small normal values."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "num_batches_tracked":
                continue
            if leaf == "running_var":
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif leaf == "running_mean":
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif leaf == "gamma":
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif t.dim() == 1 and leaf == "weight":
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.3)
            else:
                fan_in = t[0].numel() if t.dim() > 1 else 4
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(fan_in))


def timm_or_local(timm_name: str, local_cls, *args, **kwargs):
    """(module, twin): timm's module when timm is installed, with the local restatement as its
    twin to cross-check; the local module alone otherwise."""
    if timm is None:
        return local_cls(*args, **kwargs), None
    assert timm.__version__ == "0.9.16", timm.__version__
    where = timm.models.vision_transformer if timm_name in ("Attention", "Block") else timm.layers
    return getattr(where, timm_name)(*args, **kwargs), local_cls(*args, **kwargs)


def layer_case(name: str, module, inputs: dict, config: dict, seed: int, run=None) -> None:
    module, twin = module if isinstance(module, tuple) else (module, None)
    g = gen(seed)
    randomize(module, g)
    module.eval()
    with torch.no_grad():
        out = run(module) if run else module(inputs["input"])
    if twin is not None:  # the plain-PyTorch restatement takes the same keys and computes the same
        twin.load_state_dict(module.state_dict(), strict=True)
        twin.eval()
        with torch.no_grad():
            twin_out = run(twin) if run else twin(inputs["input"])
        assert torch.allclose(twin_out, out, rtol=0, atol=1e-6), name
    tensors = dict(module.state_dict())  # BatchNorm's int64 num_batches_tracked included
    for k, v in inputs.items():
        tensors[f"io.{k}"] = v
    tensors["io.output"] = out
    save(NN / f"{name}.safetensors", tensors, {"config": json.dumps(config)})


def nn_fixtures():
    g = gen(909)
    torch.manual_seed(0)  # module constructors draw their default init from the global generator

    layer_case("linear_bias", nn.Linear(8, 6), {"input": randn(g, 2, 3, 8)},
               {"in_features": 8, "out_features": 6, "bias": True}, 1)
    layer_case("linear_nobias", nn.Linear(8, 5, bias=False), {"input": randn(g, 4, 8)},
               {"in_features": 8, "out_features": 5, "bias": False}, 2)

    layer_case("conv2d_stride2", nn.Conv2d(4, 6, 3, stride=2, padding=1), {"input": randn(g, 2, 4, 9, 8)},
               {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                "dilation": [1, 1], "groups": 1, "bias": True}, 3)
    layer_case("conv2d_groups_dilated", nn.Conv2d(4, 8, (3, 2), padding=(2, 1), dilation=(2, 1), groups=2, bias=False),
               {"input": randn(g, 1, 4, 7, 7)},
               {"in_channels": 4, "out_channels": 8, "kernel_size": [3, 2], "stride": [1, 1], "padding": [2, 1],
                "dilation": [2, 1], "groups": 2, "bias": False}, 4)
    layer_case("conv2d_bn", ConvBN(3, 5, 3, 1, 1, eps=1e-5), {"input": randn(g, 2, 3, 6, 6)},
               {"in_channels": 3, "out_channels": 5, "kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1],
                "dilation": [1, 1], "groups": 1, "bias": False, "bn_eps": 1e-5}, 5)
    layer_case("batch_norm2d", nn.BatchNorm2d(4, eps=1e-3), {"input": randn(g, 2, 4, 3, 3)},
               {"num_features": 4, "eps": 1e-3}, 6)

    layer_case("layer_norm", nn.LayerNorm(12, eps=1e-6), {"input": randn(g, 2, 5, 12)},
               {"dim": 12, "eps": 1e-6}, 7)
    layer_case("group_norm", nn.GroupNorm(2, 6, eps=1e-5), {"input": randn(g, 2, 6, 4, 3)},
               {"num_groups": 2, "num_channels": 6, "eps": 1e-5}, 8)
    layer_case("rms_norm", RMSNorm(10, eps=1e-6), {"input": randn(g, 3, 10)}, {"dim": 10, "eps": 1e-6}, 9)

    layer_case("mlp_gelu", timm_or_local("Mlp", Mlp, 8, 32), {"input": randn(g, 2, 5, 8)},
               {"in_features": 8, "hidden_features": 32, "out_features": 8, "act": "gelu", "norm": False}, 10)
    layer_case("mlp_tanh_norm", timm_or_local("Mlp", Mlp, 8, 16, 5, act_layer=partial(nn.GELU, approximate="tanh"),
                                             norm_layer=nn.LayerNorm),
               {"input": randn(g, 3, 8)},
               {"in_features": 8, "hidden_features": 16, "out_features": 5, "act": "gelu_tanh", "norm": True}, 11)

    layer_case("attention_qkv_bias", timm_or_local("Attention", Attention, 16, num_heads=4, qkv_bias=True), {"input": randn(g, 2, 5, 16)},
               {"dim": 16, "num_heads": 4, "qkv_bias": True}, 12)
    layer_case("attention_no_qkv_bias", timm_or_local("Attention", Attention, 12, num_heads=2), {"input": randn(g, 1, 7, 12)},
               {"dim": 12, "num_heads": 2, "qkv_bias": False}, 13)

    # torch.nn.MultiheadAttention in its own layouts.
    x = randn(g, 5, 2, 16)  # [L, N, E]
    causal = torch.zeros(5, 5).masked_fill(torch.ones(5, 5, dtype=torch.bool).triu(1), float("-inf"))
    layer_case("mha_seq_first_causal", nn.MultiheadAttention(16, 4), {"input": x, "attn_mask": causal},
               {"embed_dim": 16, "num_heads": 4, "batch_first": False, "bias": True}, 14,
               run=lambda m: m(x, x, x, attn_mask=causal, need_weights=False)[0])
    xb = randn(g, 2, 6, 16)  # [N, L, E]
    blocked = torch.rand(6, 6, generator=g) > 0.7
    blocked[:, 0] = False
    padding = torch.zeros(2, 6, dtype=torch.bool)
    padding[1, 4:] = True
    layer_case("mha_batch_first_masks", nn.MultiheadAttention(16, 2, batch_first=True),
               {"input": xb, "attn_mask_bool": blocked, "key_padding_mask": padding},
               {"embed_dim": 16, "num_heads": 2, "batch_first": True, "bias": True}, 15,
               run=lambda m: m(xb, xb, xb, attn_mask=blocked, key_padding_mask=padding, need_weights=False)[0])
    q, kv = randn(g, 2, 3, 16), randn(g, 2, 7, 16)
    layer_case("mha_cross", nn.MultiheadAttention(16, 4, batch_first=True), {"query": q, "key": kv, "value": kv},
               {"embed_dim": 16, "num_heads": 4, "batch_first": True, "bias": True}, 16,
               run=lambda m: m(q, kv, kv, need_weights=False)[0])
    qk, kk, vk = randn(g, 4, 1, 12), randn(g, 6, 1, 10), randn(g, 6, 1, 7)
    layer_case("mha_kdim_vdim_nobias", nn.MultiheadAttention(12, 3, bias=False, kdim=10, vdim=7),
               {"query": qk, "key": kk, "value": vk},
               {"embed_dim": 12, "num_heads": 3, "batch_first": False, "bias": False, "kdim": 10, "vdim": 7}, 17,
               run=lambda m: m(qk, kk, vk, need_weights=False)[0])
    xu = randn(g, 4, 8)  # unbatched [L, E]
    layer_case("mha_unbatched", nn.MultiheadAttention(8, 2), {"input": xu},
               {"embed_dim": 8, "num_heads": 2, "batch_first": False, "bias": True}, 18,
               run=lambda m: m(xu, xu, xu, need_weights=False)[0])

    ln6 = partial(nn.LayerNorm, eps=1e-6)
    layer_case("block", timm_or_local("Block", Block, 16, 2, qkv_bias=True, norm_layer=ln6), {"input": randn(g, 2, 5, 16)},
               {"dim": 16, "num_heads": 2, "mlp_ratio": 4.0, "qkv_bias": True, "layer_scale": False,
                "norm_eps": 1e-6}, 19)
    layer_case("block_layer_scale", timm_or_local("Block", Block, 16, 4, mlp_ratio=2.0, qkv_bias=True, init_values=1e-5,
                                                 norm_layer=ln6),
               {"input": randn(g, 1, 6, 16)},
               {"dim": 16, "num_heads": 4, "mlp_ratio": 2.0, "qkv_bias": True, "layer_scale": True,
                "norm_eps": 1e-6}, 20)

    layer_case("patch_embed", timm_or_local("PatchEmbed", PatchEmbed, (8, 12), 4, 3, 12), {"input": randn(g, 2, 3, 8, 12)},
               {"patch_size": [4, 4], "in_chans": 3, "embed_dim": 12, "output": "tokens", "norm": False}, 21)
    layer_case("patch_embed_norm_nhwc",
               timm_or_local("PatchEmbed", PatchEmbed, (6, 4), 2, 3, 8, norm_layer=nn.LayerNorm, output_fmt="NHWC"),
               {"input": randn(g, 1, 3, 6, 4)},
               {"patch_size": [2, 2], "in_chans": 3, "embed_dim": 8, "output": "nhwc", "norm": True,
                "norm_eps": 1e-5}, 22)


def main() -> None:
    gemm_fixtures()
    conv_fixtures()
    norm_fixtures()
    activation_fixtures()
    pool_fixtures()
    interpolate_fixtures()
    attention_fixtures()
    elementwise_fixtures()
    nn_fixtures()
    total = sum(p.stat().st_size for p in ROOT.glob("ops/*.safetensors")) + \
        sum(p.stat().st_size for p in ROOT.glob("nn/*.safetensors"))
    via = f"timm {timm.__version__}" if timm else "the plain-PyTorch timm layers"
    print(f"wrote fixtures under {ROOT} ({total / 1024:.0f} KiB), timm layers from {via}")


if __name__ == "__main__":
    main()
