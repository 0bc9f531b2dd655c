"""Parity fixtures for models::DGIQA (tests/data/models/dgiqa/*.safetensors), from the authors' own
classes in model/DGIQA.py (uf-robopi/DGIQA, run from a local checkout, never committed) with timm
0.9.16 and random weights.

  tcb.safetensors        TransformerCnnBlock(in, out) at four shrunken shapes standing in for
                         (96→64 @56), (192→128 @28), (384→256 @14), (768→512 @7); batch 2, two seeds.
                         Keys "<case>.<state_dict key>", "io.<case>.input", "io.<case>.output".
  attention.safetensors  CrossSpatialAttentionBlock(dim, heads) and SpatialAttentionBlock(dim, heads)
                         at dim 32 / 4 heads (seed 0) and dim 24 / 3 heads (seed 1): "io.<case>.query",
                         ".key_value" (cross) or ".input" (refinement), ".output", and for the cross
                         layer ".probs" (the head-averaged attention weights nn.MultiheadAttention
                         returns, [N, L, S]). A full 960-wide layer is 11M parameters, too big for a
                         fixture: tools/reference/check_full_size_dgiqa.py covers it.
  network_a.safetensors  a whole shrunken DGIQA (seed 0, batch 2, img 32, window 4) with every
                         intermediate; network_a_buffers.safetensors holds the RGB Swin's buffers a
                         timm 0.9.0-0.9.5 state_dict also stores (relative_position_index, attn_mask).
  network_b.safetensors  a second one (seed 1, batch 2, img 56, window 7, a 7×7 fused map as in the
                         real network) with the fused maps, attention outputs, logits and scores.

How the network is shrunk. DGIQA() hard-codes Swin-T (timm.create_model('swin_tiny_patch4_window7_224',
pretrained=True, ...)), TransformerCnnBlock(96..768 → 64..512), attention(960, 16 heads) and the
dilated stack's nn.Conv2d(960, 1024)/BatchNorm2d(1024)/Linear(1024, 1). While DGIQA() runs, the
names it looks up in its own module are replaced: timm.create_model builds a tiny timm Swin
(pretrained=False, smaller img_size/patch_size/embed_dim/depths/num_heads/window_size);
the __init__ of TransformerCnnBlock, CrossSpatialAttentionBlock and SpatialAttentionBlock is wrapped
to call the authors' own __init__ with smaller arguments (the TCB gate reduction too: 16 would force
bridges of at least 16 channels and a fused width too large for a fixture; tcb.safetensors keeps 16); `nn` is a proxy whose Conv2d/BatchNorm2d/Linear map the literal sizes
960 and 1024 to the shrunken fused and stack widths. forward() is the authors' unchanged.

Weights: every parameter random (LayerNorm and BatchNorm affines around 1 with nonzero shifts,
relative-position bias tables, biases), BatchNorm running means random and variances in [0.5, 1.5].
The metadata "biqa.config" entry is the models::DGIQA::Config JSON of the network.

  /work/refvenv/bin/python tools/reference/make_dgiqa_fixtures.py --repo /tmp/dgiqa-src
(--repo: a checkout of uf-robopi/DGIQA, e.g. git -C <mirror> archive HEAD | tar -x -C /tmp/dgiqa-src)
"""
import argparse
import contextlib
import json
import math
import pathlib
import sys
import types

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import ROOT, gen, save  # noqa: E402

import timm  # noqa: E402

assert timm.__version__ == "0.9.16", timm.__version__
torch.set_num_threads(1)
OUT = ROOT / "models" / "dgiqa"


def randomize(module: torch.nn.Module, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, t in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "relative_position_bias_table":
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif t.dim() == 1 and leaf == "weight":
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.3)
            elif t.dim() == 1 or leaf == "in_proj_bias":
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            else:
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(t[0].numel()))
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
            elif name.endswith("num_batches_tracked"):
                b.fill_(7)


def authors(repo: str):
    sys.path.insert(0, repo)
    import model.DGIQA as m  # noqa: E402
    return m


# ---------------------------------------------------------------- single layers


