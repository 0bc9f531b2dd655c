"""Parity fixtures for nn::Clip (tests/data/nn/clip_*.safetensors), from open_clip_torch 2.24.0.

Shrunken open_clip CLIP models with random weights from fixed seeds (LayerNorm affines, class and
positional embeddings, projections, LayerScale gammas and logit_scale included):

  clip_quickgelu.safetensors   open_clip.model.CLIP, quick_gelu, embed 16; vision: image 32, patch 8,
                               width 32, 2 layers, head_width 8 (4 heads); text: context 77, vocab 96,
                               width 32, 4 heads, 2 layers. The whole state_dict (keys unchanged),
                               "io.image" [2,3,32,32], "io.text" [3,77] int64 (end token = vocab-1 at
                               different places, zero padding after), "io.image_features",
                               "io.text_features" and "io.logits" (exp(logit_scale)·cos similarities).
  clip_gelu.safetensors        GELU, embed 12, init_logit_bias; vision: image 24x40 (not square),
                               patch 8, width 32, head_width 16, mlp_ratio 2, ls_init_value (LayerScale);
                               text: context 16, vocab 64, width 32, 2 heads, 1 layer, proj_bias
                               (text_projection is an nn.Linear). Same io tensors ("io.text" [2,16]).
  clip_avg_final_ln.safetensors, clip_avg.safetensors
                               one-layer towers (width 16, image 16, context 8) with open_clip's other
                               options: vision pool_type "avg" with and without final_ln_after_pool,
                               no_ln_pre, LayerNorm eps 1e-3 (norm_kwargs); text pool_type "last"
                               without the causal mask (no_causal_mask), and "first".
  clip_text_tokens.safetensors open_clip's TextTransformer alone (a lone text tower's state_dict) with
                               the real vocabulary (49408), width 4, 2 heads, 1 layer, its
                               token_embedding stored as float16 (the model runs on the rounded
                               values) to stay small; "io.tokens" = open_clip.tokenize(texts) and
                               "io.text_features"; the texts are in the "texts" metadata entry.

The metadata "config" entry holds the open_clip model config (embed_dim, quick_gelu, vision_cfg,
text_cfg).
  /work/refvenv/bin/python tools/reference/make_clip_fixtures.py
"""
import json
import math
import pathlib
import struct
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import NN, gen, randomize  # noqa: E402

try:
    import tqdm  # noqa: F401  (only open_clip's download progress bars use it)
except ImportError:  # not pinned in requirements.txt: a stand-in, no weights are downloaded here
    sys.modules["tqdm"] = types.ModuleType("tqdm")
    sys.modules["tqdm"].tqdm = None
import open_clip  # noqa: E402
from open_clip.model import CLIP, _build_text_tower  # noqa: E402

assert open_clip.version.__version__ == "2.24.0", open_clip.version.__version__
torch.set_num_threads(1)


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


def random_ids(g, batch, length, vocab, eot_at):
    """Ids in [1, vocab-2] with the end token (vocab-1, the largest id) at eot_at[i], zeros after."""
    ids = torch.randint(1, vocab - 1, (batch, length), generator=g)
    for i, p in enumerate(eot_at):
        ids[i, p] = vocab - 1
        ids[i, p + 1:] = 0
    return ids


def clip_fixture(name, config, image_shape, eot_at, seed):
    torch.manual_seed(seed)
    model = CLIP(config["embed_dim"], config["vision_cfg"], config["text_cfg"],
                 quick_gelu=config.get("quick_gelu", False),
                 init_logit_bias=config.get("init_logit_bias")).eval()
    g = gen(seed + 1)
    randomize(model, g)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(1 / 0.07) + 0.3)
    image = torch.randn(*image_shape, generator=g)
    text = random_ids(g, len(eot_at), config["text_cfg"]["context_length"], config["text_cfg"]["vocab_size"], eot_at)
    with torch.no_grad():
        img = model.encode_image(image)
        txt = model.encode_text(text)
        logits, _ = model.get_logits(image, text)
    # get_logits is exp(logit_scale)·cos (+ logit_bias): check the restatement the C++ test uses
    cos = F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T
    assert torch.allclose(logits, model.logit_scale.exp() * cos + (model.logit_bias if model.logit_bias is not None else 0))
    tensors = dict(model.state_dict())
    assert "attn_mask" not in tensors  # non-persistent buffer in 2.24
    tensors.update({"io.image": image, "io.text": text, "io.image_features": img, "io.text_features": txt,
                    "io.logits": logits})
    save(NN / f"{name}.safetensors", tensors, {"config": json.dumps(config)})


def text_tokens_fixture():
    config = dict(embed_dim=6, quick_gelu=True,
                  text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=2, layers=1))
    torch.manual_seed(3)
    tower = _build_text_tower(config["embed_dim"], config["text_cfg"], quick_gelu=True).eval()
    randomize(tower, gen(3001))
    with torch.no_grad():  # the stored float16 values are the model's
        tower.token_embedding.weight.copy_(tower.token_embedding.weight.half().float() * 4)
    texts = ["a photo of a cat", "A blurry, OVER-exposed photo!!  of   a dog's face :-)",
             "café naïve façade — 東京 😀 &amp; <b>bold</b>",
             " ".join(["the quick brown fox jumps over the lazy dog"] * 12)]
    tokens = open_clip.tokenize(texts)
    with torch.no_grad():
        features = tower(tokens)
    tensors = dict(tower.state_dict())
    tensors["token_embedding.weight"] = tensors["token_embedding.weight"].half()
    tensors.update({"io.tokens": tokens, "io.text_features": features})
    save(NN / "clip_text_tokens.safetensors", tensors, {"config": json.dumps(config), "texts": json.dumps(texts)})


if __name__ == "__main__":
    clip_fixture("clip_quickgelu",
                 dict(embed_dim=16, quick_gelu=True,
                      vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=8),
                      text_cfg=dict(context_length=77, vocab_size=96, width=32, heads=4, layers=2)),
                 (2, 3, 32, 32), eot_at=[5, 76, 20], seed=4000)
    clip_fixture("clip_gelu",
                 dict(embed_dim=12, quick_gelu=False, init_logit_bias=-2.0,
                      vision_cfg=dict(image_size=[24, 40], layers=2, width=32, patch_size=8, head_width=16,
                                      mlp_ratio=2.0, ls_init_value=0.5),
                      text_cfg=dict(context_length=16, vocab_size=64, width=32, heads=2, layers=1,
                                    proj_bias=True)),
                 (3, 3, 24, 40), eot_at=[15, 3], seed=5000)
    clip_fixture("clip_avg_final_ln",
                 dict(embed_dim=8, quick_gelu=False,
                      vision_cfg=dict(image_size=16, layers=1, width=16, patch_size=8, head_width=8,
                                      pool_type="avg", final_ln_after_pool=True, no_ln_pre=True,
                                      norm_kwargs=dict(eps=1e-3)),
                      text_cfg=dict(context_length=8, vocab_size=32, width=16, heads=2, layers=1,
                                    pool_type="last", no_causal_mask=True, norm_kwargs=dict(eps=1e-3))),
                 (2, 3, 16, 16), eot_at=[7, 2], seed=6000)
    clip_fixture("clip_avg",
                 dict(embed_dim=8, quick_gelu=True,
                      vision_cfg=dict(image_size=16, layers=1, width=16, patch_size=8, head_width=8, pool_type="avg"),
                      text_cfg=dict(context_length=8, vocab_size=32, width=16, heads=2, layers=1, pool_type="first")),
                 (2, 3, 16, 16), eot_at=[7, 2], seed=7000)
    text_tokens_fixture()
