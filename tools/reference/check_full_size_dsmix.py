"""Full-size parity check for DSMix (outside CI): the PyTorch reference of make_dsmix_fixtures.py at
the published sizes, random weights (BatchNorm statistics and LayerNorm affines included), against
`biqa infer`:
  dsmix  torchvision resnet50 encoder (no fc) + head Linear(2048, 512) → ReLU → Linear(512, 1),
         saved as a .pth state_dict (encoder.*, head.*); input five normalised 224 crops
         → per-crop scores and the 2048-d features
  dsm    timm ViT-B/8 (patch 8, dim 768, depth 12, 12 heads, class_token=False, global_pool='')
         + decoder Linear(768, 256) → ReLU → Linear(256, 1), saved as .pth; input [1, 3, 224, 224]
         → [1, 1, 28, 28]
Prints max|biqa − torch| / max|torch| per output and the wall time of each side.

  /work/refvenv/bin/python tools/reference/check_full_size_dsmix.py --biqa build/tools/biqa/biqa
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import timm
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_dsmix_fixtures import mlp  # noqa: E402
from make_resnet_fixtures import randomize  # noqa: E402


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def run_biqa(biqa, model, weights, x, out, threads):
    np.save(out.parent / "x.npy", x.numpy())
    t = time.time()
    subprocess.run([biqa, "infer", "--model", model, "--weights", str(weights), "--input", str(out.parent / "x.npy"),
                    "--output", str(out), "--threads", str(threads)], check=True)
    return time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = pathlib.Path(tempfile.mkdtemp())

    enc = torchvision.models.resnet50()
    enc.fc = nn.Identity()
    model = nn.Module()
    model.encoder, model.head = enc, mlp(2048, [512])
    randomize(model, 5)
    model.eval()
    torch.save(model.state_dict(), tmp / "dsmix.pth")
    x = torch.randn(5, 3, 224, 224, generator=torch.Generator().manual_seed(6))
    t = time.time()
    with torch.no_grad():
        f = enc(x)
        s = model.head(f).squeeze(1)
    t_torch = time.time() - t
    t_biqa = run_biqa(args.biqa, "dsmix", tmp / "dsmix.pth", x, tmp / "scores.npy", args.threads)
    print(f"dsmix (resnet50 + 2048-512-1 head, 5 crops): score rel err {rel(np.load(tmp / 'scores.npy'), s.numpy()):.2e}"
          f"; torch {t_torch:.2f} s, biqa process {t_biqa:.2f} s (load included)")

    p = nn.Module()
    p.encoder = timm.models.vision_transformer.VisionTransformer(
        img_size=224, patch_size=8, embed_dim=768, depth=12, num_heads=12, class_token=False, global_pool="",
        num_classes=0, dynamic_img_size=True)
    p.decoder = mlp(768, [256])
    randomize(p, 7)
    with torch.no_grad():
        p.encoder.pos_embed.normal_(0, 0.5, generator=torch.Generator().manual_seed(8))
    p.eval()
    torch.save(p.state_dict(), tmp / "dsm.pth")
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(9))
    t = time.time()
    with torch.no_grad():
        y = p.decoder(p.encoder.forward_features(x)).reshape(1, 1, 28, 28)
    t_torch = time.time() - t
    t_biqa = run_biqa(args.biqa, "dsm", tmp / "dsm.pth", x, tmp / "dsm.npy", args.threads)
    print(f"dsm (ViT-B/8, 784 tokens, 768-256-1 decoder): map rel err {rel(np.load(tmp / 'dsm.npy'), y.numpy()):.2e}"
          f"; torch {t_torch:.2f} s, biqa process {t_biqa:.2f} s (load included)")


if __name__ == "__main__":
    main()
