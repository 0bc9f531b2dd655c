"""Full-size parity and timing of `biqa infer --model vit` against timm (not part of CI).

Builds timm 0.9.16's deit3_small_patch16_224 with seeded random weights (LayerNorm affines and
LayerScale gammas randomized too, so every block matters), writes them as safetensors under timm's
keys with a [1, 3, 224, 224] input .npy, runs the biqa tool, and prints the max relative error
(max|biqa - timm| / max|timm|) and the forward times of both.

  /work/refvenv/bin/python tools/reference/check_full_size_vit.py --biqa build-vit/tools/biqa/biqa
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import gen, randomize, save  # noqa: E402

import timm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", default="build/tools/biqa/biqa")
    ap.add_argument("--model", default="deit3_small_patch16_224")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = timm.create_model(args.model, pretrained=False).eval()
    g = gen(2024)
    randomize(model, g)
    x = torch.randn(1, 3, *model.patch_embed.img_size, generator=g)

    with torch.no_grad():
        model(x)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            ref = model(x)
            times.append(time.perf_counter() - t0)
    torch_s = min(times)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        weights, inp, out = tmp / "vit.safetensors", tmp / "x.npy", tmp / "y.npy"
        save(weights, dict(model.state_dict()), {})
        np.save(inp, x.numpy())
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([args.biqa, "infer", "--model", "vit", "--weights", str(weights), "--input", str(inp),
                            "--output", str(out), "--threads", str(args.threads)], check=True,
                           stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
        biqa_s = min(times)
        got = np.load(out)

    r = ref.numpy()
    err = float(np.abs(got - r).max() / np.abs(r).max())
    print(f"{args.model} timm {timm.__version__} (torch {torch.__version__}), input {list(x.shape)}, "
          f"{args.threads} threads")
    print(f"max relative error {err:.3g}")
    print(f"timm forward {torch_s * 1e3:.1f} ms; biqa infer {biqa_s * 1e3:.1f} ms (whole process: start, "
          f"weight load, forward, write; best of {args.repeat})")


if __name__ == "__main__":
    main()
