"""Full-size DR.Experts parity (outside CI): the authors' dascore_vit_models at the published sizes
(DeiT-III-S/16 384 + DA-CLIP ViT-B/32; only the checkpoint path, `.cuda()` and the package import
are patched, see make_dr_experts_fixtures.py) with random weights, against `biqa infer --model
dr_experts`, for both subtraction signs.

  /work/refvenv/bin/python tools/reference/check_full_size_dr_experts.py /path/to/DR.Experts \
      --biqa build/tools/biqa/biqa [--work /tmp/drx-full]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_dr_experts_fixtures import build, save, stored  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--biqa", required=True)
    ap.add_argument("--work", default="/tmp/drx-full")
    a = ap.parse_args()
    work = pathlib.Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    src = pathlib.Path(a.src).resolve()
    model, _, _ = build(src, 11, previous_sign=False, module_list=False, shrink=False)
    previous, _, _ = build(src, 11, previous_sign=True, module_list=False, shrink=False)
    previous.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 384, 384, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        t0 = time.time()
        ref = {"current": model(x).flatten().numpy(), "previous": previous(x).flatten().numpy()}
        t_torch = (time.time() - t0) / 2
    save(work / "drx.safetensors", stored(model.state_dict()), {})
    np.save(work / "x.npy", x.numpy())
    for sign, r in ref.items():
        (work / f"{sign}.json").write_text(json.dumps({"sign": sign}))
        t0 = time.time()
        subprocess.run([a.biqa, "infer", "--model", "dr_experts", "--weights", str(work / "drx.safetensors"),
                        "--config", str(work / f"{sign}.json"), "--input", str(work / "x.npy"),
                        "--output", str(work / f"{sign}.npy")], check=True)
        t_biqa = time.time() - t0
        out = np.load(work / f"{sign}.npy").flatten()
        err = np.abs(out - r).max() / np.abs(r).max()
        print(f"{sign}: torch {r.tolist()} biqa {out.tolist()} max rel err {err:.3g}; "
              f"biqa process {t_biqa:.1f} s (load included), torch forward {t_torch:.1f} s")


if __name__ == "__main__":
    main()