def tcb_fixtures(m):
    tensors, cases = {}, []
    # (in, out, resolution): channels shrunk, the 16× gate reduction kept (out ≥ 16).
    shapes = [(6, 16, 10), (12, 16, 8), (24, 32, 6), (48, 16, 4)]
    for seed in (0, 1):
        for k, (cin, cout, r) in enumerate(shapes, start=1):
            name = f"tcb{k}_s{seed}"
            torch.manual_seed(100 + seed)
            block = m.TransformerCnnBlock(cin, cout).eval()
            randomize(block, gen(3100 + 10 * seed + k))
            x = torch.randn(2, cin, r, r, generator=gen(3200 + 10 * seed + k))
            with torch.no_grad():
                y = block(x)
            for key, v in block.state_dict().items():
                tensors[f"{name}.{key}"] = v
            tensors[f"io.{name}.input"] = x
            tensors[f"io.{name}.output"] = y
            cases.append({"name": name, "in": cin, "out": cout})
    save(OUT / "tcb.safetensors", tensors, {"cases": json.dumps(cases)})


def attention_fixtures(m):
    tensors, cases = {}, []
    for seed, (dim, heads, hw) in enumerate([(32, 4, (7, 7)), (24, 3, (5, 6))]):
        n = 2
        torch.manual_seed(200 + seed)
        cross = m.CrossSpatialAttentionBlock(dim, heads).eval()
        refine = m.SpatialAttentionBlock(dim, heads).eval()
        randomize(cross, gen(4100 + seed))
        randomize(refine, gen(4200 + seed))
        q = torch.randn(n, dim, *hw, generator=gen(4300 + seed))
        kv = torch.randn(n, dim, *hw, generator=gen(4400 + seed)) * 1.5 + 0.3
        probs = {}
        hook = cross.multihead_attn.register_forward_hook(lambda mod, a, out: probs.update(p=out[1]))
        with torch.no_grad():
            yc = cross(q, kv)
            yr = refine(q)
        hook.remove()
        assert probs["p"].shape == (n, hw[0] * hw[1], hw[0] * hw[1])
        for kind, module, io in [("cross", cross, {"query": q, "key_value": kv, "output": yc, "probs": probs["p"]}),
                                 ("refinement", refine, {"input": q, "output": yr})]:
            name = f"{kind}_s{seed}"
            for key, v in module.state_dict().items():
                tensors[f"{name}.{key}"] = v
            for key, v in io.items():
                tensors[f"io.{name}.{key}"] = v
            cases.append({"name": name, "kind": kind, "dim": dim, "heads": heads})
    save(OUT / "attention.safetensors", tensors, {"cases": json.dumps(cases)})


# ---------------------------------------------------------------- whole network


class _NnProxy(types.SimpleNamespace):
    """torch.nn with Conv2d/BatchNorm2d/Linear mapping the literal widths 960 and 1024."""

    def __init__(self, widths):
        super().__init__()
        self._w = widths

    def __getattr__(self, name):
        return getattr(torch.nn, name)

    def _m(self, v):
        return self._w.get(v, v) if isinstance(v, int) else v

    def Conv2d(self, cin, cout, *a, **k):  # noqa: N802
        return torch.nn.Conv2d(self._m(cin), self._m(cout), *a, **k)

    def BatchNorm2d(self, c, *a, **k):  # noqa: N802
        return torch.nn.BatchNorm2d(self._m(c), *a, **k)

    def Linear(self, cin, cout, *a, **k):  # noqa: N802
        return torch.nn.Linear(self._m(cin), self._m(cout), *a, **k)


@contextlib.contextmanager
def shrunken(m, swin: dict, bridges: list, reduction: int, heads: int, stack: int):
    """DGIQA() builds a shrunken network inside this block (see the module docstring)."""
    cls = dict(tcb=m.TransformerCnnBlock, cross=m.CrossSpatialAttentionBlock, refine=m.SpatialAttentionBlock)
    real = dict(create=m.timm.create_model, nn=m.nn, **{k: c.__init__ for k, c in cls.items()})
    full_in = {96: 0, 192: 1, 384: 2, 768: 3}
    full_out = {64: 0, 128: 1, 256: 2, 512: 3}
    fused = sum(bridges)

    def create_model(name, pretrained=False, **kw):
        assert name == "swin_tiny_patch4_window7_224" and kw.get("features_only"), (name, kw)
        kw.update(swin)
        return real["create"](name, pretrained=False, **kw)

    # The classes stay (their __init__ calls super(ClassName, self)); their __init__ gets new sizes.
    def tcb_init(self, in_channels, out_channels):
        s = full_in[in_channels]
        assert full_out[out_channels] == s
        real["tcb"](self, swin["embed_dim"] << s, bridges[s], reduction=reduction)

    def attention_init(key):
        def init(self, dim, num_heads):
            assert (dim, num_heads) == (960, 16)
            real[key](self, fused, heads)
        return init

    m.timm.create_model = create_model
    cls["tcb"].__init__ = tcb_init
    cls["cross"].__init__ = attention_init("cross")
    cls["refine"].__init__ = attention_init("refine")
    m.nn = _NnProxy({960: fused, 1024: stack})
    try:
        yield
    finally:
        m.timm.create_model, m.nn = real["create"], real["nn"]
        for k, c in cls.items():
            c.__init__ = real[k]


