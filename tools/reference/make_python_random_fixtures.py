"""CPython's own `random` draws, the reference for include/biqa/core/python_random.hpp and
include/biqa/transforms/random_crops.hpp (tests/core/test_python_random.cpp).

Writes tests/data/core/python_random.json. Integers are decimal strings (some exceed 64-bit
signed), random() values are float.hex() strings (exact). Runs on any CPython ≥ 3.2 (the
algorithms the header reproduces have not changed since); no pip package needed.
"""
import json
import os
import random
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "core", "python_random.json")

SEEDS = [0, 1, 42, 12345, -7, 2**31 - 1, 2**32, 2**32 + 5, 2**64 - 1, 2**64 + 3, 2**100 + 12345,
         123456789012345678901234567890]
RANGES = [(0, 160), (0, 288), (0, 0), (-5, 5), (0, 2**40), (1, 6), (0, 2**62), (0, 255), (-2**63, 2**63 - 2)]
BITS = [1, 5, 31, 32, 33, 48, 63, 64]


def seed_case(seed):
    r = random.Random(seed)
    case = {"seed": str(seed)}
    case["u32"] = [str(r.getrandbits(32)) for _ in range(8)]
    case["random"] = [r.random().hex() for _ in range(6)]
    case["getrandbits"] = [[k, str(r.getrandbits(k))] for k in BITS]
    case["randint"] = [[str(a), str(b), str(r.randint(a, b))] for _ in range(3) for (a, b) in RANGES]
    return case


def dgiqa_crops(h, w, count, size, prior):
    # single_image_inference.py's get_random_crops after set_seed(42) and `prior` random() calls
    random.seed(42)
    for _ in range(prior):
        random.random()
    boxes = []
    for _ in range(count):
        x = random.randint(0, w - size)
        y = random.randint(0, h - size)
        boxes.append([y, x])
    return boxes


def main():
    out = {
        "python": sys.version.split()[0],
        "seeds": [seed_case(s) for s in SEEDS],
        "crops": [{"height": h, "width": w, "count": n, "size": 224, "prior_random_draws": p,
                   "boxes_yx": dgiqa_crops(h, w, n, 224, p)}
                  for (h, w, n) in [(384, 512, 10), (384, 683, 20), (576, 384, 10), (384, 384, 5), (224, 300, 3)]
                  for p in (0, 1, 4)],
    }
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
