"""Parity fixture for models::ExIQA (tests/data/models/exiqa_tiny.safetensors).

The reference is open_clip_torch 2.24.0's CLIP (a shrunken config with random weights from a fixed
seed) plus the ExIQA parts restated from the spec (../shared/specs/exiqa.md) in PyTorch:
  - visual prompt tokens, shallow [K, width] or deep [layers, K, width]: appended after the image
    tokens once the positional embedding is added, before ln_pre; deep prompts replace the previous
    block's prompt outputs before every later block; all prompt tokens are dropped after the last
    block, then ln_post, the class token and proj as in open_clip;
  - the 250 prompts "There is <a> in the photo." / "There is not <a> in the photo." for biqa's
    attribute list (include/biqa/models/exiqa_attributes.json), tokenized by open_clip.tokenize with
    the real vocabulary, encoded by the text tower;
  - P(a|I) = softmax over the pair of exp(logit_scale)·cos similarities, P(d|I) = softmax(attr_weight
    _logits[d]) · P(attributes of d), or the plain mean when there are no logits;
  - the regressor nn.Sequential(Linear, SELU, Dropout(0.2), Linear, SELU, Dropout(0.2), Linear), eval.

CLIP: embed 8, quick_gelu; vision image 32, patch 8, width 16, 2 layers, head_width 8; text context 77,
the real vocabulary (49408) with width 4, 2 heads, 1 layer. token_embedding is stored as float16 and
its rows for tokens the prompts never use are zero, so the file compresses well. One file holds the
CLIP keys unchanged and three variants' extra tensors under prefixes the test strips:
  none.*      nothing (zero-shot: plain CLIP)
  shallow.*   visual_prompts [3, 16], attr_weight_logits [25, 5], regressor 125 → 16 → 8 → 1
  deep.*      visual_prompts [2, 2, 16], attr_weight_logits, regressor 125 → 12 → 6 → 1
and io.image [2, 3, 32, 32] with io.<variant>.{image_features, attribute_probs, distortion_probs,
scores}. Metadata "config": the open_clip model config.
  /work/refvenv/bin/python tools/reference/make_exiqa_fixtures.py
"""
import json
import math
import os
import pathlib
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_clip_fixtures import save  # noqa: E402
from make_op_fixtures import ROOT, gen, randomize  # noqa: E402

try:
    import tqdm  # noqa: F401
except ImportError:
    sys.modules["tqdm"] = types.ModuleType("tqdm")
    sys.modules["tqdm"].tqdm = None
import open_clip  # noqa: E402
from open_clip.model import CLIP  # noqa: E402

assert open_clip.version.__version__ == "2.24.0", open_clip.version.__version__
torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))

SOURCE = pathlib.Path(__file__).resolve().parents[2]
CONFIG = dict(embed_dim=8, quick_gelu=True,
              vision_cfg=dict(image_size=32, layers=2, width=16, patch_size=8, head_width=8),
              text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=2, layers=1))


def prompts():
    doc = json.loads((SOURCE / "include/biqa/models/exiqa_attributes.json").read_text())
    attrs = [a for d in doc["distortions"] for a in d["attributes"]]
    pos = [doc["positive_template"].replace("{}", a) for a in attrs]
    neg = [doc["negative_template"].replace("{}", a) for a in attrs]
    return pos + neg, len(doc["distortions"]), len(doc["distortions"][0]["attributes"])


def encode_image(clip: CLIP, images: torch.Tensor, prompts_: torch.Tensor = None) -> torch.Tensor:
    v = clip.visual
    x = v.conv1(images).flatten(2).permute(0, 2, 1)
    x = torch.cat([v.class_embedding.expand(x.shape[0], 1, -1), x], dim=1) + v.positional_embedding
    t = x.shape[1]
    deep = prompts_ is not None and prompts_.dim() == 3
    if prompts_ is not None:
        first = prompts_[0] if deep else prompts_
        x = torch.cat([x, first.expand(x.shape[0], -1, -1)], dim=1)
    x = v.ln_pre(x).permute(1, 0, 2)  # LND, as open_clip's blocks take it
    for i, block in enumerate(v.transformer.resblocks):
        if deep and i > 0:
            x = torch.cat([x[:t], prompts_[i].unsqueeze(1).expand(-1, x.shape[1], -1)], dim=0)
        x = block(x)
    x = x[:t].permute(1, 0, 2)
    return v.ln_post(x[:, 0]) @ v.proj


