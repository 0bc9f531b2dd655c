"""Writes safetensors fixtures with the reference `safetensors` package (see requirements.txt),
so the C++ reader is tested against files it did not write itself."""
import json
import pathlib

import numpy as np
import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "io"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    tensors = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(2, 5, generator=g).half(),
        "bf16": torch.randn(7, generator=g).bfloat16(),
        "f64": torch.randn(2, 2, generator=g).double(),
        "i64": torch.tensor([1, -2, 1 << 40], dtype=torch.int64),
        "i32": torch.tensor([[5, -6]], dtype=torch.int32),
        "u8": torch.arange(6, dtype=torch.uint8).reshape(1, 2, 3),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 3),
    }
    save_file(tensors, OUT / "reference.safetensors", metadata={"format": "pt", "note": "fixture"})
    # The expected values, as float64 text, for a reader that must not trust itself.
    expected = {k: {"shape": list(v.shape), "values": v.double().flatten().tolist()} for k, v in tensors.items()}
    (OUT / "reference_expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
