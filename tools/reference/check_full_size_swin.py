"""Full-size parity check of `biqa infer --model swin` against timm 0.9.16 (not part of CI).

Builds timm's swin_tiny_patch4_window7_224 with random weights from a fixed seed (LayerNorm affines
and relative position bias tables randomized too), writes its state_dict as safetensors and a
1x3x224x224 input as .npy, runs timm and the biqa CLI, and prints the max relative error
(max|out - ref| / max|ref|) of the logits and the four stage outputs, and the timings.

  /work/refvenv/bin/python tools/reference/check_full_size_swin.py --biqa build/tools/biqa/biqa
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import gen, save  # noqa: E402
from make_swin_fixtures import randomize, stage_outputs  # noqa: E402

import timm  # noqa: E402


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", required=True, help="path of the built biqa tool")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False).eval()
    randomize(model, gen(args.seed))
    x = torch.randn(1, 3, 224, 224, generator=gen(args.seed + 1))

    with torch.no_grad():
        model(x)  # warm-up
        t0 = time.perf_counter()
        stages = stage_outputs(model, x)
        logits = model.forward_head(model.norm(stages[-1]))
        t_torch = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        save(tmp / "w.safetensors", dict(model.state_dict()), {})
        np.save(tmp / "x.npy", x.numpy())
        cmd = [args.biqa, "infer", "--model", "swin", "--weights", str(tmp / "w.safetensors"),
               "--input", str(tmp / "x.npy"), "--output", str(tmp / "y.safetensors"),
               "--threads", str(args.threads)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        t_biqa = time.perf_counter() - t0
        out = read_safetensors(tmp / "y.safetensors")

    refs = {"logits": logits.numpy(), **{f"layers_{i}": s.numpy() for i, s in enumerate(stages)}}
    worst = 0.0
    for name, ref in refs.items():
        got = out[name]
        assert got.shape == ref.shape, (name, got.shape, ref.shape)
        err = float(np.abs(got.astype(np.float64) - ref).max() / np.abs(ref).max())
        worst = max(worst, err)
        print(f"{name:10s} {str(list(ref.shape)):20s} max relative error {err:.3g}")
    print(f"worst max relative error {worst:.3g}")
    print(f"timm forward (torch {torch.__version__}, {args.threads} thread(s)): {t_torch * 1e3:.1f} ms")
    print(f"biqa infer, whole process (load + forward + write), {args.threads} thread(s): {t_biqa * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