class ExIQAParts(nn.Module):
    def __init__(self, d, k, prompt_shape=None, hidden=None):
        super().__init__()
        self.visual_prompts = nn.Parameter(torch.zeros(prompt_shape)) if prompt_shape else None
        self.attr_weight_logits = nn.Parameter(torch.zeros(d, k)) if hidden else None
        self.regressor = nn.Sequential(nn.Linear(d * k, hidden[0]), nn.SELU(), nn.Dropout(0.2),
                                       nn.Linear(hidden[0], hidden[1]), nn.SELU(), nn.Dropout(0.2),
                                       nn.Linear(hidden[1], 1)) if hidden else None


def run(clip, parts, images, text_features, d, k):
    img = encode_image(clip, images, parts.visual_prompts)
    logits = clip.logit_scale.exp() * F.normalize(img, dim=-1) @ F.normalize(text_features, dim=-1).T
    a = d * k
    pair = torch.stack([logits[:, :a], logits[:, a:]], dim=-1).softmax(-1)[..., 0]  # [N, A]
    if parts.attr_weight_logits is None:
        w = torch.full((d, k), 1.0 / k)
    else:
        w = parts.attr_weight_logits.softmax(-1)
    dist = (pair.view(-1, d, k) * w).sum(-1)
    out = {"image_features": img, "attribute_probs": pair, "distortion_probs": dist}
    if parts.regressor is not None:
        out["scores"] = parts.regressor(pair)
    return out


def main():
    texts, d, k = prompts()
    torch.manual_seed(12)
    clip = CLIP(CONFIG["embed_dim"], CONFIG["vision_cfg"], CONFIG["text_cfg"], quick_gelu=True).eval()
    g = gen(1200)
    randomize(clip, g)
    tokens = open_clip.tokenize(texts)
    used = torch.zeros(CONFIG["text_cfg"]["vocab_size"], dtype=torch.bool)
    used[tokens.flatten()] = True
    with torch.no_grad():
        clip.logit_scale.fill_(math.log(1 / 0.07) - 1.0)
        emb = clip.token_embedding.weight
        emb.copy_((emb * 4).half().float() * used.unsqueeze(1))  # the stored float16 values are the model's
        text_features = clip.encode_text(tokens)
        # the stock image tower is the no-prompt path of the restatement
        image = torch.randn(2, 3, 32, 32, generator=g)
        assert torch.allclose(encode_image(clip, image), clip.encode_image(image), atol=1e-6)

    variants = {
        "none": ExIQAParts(d, k),
        "shallow": ExIQAParts(d, k, (3, 16), (16, 8)),
        "deep": ExIQAParts(d, k, (2, 2, 16), (12, 6)),
    }
    tensors = dict(clip.state_dict())
    tensors["token_embedding.weight"] = tensors["token_embedding.weight"].half()
    tensors["io.image"] = image
    for name, parts in variants.items():
        parts.eval()
        randomize(parts, g)
        with torch.no_grad():
            if parts.visual_prompts is not None:
                parts.visual_prompts.mul_(4.0)  # prompts of the size of image tokens
            if parts.attr_weight_logits is not None:
                parts.attr_weight_logits.mul_(3.0)
            out = run(clip, parts, image, text_features, d, k)
        for key, t in parts.state_dict().items():
            tensors[f"{name}.{key}"] = t
        for key, t in out.items():
            tensors[f"io.{name}.{key}"] = t
    save(ROOT / "models" / "exiqa_tiny.safetensors", tensors, {"config": json.dumps(CONFIG)})
    probs = tensors["io.shallow.attribute_probs"]
    print("attribute probs range", float(probs.min()), float(probs.max()),
          "distortion probs (deep)", tensors["io.deep.distortion_probs"][0, :5].tolist())


if __name__ == "__main__":
    main()
