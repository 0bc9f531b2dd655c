"""Parity fixtures for nn::ResNet (tests/data/nn/resnet_*.safetensors) and biqa::transforms
(tests/data/transforms/*.safetensors), from torchvision 0.14 on CPU in float32.

ResNets: torchvision.models.resnet.ResNet with its own BasicBlock / Bottleneck, shrunk so the files
stay small: the stem and the stage widths scale from `base` instead of 64 (ShrunkResNet below only
changes the widths; every module, key name and the forward pass are torchvision's). Weights,
BatchNorm affine parameters and running statistics are random from fixed seeds. Each file holds the
state_dict under torchvision's keys, "io.input", "io.output" (logits, or pooled features without
fc), "io.stem" (relu after bn1, before the max pool) and "io.layer1".."io.layer4", and metadata
"config" (JSON).

Transforms: torchvision.transforms.functional resize / center_crop / five_crop / crop / normalize
on float CHW tensors, and the CLIP eval transform applied to a tensor
(Resize(bicubic, antialias=True) → CenterCrop → Normalize(CLIP mean/std)). Tensors "<case>.<name>",
metadata "cases" (JSON list).

  /usr/bin/python3 tools/reference/make_resnet_fixtures.py
"""
import json
import pathlib
import sys

import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import save  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
torch.set_num_threads(1)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ShrunkResNet(ResNet):
    """torchvision's ResNet with the stage planes scaled by base/64 (and a stem of `base` channels)."""

    def __init__(self, block, layers, base, num_classes=10, **kw):
        self._base = base
        super().__init__(block, layers, num_classes=max(num_classes, 1), **kw)
        self.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        if num_classes > 0:
            self.fc = nn.Linear(base * 8 * block.expansion, num_classes)
        else:
            self.fc = nn.Identity()  # no parameters: the state_dict has no fc keys

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        if planes == 64:  # first stage: the stem has `base` channels
            self.inplanes = self._base
        return super()._make_layer(block, planes * self._base // 64, blocks, stride, dilate)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if name.endswith("weight") else 0.0))  # BN scale ~1
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.num_batches_tracked.fill_(7)
    model.eval()


def run_with_stages(model, x):
    io = {}
    h = model.relu(model.bn1(model.conv1(x)))
    io["io.stem"] = h
    h = model.maxpool(h)
    for i in range(1, 5):
        h = getattr(model, f"layer{i}")(h)
        io[f"io.layer{i}"] = h
    out = model(x)
    pooled = torch.flatten(model.avgpool(h), 1)
    ref = model.fc(pooled)
    assert torch.equal(ref, out)
    io["io.output"] = out
    return io


def resnet_case(name, block, layers, base, num_classes, input_shape, seed, **kw):
    torch.manual_seed(seed)
    model = ShrunkResNet(block, layers, base, num_classes=num_classes, **kw)
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(input_shape, generator=g)
    with torch.no_grad():
        io = run_with_stages(model, x)
    tensors = dict(model.state_dict())
    tensors["io.input"] = x
    tensors.update(io)
    config = {
        "block": "basic" if block is BasicBlock else "bottleneck",
        "layers": layers,
        "base_width": base,
        "groups": kw.get("groups", 1),
        "width_per_group": kw.get("width_per_group", 64),
        "replace_stride_with_dilation": kw.get("replace_stride_with_dilation", [False, False, False]),
        "num_classes": num_classes,
    }
    save(ROOT / "nn" / f"{name}.safetensors", tensors, {"config": json.dumps(config)})


def make_resnets():
    # resnet18's layout (BasicBlock, 2-2-2-2) with a 2-channel stem; also the CLI fixture.
    resnet_case("resnet18_small", BasicBlock, [2, 2, 2, 2], 2, 10, (1, 3, 48, 40), 1)
    # Bottleneck, grouped 3×3 convolutions, dilation in stages 3 and 4, no fc (pooled features).
    resnet_case("resnet50_dilated_nofc", Bottleneck, [1, 1, 1, 1], 4, 0, (2, 3, 24, 20), 2,
                groups=2, width_per_group=32, replace_stride_with_dilation=[False, True, True])
    # Bottleneck with a classifier, two blocks in a stage (the second without downsample).
    resnet_case("resnet50_small", Bottleneck, [1, 2, 1, 1], 4, 6, (1, 3, 25, 31), 3)


# ---------------------------------------------------------------- transforms


def make_transforms():
    g = torch.Generator().manual_seed(11)
    tensors, cases = {}, []

    def image(h, w):
        return torch.rand((3, h, w), generator=g)

    def add(case, inputs, outputs):
        cases.append(case)
        for k, v in {**inputs, **outputs}.items():
            tensors[f"{case['name']}.{k}"] = v

    modes = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC}
    resizes = [
        ("down_short_bilinear", (3, 27, 36), [14], "bilinear", True),
        ("down_short_bicubic", (3, 36, 27), [14], "bicubic", True),
        ("down_exact_bicubic", (3, 29, 33), [13, 20], "bicubic", True),
        ("up_short_bicubic", (3, 9, 12), [21], "bicubic", True),
        ("up_exact_bilinear", (3, 10, 7), [19, 15], "bilinear", True),
        ("down_exact_bilinear_noaa", (3, 29, 33), [13, 20], "bilinear", False),
        ("down_short_bicubic_noaa", (3, 40, 30), [13], "bicubic", False),
    ]
    for name, shape, size, mode, aa in resizes:
        x = image(*shape[1:])
        y = TF.resize(x, size, interpolation=modes[mode], antialias=aa)
        add({"name": "resize_" + name, "op": "resize", "size": size, "mode": mode, "antialias": aa},
            {"input": x}, {"output": y})

    for name, shape, size in [("odd", (3, 17, 20), [8, 11]), ("tie", (3, 15, 14), [10, 9]),
                              ("pad", (3, 9, 12), [13, 10])]:
        x = image(*shape[1:])
        add({"name": "center_crop_" + name, "op": "center_crop", "size": size},
            {"input": x}, {"output": TF.center_crop(x, size)})

    x = image(19, 22)
    tl, tr, bl, br, c = TF.five_crop(x, [9, 14])
    add({"name": "five_crop", "op": "five_crop", "size": [9, 14]}, {"input": x},
        {"tl": tl, "tr": tr, "bl": bl, "br": br, "center": c})

    x = image(10, 12)
    add({"name": "crop_outside", "op": "crop", "box": [-2, 5, 9, 10]}, {"input": x},
        {"output": TF.crop(x, -2, 5, 9, 10)})

    x = image(6, 5)
    add({"name": "normalize_imagenet", "op": "normalize", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        {"input": x}, {"output": TF.normalize(x, IMAGENET_MEAN, IMAGENET_STD)})

    # open_clip's eval transform (Resize(size, BICUBIC) → CenterCrop(size) → ToTensor → Normalize),
    # with the resize on the float tensor and antialias=True.
    for name, shape, size in [("clip_landscape", (3, 35, 52), 16), ("clip_portrait_up", (3, 15, 11), 16)]:
        x = image(*shape[1:])
        clip = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
                          T.CenterCrop(size), T.Normalize(CLIP_MEAN, CLIP_STD)])
        add({"name": name, "op": "clip_preprocess", "size": size}, {"input": x}, {"output": clip(x)})

    save(ROOT / "transforms" / "transforms.safetensors", tensors, {"cases": json.dumps(cases)})


if __name__ == "__main__":
    assert torchvision.__version__.startswith("0.14"), torchvision.__version__
    make_resnets()
    make_transforms()
