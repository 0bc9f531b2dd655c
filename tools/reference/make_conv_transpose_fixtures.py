"""Parity fixtures for ops::conv_transpose2d and nn::ConvTranspose2d.

  tests/data/ops/conv_transpose2d.safetensors   cases "<case>.{x,weight,bias,out}" and the "cases"
                                                metadata (stride, padding, output_padding,
                                                dilation, groups), as make_op_fixtures.py writes
  tests/data/nn/conv_transpose2d.safetensors    torch.nn.ConvTranspose2d's state_dict, io.input,
                                                io.output and the "config" metadata

Random inputs and weights from fixed seeds; F.conv_transpose2d in float32 on the CPU.

  /work/refvenv/bin/python tools/reference/make_conv_transpose_fixtures.py
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_op_fixtures import NN, OpFile, gen, layer_case, randn  # noqa: E402

torch.set_num_threads(1)


def op_fixtures() -> None:
    f, g = OpFile("conv_transpose2d"), gen(1717)

    def add(name, n, c, h, w, o, k, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1),
            groups=1, bias=True):
        x = randn(g, n, c, h, w)
        wt = randn(g, c, o // groups, *k, scale=1.0 / math.sqrt(c // groups * k[0] * k[1]))
        b = randn(g, o) if bias else None
        out = F.conv_transpose2d(x, wt, b, stride=stride, padding=padding, output_padding=output_padding,
                                 groups=groups, dilation=dilation)
        t = {"x": x, "weight": wt, "out": out}
        if bias:
            t["bias"] = b
        f.case(name, t, stride=list(stride), padding=list(padding), output_padding=list(output_padding),
               dilation=list(dilation), groups=groups)

    # The DPT head's upsamplers: kernel = stride (non-overlapping taps), ×4 and ×2.
    add("k4s4", 2, 6, 3, 5, 6, (4, 4), stride=(4, 4))
    add("k2s2", 1, 5, 4, 3, 7, (2, 2), stride=(2, 2))
    # Overlapping taps (col2im sums), padding cropped, output_padding, asymmetric settings.
    add("k3s2_pad1_outpad1", 2, 4, 5, 4, 3, (3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    add("asymmetric", 1, 3, 4, 6, 5, (3, 2), stride=(1, 3), padding=(2, 0), output_padding=(0, 2), bias=False)
    add("dilated", 1, 3, 5, 5, 2, (3, 3), stride=(2, 1), padding=(1, 2), dilation=(2, 3))
    add("groups", 2, 6, 4, 4, 4, (3, 3), stride=(2, 2), padding=(1, 1), groups=2)
    add("k1", 1, 4, 3, 3, 5, (1, 1))
    # Several images and groups: tasks for several threads (the C++ test checks many channel blocks
    # per image against a direct sum instead, which needs no large file).
    add("batch3_groups3", 3, 6, 5, 4, 9, (2, 2), stride=(2, 2), groups=3)
    f.write()


def nn_fixtures() -> None:
    g = gen(1718)
    torch.manual_seed(0)
    layer_case("conv_transpose2d", nn.ConvTranspose2d(6, 4, 2, stride=2), {"input": randn(g, 2, 6, 3, 4)},
               {"in_channels": 6, "out_channels": 4, "kernel_size": [2, 2], "stride": [2, 2], "padding": [0, 0],
                "output_padding": [0, 0], "dilation": [1, 1], "groups": 1, "bias": True}, 1719)
    layer_case("conv_transpose2d_groups_nobias",
               nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
               {"input": randn(g, 1, 4, 3, 3)},
               {"in_channels": 4, "out_channels": 6, "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1],
                "output_padding": [1, 1], "dilation": [1, 1], "groups": 2, "bias": False}, 1720)


if __name__ == "__main__":
    op_fixtures()
    nn_fixtures()
    print("wrote conv_transpose2d fixtures")
