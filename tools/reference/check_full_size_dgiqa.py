"""Full-size parity check of `biqa infer --model dgiqa` against the authors' DGIQA class (not CI).

Builds model.DGIQA.DGIQA() from a local checkout of uf-robopi/DGIQA with timm's factory forced to
pretrained=False (the class asks for the ImageNet weights, which needs the network), gives every
parameter and BatchNorm statistic random values (as make_dgiqa_fixtures.py), saves the state_dict
exactly as the authors would (torch.save(model.state_dict()) to a .pth), and runs the biqa CLI on it
with random ImageNet-scale image and depth crops [K, 3, 224, 224]. Prints the state_dict's key
count, the relative error per crop of the logit (a forward hook on fc) and of the score, and the
time per crop of biqa on 1 and 2 threads ((t(K crops) − t(1 crop)) / (K − 1), whole processes, so
that loading the 412 MB file cancels out) next to PyTorch's.

  /work/refvenv/bin/python tools/reference/check_full_size_dgiqa.py --repo /tmp/dgiqa-src \
      --biqa build/tools/biqa/biqa
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
from make_dgiqa_fixtures import authors, randomize  # noqa: E402
from make_op_fixtures import gen, save  # noqa: E402


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def build(m):
    real = m.timm.create_model
    m.timm.create_model = lambda name, pretrained=False, **kw: real(name, pretrained=False, **kw)
    try:
        return m.DGIQA().eval()
    finally:
        m.timm.create_model = real


def run_biqa(biqa, weights, inputs, output, threads):
    cmd = [biqa, "infer", "--model", "dgiqa", "--weights", str(weights), "--input", str(inputs),
           "--output", str(output), "--threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True, help="a checkout of uf-robopi/DGIQA")
    ap.add_argument("--biqa", required=True, help="path of the built biqa tool")
    ap.add_argument("--crops", type=int, default=4)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    m = authors(args.repo)
    torch.manual_seed(args.seed)
    model = build(m)
    randomize(model, gen(args.seed))
    state = model.state_dict()
    print(f"state_dict keys {len(state)}, parameters {sum(p.numel() for p in model.parameters()):,}")

    k = args.crops
    # ImageNet-normalised crops: the depth crop's three channels come from one grey image.
    rgb = torch.randn(k, 3, 224, 224, generator=gen(args.seed + 1))
    grey = torch.rand(k, 1, 224, 224, generator=gen(args.seed + 2))
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    depth = (grey.expand(k, 3, 224, 224) - mean) / std

    logits = {}
    hook = model.fc.register_forward_hook(lambda mod, a, out: logits.update(v=out.view(-1)))
    timings = {}
    with torch.no_grad():
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model(rgb[:1], depth[:1])  # warm-up
            t0 = time.perf_counter()
            scores = model(rgb, depth)
            timings[threads] = (time.perf_counter() - t0) / k
    hook.remove()
    ref_logit, ref_score = logits["v"].numpy(), scores.numpy()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        torch.save(state, tmp / "dgiqa.pth")
        save(tmp / "in.safetensors", {"image": rgb, "depth": depth}, {})
        save(tmp / "in1.safetensors", {"image": rgb[:1], "depth": depth[:1]}, {})
        biqa_times = {}
        for threads in (1, 2):
            t_all = run_biqa(args.biqa, tmp / "dgiqa.pth", tmp / "in.safetensors", tmp / "out.safetensors", threads)
            t_one = run_biqa(args.biqa, tmp / "dgiqa.pth", tmp / "in1.safetensors", tmp / "out1.safetensors", threads)
            biqa_times[threads] = ((t_all - t_one) / (k - 1), t_one)
        out = read_safetensors(tmp / "out.safetensors")

    for i in range(k):
        el = abs(float(out["logit"][i]) - float(ref_logit[i])) / abs(float(ref_logit[i]))
        es = abs(float(out["score"][i]) - float(ref_score[i])) / abs(float(ref_score[i]))
        print(f"crop {i}: logit {ref_logit[i]: .6f} (rel. error {el:.3g}), score {ref_score[i]:.6f} (rel. error {es:.3g})")
    for threads in (1, 2):
        per, one = biqa_times[threads]
        print(f"{threads} thread(s): biqa {per * 1e3:.0f} ms per crop (whole process with 1 crop {one:.2f} s), "
              f"PyTorch {torch.__version__} {timings[threads] * 1e3:.0f} ms per crop")


if __name__ == "__main__":
    main()
