"""End-to-end fixture for models::DgiqaScorer (tests/data/models/dgiqa/pipeline.safetensors): the
authors' single_image_inference.py main() on a small picture, with shrunken random networks.

What runs is the script's own sequence, from a local checkout of uf-robopi/DGIQA (never committed):
set_seed(42); DGIQA() (shrunken as make_dgiqa_fixtures.py does: Swin img 56, patch 1, window 7, so the
fused map is 7x7 as in the real network); DepthGenerator('vits') with from_pretrained answering a
shrunken random Depth Anything (as make_depth_fixtures.py does); depth_map = generator(bgr image);
the albumentations Compose (SmallestMaxSize + Normalize + ToTensorV2); get_random_crops with the
script's random.randint calls; model(crops); mean. Two substitutions, both because the real
values do not fit a fixture: the crop size is 56 instead of 224 and SmallestMaxSize is 64 instead
of 384. albumentations is not installed here: its SmallestMaxSize is cv2.resize(INTER_LINEAR) to
round(side * 64 / min(h, w)) per side and its Normalize is (x - 255 m) * (1 / (255 s)) in float32,
which is what this script computes (albumentations 1.4.21+ makes no random() draws before the crops;
the C++ option prior_random_draws covers the older versions).

Stored: the image (uint8 RGB), both networks' weights (prefixes "dgiqa." and "depth."), the depth
image, the crop boxes (top, left), the per-crop scores and the final score.

  git -C <mirror of uf-robopi/DGIQA> archive HEAD | tar -x -C /tmp/dgiqa-src
  /work/refvenv/bin/python tools/reference/make_dgiqa_pipeline_fixtures.py --repo /tmp/dgiqa-src
"""
import argparse
import json
import pathlib
import random
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import make_depth_fixtures as depth_fx  # noqa: E402
import make_dgiqa_fixtures as dgiqa_fx  # noqa: E402
from make_op_fixtures import gen  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "models" / "dgiqa"
CROP, SHORT, CROPS = 56, 64, 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default="/tmp/dgiqa-src")
    args = ap.parse_args()
    repo = pathlib.Path(args.repo).resolve()
    A = depth_fx.import_authors(repo)  # chdir to the repository, stubs huggingface_hub
    m = dgiqa_fx.authors(str(repo))

    swin = dict(img_size=CROP, patch_size=1, embed_dim=4, depths=[2, 2, 2, 1], num_heads=[1, 2, 2, 4], window_size=7)
    bridges, reduction, heads, stack = [4, 4, 8, 8], 2, 4, 12

    # The script's main(), step by step.
    random.seed(42)
    np.random.seed(42)
    torch.manual_seed(42)
    with dgiqa_fx.shrunken(m, swin, bridges, reduction, heads, stack):
        net = m.DGIQA(img_size=CROP).eval()
    dgiqa_fx.randomize(net, gen(7100))
    depth_net, _ = depth_fx.shrunken_net(A, 7200, dict(img_size=56, embed_dim=32, depth=4, num_heads=2), 12,
                                         [6, 8, 12, 16])
    A.depth_utils.DepthAnything.from_pretrained = classmethod(lambda cls, _name: depth_net)
    generator = A.depth_utils.DepthGenerator("vits", torch.device("cpu"))

    h, w = 70, 90
    rng = np.random.default_rng(71)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 120 + 80 * np.sin(yy[..., None] * 0.21 + xx[..., None] * 0.13 + np.arange(3) * 1.1)
    rgb = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    bgr = np.ascontiguousarray(rgb[..., ::-1])  # what cv2.imread returns

    depth_map = generator(bgr)
    img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def smallest_max_size(x):
        s = SHORT / min(x.shape[:2])
        nh, nw = round(x.shape[0] * s), round(x.shape[1] * s)
        return cv2.resize(x, (nw, nh), interpolation=cv2.INTER_LINEAR)

    def normalize(x):
        mean = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
        den = np.reciprocal(np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255)
        return torch.from_numpy(((x.astype(np.float32) - mean) * den).transpose(2, 0, 1).copy())

    img_t = normalize(smallest_max_size(img))
    dep_t = normalize(smallest_max_size(depth_map))
    _, H, W = img_t.shape
    boxes, imgs, deps = [], [], []
    for _ in range(CROPS):
        x = random.randint(0, W - CROP)
        y = random.randint(0, H - CROP)
        boxes.append([y, x])
        imgs.append(img_t[:, y:y + CROP, x:x + CROP])
        deps.append(dep_t[:, y:y + CROP, x:x + CROP])
    with torch.no_grad():
        preds = net(torch.stack(imgs), torch.stack(deps))
    mos = preds.mean().item()

    tensors = {f"dgiqa.{k}": v for k, v in net.state_dict().items()}
    tensors.update({f"depth.{k}": v for k, v in depth_net.state_dict().items()})
    tensors["io.image"] = rgb
    tensors["io.depth_image"] = depth_map
    tensors["io.boxes"] = np.array(boxes, dtype=np.int64)
    tensors["io.crop_scores"] = preds
    tensors["io.resized"] = np.array([H, W], dtype=np.int64)
    config = {"dgiqa": {"swin": {"img_size": CROP, "window_size": 7}, "attention_heads": heads},
              "depth": dict(img_size=56, embed_dim=32, depth=4, num_heads=2, patch_size=14, features=12,
                            out_channels=[6, 8, 12, 16]),
              "short_side": SHORT, "crops": CROPS, "score": mos}
    depth_fx.save(OUT / "pipeline.safetensors", tensors, {"config": json.dumps(config)})
    print(f"score {mos:.6f}, boxes {boxes}, {(OUT / 'pipeline.safetensors').stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
