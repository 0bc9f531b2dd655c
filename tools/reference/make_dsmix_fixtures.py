"""Parity fixtures for models::DSMix and models::DSMPredictor (tests/data/models/dsmix/), from a
PyTorch reference written from the spec (shared/specs/dsmix.md; the authors published no code) on
torchvision 0.14 / timm 0.9.16, float32, random weights from fixed seeds.

The reference modules (below) are what a PyTorch re-implementation of DSMix saves:
  DSMixRef      encoder = torchvision ResNet without fc (global-average-pooled layer4 feature),
                head = nn.Sequential(Linear, ReLU, ..., Linear(·, 1)) or one nn.Linear(D, 1);
                score(image) = mean over the five crops of head(encoder(crop)).
  DSMPredictorRef  encoder = timm VisionTransformer(class_token=False, global_pool='',
                num_classes=0, dynamic_img_size=True) (forward_features: blocks then `norm`),
                decoder = nn.Sequential(Linear, ReLU, ..., Linear(·, 1)) per token, reshaped to
                [N, 1, H/p, W/p].
Shrunken: the ResNet is torchvision's Bottleneck ResNet with stage widths scaled from base 2
(ShrunkResNet of make_resnet_fixtures.py), crops of 32 instead of 224; the ViT has patch 8, dim 16,
depth 2, 2 heads. Every weight, LayerNorm/BatchNorm affine and BatchNorm running statistic is random.

Files (tensors "io.*" are inputs and reference outputs; "biqa.config" metadata is the model config):
  dsmix_mlp.safetensors     canonical DSMix (encoder.* + head.0/head.2), an H×W×3 image in [0,1]
                            ("io.image", 37×45), its five normalised crops' features ("io.features"),
                            per-crop scores ("io.crop_scores") and "io.score"; plus "io.crops_batch"
                            (a random [2,3,32,32] batch) and its "io.batch_scores".
  dsmix_mlp.pth             the same weights as a torch.save'd state_dict (no io tensors).
  dsmix_linear.safetensors  a single-Linear head, image 29×50 (smaller than the crop on one side).
  head_only.safetensors     only head.* of dsmix_mlp; encoder_tv.pth: the encoder as a torchvision
                            state_dict (top-level keys, with an fc layer that DSMix ignores).
  dsm.safetensors           DSMPredictor (encoder.* timm keys, decoder.*): "io.input" [2,3,32,32] →
                            "io.output" [2,1,4,4]; "io.input_wide" [1,3,48,40] → "io.output_wide"
                            [1,1,6,5] (pos_embed resampled as timm does).
  crops.safetensors         crop geometry: for each case (metadata "cases": h, w, size) an index
                            image (values 1..h·w) "<case>.image" [1,h,w] and torchvision's five crops
                            "<case>.crops" [5,1,size,size] (tl, tr, bl, br, centre): F.five_crop where
                            the crop fits, F.crop / F.center_crop (zero padding) otherwise. The 224
                            case (227×231, where round((H−224)/2) ≠ H//2 − 112) keeps each crop's
                            first row and column only ("<case>.first_row" / ".first_col" [5,224]).

  /work/refvenv/bin/python tools/reference/make_dsmix_fixtures.py
"""
import json
import pathlib
import sys

import timm
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from torchvision.models.resnet import Bottleneck

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import save  # noqa: E402
from make_resnet_fixtures import ShrunkResNet, randomize  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "models" / "dsmix"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
torch.set_num_threads(1)


def mlp(d_in, widths, name_single_linear=True):
    if not widths and name_single_linear:
        return nn.Linear(d_in, 1)
    layers, d = [], d_in
    for w in widths:
        layers += [nn.Linear(d, w), nn.ReLU()]
        d = w
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


def five_crops(x, size):
    """The spec's five crops of a [C, H, W] tensor, torchvision semantics, zero padding."""
    h, w = x.shape[-2:]
    boxes = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size)]
    crops = [TF.crop(x, t, l, size, size) for t, l in boxes] + [TF.center_crop(x, [size, size])]
    if h >= size and w >= size:
        ref = TF.five_crop(x, [size, size])
        assert all(torch.equal(a, b) for a, b in zip(crops, ref))
    return torch.stack(crops)


class DSMixRef(nn.Module):
    def __init__(self, base, layers, head_widths, crop):
        super().__init__()
        self.encoder = ShrunkResNet(Bottleneck, layers, base, num_classes=0)
        self.head = mlp(base * 8 * 4, head_widths)
        self.crop = crop

    def forward(self, crops):
        f = self.encoder(crops)
        return self.head(f).squeeze(1), f

    def score(self, image_hwc):
        x = TF.normalize(image_hwc.permute(2, 0, 1), MEAN, STD)
        crops = five_crops(x, self.crop)
        s, f = self(crops)
        return s.mean(), s, f


