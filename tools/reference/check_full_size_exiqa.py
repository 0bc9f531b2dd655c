"""Full-size parity check of `biqa infer --model exiqa` (outside CI): open_clip 2.24.0's ViT-B-32
with random weights plus the ExIQA parts of make_exiqa_fixtures.py (the same PyTorch restatement),
with 100 shallow prompt tokens (the paper's KADID-10k setting) and with deep prompts (10 per layer),
attribute weights and a 125 → 64 → 32 → 1 regressor. Prints max|biqa − torch| / max|torch| per output.
  /work/refvenv/bin/python tools/reference/check_full_size_exiqa.py --biqa build/tools/biqa/biqa
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_exiqa_fixtures import ExIQAParts, open_clip, prompts, run  # noqa: E402
from make_op_fixtures import gen, randomize  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    texts, d, k = prompts()
    torch.manual_seed(2026)
    clip = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    g = gen(2026)
    randomize(clip, g)
    with torch.no_grad():
        clip.logit_scale.fill_(math.log(100.0))
        text_features = clip.encode_text(open_clip.tokenize(texts))
    config = {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12}}
    image = torch.randn(2, 3, 224, 224, generator=g)
    with tempfile.TemporaryDirectory() as tmp:
        x = os.path.join(tmp, "x.npy")
        np.save(x, image.numpy())
        for name, shape in (("shallow", (100, 768)), ("deep", (12, 10, 768))):
            parts = ExIQAParts(d, k, shape, (64, 32)).eval()
            randomize(parts, g)
            with torch.no_grad():
                parts.visual_prompts.mul_(4.0)
                parts.attr_weight_logits.mul_(3.0)
                ref = run(clip, parts, image, text_features, d, k)
            tensors = {k_: v.contiguous() for k_, v in clip.state_dict().items()}
            tensors.update({k_: v.contiguous() for k_, v in parts.state_dict().items()})
            w = os.path.join(tmp, f"{name}.safetensors")
            save_file(tensors, w, metadata={"biqa.config": json.dumps(config)})
            out = os.path.join(tmp, f"{name}_out.safetensors")
            t0 = time.time()
            subprocess.run([args.biqa, "infer", "--model", "exiqa", "--weights", w, "--input", x, "--output", out,
                            "--threads", str(args.threads)], check=True)
            seconds = time.time() - t0
            got = load_file(out)
            errs = {key: float((got[key] - ref[key]).abs().max() / ref[key].abs().max()) for key in ref}
            print(name, {key: f"{e:.2e}" for key, e in errs.items()}, f"biqa infer {seconds:.1f} s (load included)")


if __name__ == "__main__":
    main()
