"""Full-size parity of `biqa infer --model clip-image / clip-text` against open_clip (not part of CI).

Builds open_clip 2.24.0's CLIP from one of its model configs (default ViT-B-32.json) with seeded
random weights (LayerNorm affines, class / positional embeddings, projections and logit_scale
randomized too), writes the state_dict as safetensors under open_clip's keys (no config: biqa
must read the dims from the shapes; the config file is passed only when it differs from ViT-B-32,
e.g. for quick_gelu), runs the biqa tool on a [2, 3, 224, 224] batch, on open_clip.tokenize ids
and on the same texts through --text, and prints max|biqa - open_clip| / max|open_clip| for each.

  /work/refvenv/bin/python tools/reference/check_full_size_clip.py --biqa build-clip/tools/biqa/biqa
  /work/refvenv/bin/python tools/reference/check_full_size_clip.py --biqa ... --model ViT-B-32-quickgelu
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import gen, randomize, save  # noqa: E402

try:
    import tqdm  # noqa: F401  (only open_clip's download progress bars use it)
except ImportError:
    sys.modules["tqdm"] = types.ModuleType("tqdm")
    sys.modules["tqdm"].tqdm = None
import open_clip  # noqa: E402
from open_clip.model import CLIP  # noqa: E402

TEXTS = ["a photo of a cat", "A blurry, over-exposed photo of a dog", "café au lait — 東京 😀",
         " ".join(["a very long caption that the tokenizer has to cut"] * 10)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", default="build/tools/biqa/biqa")
    ap.add_argument("--model", default="ViT-B-32", help="an open_clip model config name")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    root = pathlib.Path(__file__).resolve().parents[2]
    vocab = os.environ.get("BIQA_CLIP_VOCAB", str(root / "data/clip/bpe_simple_vocab_16e6.txt.gz"))

    cfg = open_clip.get_model_config(args.model)
    torch.manual_seed(0)
    model = CLIP(**cfg).eval()
    g = gen(2025)
    randomize(model, g)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))
    x = torch.randn(2, 3, 224, 224, generator=g)
    tokens = open_clip.tokenize(TEXTS)
    with torch.no_grad():
        ref_img = model.encode_image(x).numpy()
        ref_txt = model.encode_text(tokens).numpy()

    def rel(got, ref):
        return float(np.abs(got - ref).max() / np.abs(ref).max())

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        weights, inp, ids, cfg_path = tmp / "clip.safetensors", tmp / "x.npy", tmp / "ids.npy", tmp / "cfg.json"
        save(weights, dict(model.state_dict()), {})
        np.save(inp, x.numpy())
        np.save(ids, tokens.numpy().astype(np.int64))
        cfg_path.write_text(json.dumps(cfg))
        common = ["--weights", str(weights), "--threads", str(args.threads)]
        if args.model != "ViT-B-32":
            common += ["--config", str(cfg_path)]
        env = dict(os.environ, BIQA_CLIP_VOCAB=vocab)

        def run(name, extra, out):
            subprocess.run([args.biqa, "infer", "--model", name, *common, *extra, "--output", str(tmp / out)],
                           check=True, stderr=subprocess.DEVNULL, env=env)
            return np.load(tmp / out)

        img = run("clip-image", ["--input", str(inp)], "img.npy")
        txt = run("clip-text", ["--input", str(ids)], "txt.npy")
        txt_s = run("clip-text", [a for t in TEXTS for a in ("--text", t)], "txt_s.npy")

    print(f"open_clip {open_clip.version.__version__} {args.model} (torch {torch.__version__}), random weights, "
          f"{args.threads} threads")
    print(f"clip-image [2, 3, 224, 224] -> {list(img.shape)}: max relative error {rel(img, ref_img):.3g}")
    print(f"clip-text  ids [{len(TEXTS)}, 77]    -> {list(txt.shape)}: max relative error {rel(txt, ref_txt):.3g}")
    print(f"clip-text  --text x{len(TEXTS)}       -> {list(txt_s.shape)}: max relative error {rel(txt_s, ref_txt):.3g}")


if __name__ == "__main__":
    main()