class DSMPredictorRef(nn.Module):
    def __init__(self, img, patch, dim, depth, heads, mlp_ratio, dec_widths):
        super().__init__()
        self.encoder = timm.models.vision_transformer.VisionTransformer(
            img_size=img, patch_size=patch, embed_dim=dim, depth=depth, num_heads=heads, mlp_ratio=mlp_ratio,
            class_token=False, global_pool="", num_classes=0, dynamic_img_size=True)
        self.decoder = mlp(dim, dec_widths)
        self.patch = patch

    def forward(self, x):
        t = self.encoder.forward_features(x)
        n, h, w = x.shape[0], x.shape[2] // self.patch, x.shape[3] // self.patch
        return self.decoder(t).reshape(n, 1, h, w)


def randomize_all(model, seed):
    g = torch.Generator().manual_seed(seed)
    randomize(model, seed)  # convs / linears scaled by fan-in, affines around 1, BN statistics
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("pos_embed", "cls_token")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    model.eval()


def dsmix_case(name, seed, head_widths, image_hw):
    torch.manual_seed(seed)
    m = DSMixRef(2, [1, 2, 1, 1], head_widths, 32)
    randomize_all(m, seed)
    g = torch.Generator().manual_seed(seed + 100)
    image = torch.rand(*image_hw, 3, generator=g)
    batch = torch.randn(2, 3, 32, 32, generator=g)
    with torch.no_grad():
        score, crop_scores, features = m.score(image)
        batch_scores, _ = m(batch)
    sd = {k: v for k, v in m.state_dict().items()}
    cfg = {"crop_size": 32, "mean": list(MEAN), "std": list(STD)}
    io = {"io.image": image, "io.features": features, "io.crop_scores": crop_scores, "io.score": score.reshape(1),
          "io.crops_batch": batch, "io.batch_scores": batch_scores}
    save(OUT / f"{name}.safetensors", {**sd, **io}, {"biqa.config": json.dumps(cfg)})
    return m, sd


def main():
    m, sd = dsmix_case("dsmix_mlp", 0, [16], (37, 45))
    torch.save(sd, OUT / "dsmix_mlp.pth")
    save(OUT / "head_only.safetensors", {k: v for k, v in sd.items() if k.startswith("head.")},
         {"biqa.config": json.dumps({"crop_size": 32})})
    enc = ShrunkResNet(Bottleneck, [1, 2, 1, 1], 2, num_classes=10)
    enc.load_state_dict({k[len("encoder."):]: v for k, v in sd.items() if k.startswith("encoder.")}, strict=False)
    torch.save(enc.state_dict(), OUT / "encoder_tv.pth")
    dsmix_case("dsmix_linear", 1, [], (29, 50))

    torch.manual_seed(2)
    p = DSMPredictorRef(32, 8, 16, 2, 2, 2.0, [8])
    randomize_all(p, 2)
    g = torch.Generator().manual_seed(3)
    x, xw = torch.randn(2, 3, 32, 32, generator=g), torch.randn(1, 3, 48, 40, generator=g)
    with torch.no_grad():
        y, yw = p(x), p(xw)
    cfg = {"vit": {"num_heads": 2}}
    save(OUT / "dsm.safetensors", {**p.state_dict(), "io.input": x, "io.output": y, "io.input_wide": xw,
                                   "io.output_wide": yw}, {"biqa.config": json.dumps(cfg)})

    cases, tensors = [], {}
    for i, (h, w, s) in enumerate([(8, 8, 8), (9, 11, 8), (11, 15, 8), (15, 13, 8), (13, 19, 8), (5, 7, 8),
                                   (7, 20, 8), (10, 6, 8), (7, 7, 4), (227, 231, 224)]):
        name = f"case{i}"
        img = torch.arange(h * w, dtype=torch.float32).reshape(1, h, w) + 1
        if s == 224:  # full size: keep only each crop's first row and column (the geometry)
            c = five_crops(img, s)
            tensors[f"{name}.first_row"], tensors[f"{name}.first_col"] = c[:, 0, 0, :], c[:, 0, :, 0]
            cases.append({"name": name, "h": h, "w": w, "size": s})
            continue
        tensors[f"{name}.image"] = img
        tensors[f"{name}.crops"] = five_crops(img, s)
        cases.append({"name": name, "h": h, "w": w, "size": s})
    save(OUT / "crops.safetensors", tensors, {"cases": json.dumps(cases)})


if __name__ == "__main__":
    main()