def network_fixture(m, name, seed, batch, swin, bridges, reduction, heads, stack, all_intermediates):
    torch.manual_seed(500 + seed)
    with shrunken(m, swin, bridges, reduction, heads, stack):
        net = m.DGIQA(img_size=swin["img_size"]).eval()
    for p in net.state_dict().values():
        assert 960 not in p.shape and 1024 not in p.shape, p.shape
    randomize(net, gen(5100 + seed))
    size = swin["img_size"]
    rgb = torch.randn(batch, 3, size, size, generator=gen(5200 + seed))
    depth = torch.randn(batch, 3, size, size, generator=gen(5300 + seed)) * 0.8 - 0.2

    got = {}

    def keep(key, fn=lambda o: o):
        return lambda mod, args, out: got.__setitem__(key, fn(out))

    hooks = [
        net.fc.register_forward_hook(keep("logits", lambda o: o.view(-1))),
        net.depth_guided_cross_attention.register_forward_pre_hook(
            lambda mod, args: got.update(fused_depth=args[0], fused_rgb=args[1])),
        net.depth_guided_cross_attention.register_forward_hook(keep("cross_attention")),
        net.depth_guided_cross_attention.multihead_attn.register_forward_hook(keep("cross_attention_probs",
                                                                                   lambda o: o[1])),
        net.refinement_attention.register_forward_hook(keep("refined")),
        net.dilated_stack.register_forward_hook(keep("dilated")),
    ]
    if all_intermediates:
        hooks.append(net.backbone.register_forward_hook(keep("rgb_stages")))
        hooks.append(net.depth_backbone.register_forward_hook(keep("depth_stages")))
        for k in range(1, 5):
            hooks.append(getattr(net, f"tcb{k}").register_forward_hook(keep(f"rgb_bridge_{k - 1}")))
            hooks.append(getattr(net, f"tcb{k}_depth").register_forward_hook(keep(f"depth_bridge_{k - 1}")))
    with torch.no_grad():
        scores = net(rgb, depth)
    for h in hooks:
        h.remove()
    assert torch.allclose(torch.sigmoid(got["logits"]), scores)

    tensors = dict(net.state_dict())
    tensors["io.image"], tensors["io.depth"], tensors["io.scores"] = rgb, depth, scores
    for key, v in got.items():
        if isinstance(v, (list, tuple)):
            for i, t in enumerate(v):
                tensors[f"io.{key[:-1]}_{i}"] = t
        else:
            tensors[f"io.{key}"] = v
    config = {"swin": {k: swin[k] for k in ("img_size", "window_size")}, "attention_heads": heads}
    save(OUT / f"{name}.safetensors", tensors, {"biqa.config": json.dumps(config), "seed": str(seed)})

    if all_intermediates:
        buffers = {}
        for key, v in net.backbone.named_buffers():  # the RGB branch's only, to keep the file small
            if key.endswith(("relative_position_index", "attn_mask")):
                buffers[f"backbone.{key}"] = v
        assert not any(k in tensors for k in buffers)
        save(OUT / f"{name}_buffers.safetensors", buffers, {})
    return len(net.state_dict())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="a checkout of uf-robopi/DGIQA")
    m = authors(ap.parse_args().repo)
    tcb_fixtures(m)
    attention_fixtures(m)
    n = network_fixture(m, "network_a", 0, 2,
                        dict(img_size=32, patch_size=1, embed_dim=4, depths=[2, 2, 2, 1], num_heads=[1, 1, 2, 2],
                             window_size=4),
                        bridges=[8, 8, 8, 8], reduction=4, heads=4, stack=16, all_intermediates=True)
    print("network_a keys", n)
    n = network_fixture(m, "network_b", 1, 2,
                        dict(img_size=56, patch_size=1, embed_dim=4, depths=[2, 2, 2, 1], num_heads=[1, 2, 2, 4],
                             window_size=7),
                        bridges=[8, 8, 8, 8], reduction=8, heads=2, stack=16, all_intermediates=False)
    print("network_b keys", n)
    for p in sorted(OUT.glob("*.safetensors")):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
