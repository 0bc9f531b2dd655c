"""Full-size parity check of `biqa infer` against torchvision (not run by CI: ~100 MB of weights).

Builds torchvision's resnet50 (or --model) with random weights and randomized BatchNorm statistics
from a fixed seed, writes the state_dict as .safetensors and a [1, 3, 224, 224] input as .npy into
a temporary directory, runs `biqa infer` on them and prints max|biqa − torch| / max|torch| for the
logits and every stage, with the wall-clock time of both.

  /usr/bin/python3 tools/reference/check_full_size.py --biqa build/tools/biqa/biqa [--threads 2]
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import save  # noqa: E402
from make_resnet_fixtures import randomize, run_with_stages  # noqa: E402


def read_safetensors(path):
    import json
    import struct
    data = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        dtype = {"F32": "<f4", "I64": "<i8"}[h["dtype"]]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype=dtype).reshape(h["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", required=True, help="path of the built biqa tool")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeat", type=int, default=3, help="timings are the best of this many runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    model = getattr(torchvision.models, args.model)(weights=None)
    randomize(model, 1234)
    x = torch.randn((1, 3, args.size, args.size), generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        ref = run_with_stages(model, x)  # also the warm-up
        t_torch = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            model(x)
            t_torch = min(t_torch, time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        save(tmp / "w.safetensors", model.state_dict(), {})
        np.save(tmp / "x.npy", x.numpy())
        cmd = [args.biqa, "infer", "--model", args.model, "--weights", str(tmp / "w.safetensors"),
               "--input", str(tmp / "x.npy"), "--output", str(tmp / "y.safetensors"),
               "--threads", str(args.threads)]
        t_biqa = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            t_biqa = min(t_biqa, time.perf_counter() - t0)
        out = read_safetensors(tmp / "y.safetensors")

    worst = 0.0
    for name, key in [("logits", "io.output"), ("stem", "io.stem")] + [(f"layer{i}", f"io.layer{i}") for i in range(1, 5)]:
        r = ref[key].numpy()
        err = float(np.abs(out[name] - r).max() / np.abs(r).max())
        worst = max(worst, err)
        print(f"{args.model} {name:7s} {list(r.shape)} max rel error {err:.3g}")
    print(f"{args.model} worst max rel error {worst:.3g}")
    print(f"time (best of {args.repeat}, {args.threads} threads): torch forward {t_torch * 1000:.0f} ms; "
          f"biqa infer {t_biqa * 1000:.0f} ms (whole process: load, BatchNorm folding, forward with "
          f"stage outputs, write)")


if __name__ == "__main__":
    main()
