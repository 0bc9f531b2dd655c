"""OpenCV's uint8 INTER_LINEAR resize and albumentations' Normalize, the references for
include/biqa/transforms/opencv_resize.hpp and normalize_u8.hpp (tests/transforms/test_opencv_resize.cpp).

Writes tests/data/transforms/dgiqa_preprocess.safetensors. Inputs are not stored: they come from
pattern(), which the test computes too. Expected outputs of up to 12,000 values are stored whole;
larger ones as per-row sums, per-column sums and three bands of 2 full rows (any one-LSB error
changes a row sum and a column sum). Needs opencv-python-headless (see requirements.txt) and
safetensors; run with the reference venv.
"""
import json
import os

import cv2
import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "transforms", "dgiqa_preprocess.safetensors")
FULL_LIMIT = 12000


def pattern(h, w, c, seed, kind):
    """uint8 H×W×C test image; the C++ test computes the same values."""
    if kind == "noise":
        i = np.arange(h * w * c, dtype=np.uint64)
        x = (i * np.uint64(2654435761) + np.uint64(seed * 0x9E3779B9 + 12345)) & np.uint64(0xFFFFFFFF)
        x ^= x >> np.uint64(15)
        x = (x * np.uint64(0x2C1B3C6D)) & np.uint64(0xFFFFFFFF)
        x ^= x >> np.uint64(12)
        return (x >> np.uint64(24)).astype(np.uint8).reshape(h, w, c)
    # smooth: a gradient with a little texture, closer to a photo
    y, xx, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    v = (y * 255 // max(h - 1, 1) + xx * 3 + ch * 37 + seed) % 256
    return v.astype(np.uint8)


def smallest_max_size(h, w, target):
    # albumentations 1.3 SmallestMaxSize: scale = target / min side, Python round (half to even)
    scale = target / float(min(h, w))
    if scale == 1.0:
        return h, w
    return round(h * scale), round(w * scale)


# (name, h, w, c, seed, kind, out_h, out_w) — out_h = -1: shortest side to out_w
CASES = [
    ("ss384_500x375", 375, 500, 3, 1, "noise", -1, 384),
    ("ss384_1024x768", 768, 1024, 3, 2, "smooth", -1, 384),
    ("ss384_640x480", 480, 640, 3, 3, "noise", -1, 384),
    ("ss384_511x383", 383, 511, 3, 4, "smooth", -1, 384),
    ("ss384_384x600", 600, 384, 1, 5, "noise", -1, 384),  # already 384: unchanged
    ("ss16_50x37", 37, 50, 3, 6, "noise", -1, 16),
    ("up_1x1_to_7x5", 1, 1, 1, 7, "noise", 7, 5),
    ("down_7x5_to_1x1", 7, 5, 1, 8, "noise", 1, 1),
    ("down_5x7_to_2x3", 5, 7, 3, 9, "noise", 2, 3),
    ("up_9x13_to_17x29", 9, 13, 1, 10, "noise", 17, 29),
    ("up_9x13_to_17x29_c3", 9, 13, 3, 11, "noise", 17, 29),
    ("down_17x31_to_8x15", 17, 31, 3, 12, "noise", 8, 15),
    ("mixed_100x100_to_63x37", 100, 100, 3, 13, "noise", 63, 37),
    ("column_33x1_to_7x1", 33, 1, 1, 14, "noise", 7, 1),
    ("row_1x33_to_1x7", 1, 33, 3, 15, "noise", 1, 7),
    ("box2_48x64", 48, 64, 3, 16, "noise", 24, 32),
    ("box2_6x34", 6, 34, 1, 17, "noise", 3, 17),
    ("box2_2x2", 2, 2, 3, 18, "noise", 1, 1),
    ("up2_24x32", 24, 32, 3, 19, "noise", 48, 64),
    ("down2_one_axis", 10, 10, 3, 20, "noise", 5, 10),
    ("down3_60x90", 60, 90, 3, 21, "smooth", 20, 30),
    ("down4_48x64", 48, 64, 1, 22, "noise", 12, 16),
    ("one_axis_23x37", 23, 37, 3, 23, "noise", 23, 38),
    ("rgba_50x40", 50, 40, 4, 24, "noise", 31, 77),
    ("up15_200x300", 200, 300, 1, 25, "noise", 300, 450),
    ("same_size", 12, 9, 3, 26, "noise", 12, 9),
]


def main():
    tensors, meta = {}, []
    for name, h, w, c, seed, kind, oh, ow in CASES:
        img = pattern(h, w, c, seed, kind)
        op = "shortest_side" if oh < 0 else "resize"
        if op == "shortest_side":
            target = ow
            oh, ow = smallest_max_size(h, w, target)
        else:
            target = 0
        src = img[:, :, 0] if c == 1 else img
        out = src if (oh, ow) == (h, w) and op == "shortest_side" else cv2.resize(src, (ow, oh), interpolation=cv2.INTER_LINEAR)
        out = out.reshape(oh, ow, c)
        full = out.size <= FULL_LIMIT
        if full:
            tensors[name + ".out"] = np.ascontiguousarray(out)
        else:
            flat = out.reshape(oh, ow * c).astype(np.int64)
            tensors[name + ".row_sums"] = flat.sum(axis=1).astype(np.int32)
            tensors[name + ".col_sums"] = flat.sum(axis=0).astype(np.int32)
            mid = oh // 2 - 1
            tensors[name + ".bands"] = np.ascontiguousarray(np.concatenate([out[:2], out[mid:mid + 2], out[-2:]]))
            meta_band = mid
        meta.append({"name": name, "op": op, "h": h, "w": w, "c": c, "seed": seed, "kind": kind,
                     "out_h": oh, "out_w": ow, "target": target, "full": full,
                     "band_mid": (meta_band if not full else 0)})

    # albumentations 1.3 Normalize (3 channels: its normalize_cv2 path) then ToTensorV2 (HWC → CHW)
    img = pattern(19, 27, 3, 99, "noise")
    img[0, :, :] = np.arange(27 * 3).reshape(27, 3) % 256
    img[1, :, :] = 255 - img[0]
    mean = np.array((0.485, 0.456, 0.406), dtype=np.float32) * np.float32(255.0)
    std = np.array((0.229, 0.224, 0.225), dtype=np.float32) * np.float32(255.0)
    den = np.reciprocal(std, dtype=np.float32)
    ref_numpy = (img.astype(np.float32) - mean) * den
    ref_cv2 = np.ascontiguousarray(img.astype("float32"))
    cv2.subtract(ref_cv2, np.append(mean, 0).astype(np.float64), ref_cv2)
    cv2.multiply(ref_cv2, np.append(den, 1).astype(np.float64), ref_cv2)
    assert np.array_equal(ref_numpy.view(np.uint32), ref_cv2.view(np.uint32)), "numpy and cv2 forms differ"
    tensors["normalize.input"] = img
    tensors["normalize.out"] = np.ascontiguousarray(ref_cv2.transpose(2, 0, 1))

    save_file(tensors, OUT, metadata={"cases": json.dumps(meta), "opencv": cv2.__version__})
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
