#!/usr/bin/python3
"""Writes the PyTorch checkpoint fixtures of tests/io/test_pytorch.cpp into tests/data/io/pytorch/.

Run with the system Python (torch 1.13):  /usr/bin/python3 tools/reference/make_checkpoints.py

For every readable fixture X.pth there is X.expected.safetensors holding each tensor's values,
dtype and shape as torch.load sees them (made contiguous), written here with numpy and json only,
so the C++ test compares against PyTorch, not against biqa's own reader. Its __metadata__ has
  "order":      tensor names in the order biqa must list them (pickle order), comma-separated
  "source_key": the top-level key the state_dict is expected under ("" if none)
  "layout":     JSON {name: [storage_offset, [strides...]]} as torch reports them
The bad_*.pth files are invalid on purpose; each is checked here to be refused by torch.load too
(or, for the compressed one, to load in torch, since only biqa refuses it).
"""

import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from torch import nn

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "io")
OUT = os.path.join(DATA, "pytorch")
PICKLE_OUT = os.path.join(DATA, "pickle")

SAFETENSORS_DTYPE = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: take the bit patterns
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def write_expected(path, named, source_key=""):
    """safetensors: u64 header length, JSON header, tensor bytes. Tensors are laid out by
    descending element size so every one stays aligned; the header is padded to 8 bytes."""
    order = [n for n, _ in named]
    layout = {n: [t.storage_offset(), list(t.stride())] for n, t in named}
    by_size = sorted(named, key=lambda nt: -nt[1].element_size())
    header = {"__metadata__": {"order": ",".join(order), "source_key": source_key,
                               "layout": json.dumps(layout, sort_keys=True)}}
    blobs, offset = [], 0
    for name, t in by_size:
        b = tensor_bytes(t)
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def flatten(obj, prefix=""):
    """The names biqa gives: nested dicts and lists joined with '.'."""
    out = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, (str, int)) and not isinstance(k, bool):
                out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, f"{prefix}.{i}" if prefix else str(i))
    return out


def save(name, obj, expected=None, source_key="", **kwargs):
    path = os.path.join(OUT, name)
    torch.save(obj, path, **kwargs)
    if expected is not None:
        loaded = torch.load(path)  # the expectation comes from what torch reads back
        picked = loaded[source_key] if source_key else loaded
        named = flatten(picked) if not isinstance(picked, torch.Tensor) else [("tensor", picked)]
        assert [n for n, _ in named] == [n for n, _ in expected], (name, named, expected)
        for (n, a), (_, b) in zip(named, expected):
            assert a.dtype == b.dtype and a.shape == b.shape, n
        stem = os.path.splitext(name)[0]
        write_expected(os.path.join(OUT, stem + ".expected.safetensors"), named, source_key)
    return path


class TinyNet(nn.Module):
    """A conv/bn/linear net plus one buffer of every dtype biqa reads."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(4, 2)
        self.register_buffer("f16", torch.randn(2, 3).half())
        self.register_buffer("bf16", torch.randn(5).bfloat16())
        self.register_buffer("f64", torch.randn(2, 2, dtype=torch.float64))
        self.register_buffer("special", torch.tensor(
            [float("inf"), -float("inf"), float("nan"), -0.0, 1e-40, 3.4e38]))
        self.register_buffer("i64", torch.tensor([-(2 ** 40), 5, 2 ** 62]))
        self.register_buffer("i32", torch.tensor([[-7, 0, 2 ** 31 - 1]], dtype=torch.int32))
        self.register_buffer("i16", torch.tensor([-32768, 1, 32767], dtype=torch.int16))
        self.register_buffer("i8", torch.tensor([-128, 0, 127], dtype=torch.int8))
        self.register_buffer("u8", torch.tensor([0, 1, 255], dtype=torch.uint8))
        self.register_buffer("flags", torch.tensor([True, False, True]))
        self.register_buffer("empty", torch.zeros(0, 3))
        self.register_buffer("scalar", torch.tensor(2.5))


class Config:
    """A user's own config class: pickled as __main__.Config, which biqa must skip."""

    def __init__(self):
        self.lr = 0.1
        self.layers = [2, 3]
        self.name = "tiny"


def stored_zip(path, members):
    """A zip of stored entries, as torch writes them, with fixed timestamps."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)


def members_of(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def must_fail_in_torch(path):
    try:
        torch.load(path)
    except Exception:  # noqa: BLE001 - any refusal will do
        return
    sys.exit(f"{path}: torch.load accepted a file meant to be invalid")


class FakeStorage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class FakeTensor:
    """Pickles exactly as a tensor does, with whatever offset, size and stride it is given."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return None


def crafted(name, obj, storages):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=2).dump(obj)
    stem = os.path.splitext(name)[0]
    members = [(f"{stem}/data.pkl", buf.getvalue())]
    members += [(f"{stem}/data/{k}", v) for k, v in storages.items()]
    members.append((f"{stem}/version", b"3\n"))
    path = os.path.join(OUT, name)
    stored_zip(path, members)
    return path


class Unseekable(io.RawIOBase):
    """A write-only stream without seek: zipfile then streams entries with data descriptors."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)


def describe(v):
    """A typed JSON description of a Python value, as test_pickle.cpp builds it from biqa's VM."""
    if v is None:
        return ["none"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)] if -2 ** 63 <= v < 2 ** 63 else ["bigint"]
    if isinstance(v, float):
        return ["float", str(struct.unpack("<Q", struct.pack("<d", v))[0])]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, (bytes, bytearray)):
        return ["bytes", v.hex()]
    if isinstance(v, list):
        return ["list", [describe(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [describe(x) for x in v]]
    if isinstance(v, (set, frozenset)):
        return ["set", [describe(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[describe(k), describe(x)] for k, x in v.items()]]
    raise TypeError(type(v))


def write_pickles():
    """Plain Python values pickled with protocols 2, 4 and 5, with their descriptions."""
    os.makedirs(PICKLE_OUT, exist_ok=True)
    shared = [1, "shared"]
    values = collections.OrderedDict([
        ("none", None), ("true", True), ("false", False),
        ("ints", [0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -2 ** 31, 2 ** 31,
                  2 ** 40, -2 ** 40, 2 ** 63 - 1, -2 ** 63]),
        ("bigints", [2 ** 63, -2 ** 63 - 1, 2 ** 100]),
        ("floats", [0.0, -0.0, 1.5, -2.25e-300, float("inf"), float("nan"), 1e308]),
        ("strs", ["", "ascii", "h\u00e9llo \u2603", "x" * 300]),
        ("bytes", [b"", b"\x00\xff\x80abc", bytearray(b"ba")]),
        ("tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)]),
        ("set", {3, 1, 2}), ("frozenset", frozenset({"f"})),
        ("nested", {"a": [None, {"b": (True,)}], 7: "int key", (1, 2): "tuple key"}),
        ("shared", [shared, shared]),
        ("od", collections.OrderedDict([("z", 1), ("a", 2)])),
    ])
    for proto in (2, 4, 5):
        with open(os.path.join(PICKLE_OUT, f"values_p{proto}.pkl"), "wb") as f:
            pickle.dump(values, f, protocol=proto)
    with open(os.path.join(PICKLE_OUT, "values.json"), "w") as f:
        json.dump(describe(values), f)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # 1. A plain state_dict. One training step gives BatchNorm non-trivial running statistics
    #    and num_batches_tracked (an int64 scalar) the value 1.
    net = TinyNet()
    net.train()
    net.bn(net.conv(torch.randn(2, 2, 5, 5)))
    sd = net.state_dict()
    save("plain.pth", sd, list(sd.items()))

    # 2. Views: slices, a transpose, an expanded tensor (stride 0), and two tensors sharing one
    #    storage at different offsets. torch.save keeps the views' offsets and strides.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.arange(10, dtype=torch.float64) * 0.5
    views = collections.OrderedDict([
        ("base", base), ("row", base[1]), ("col", base[:, 2]), ("transposed", base.t()),
        ("block", base[1:3, 2:5]), ("step", base.view(-1)[3::5]),
        ("expanded", torch.arange(3, dtype=torch.int32).expand(4, 3)),
        ("a", shared[2:5]), ("b", shared[5:9].view(2, 2)),
    ])
    save("views.pth", views, list(views.items()))
    # The same with pickle protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
    save("views_p4.pth", views, list(views.items()), pickle_protocol=4)

    # 3. A training checkpoint: the weights under "model" beside things biqa must skip.
    small = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    opt = torch.optim.Adam(small.parameters(), lr=1e-3)
    small(torch.randn(4, 3)).sum().backward()
    opt.step()
    msd = small.state_dict()
    checkpoint = {
        "epoch": 3,
        "config": Config(),
        "args": argparse.Namespace(lr=0.1, fold=2),
        "model": msd,
        "optimizer": opt.state_dict(),
        "best": np.float64(0.25),
        "tags": {2, 1},  # ints: string sets would pickle in a random order
        "history": [0.5, 0.25, float("nan")],
        "note": b"bytes \x00\xff",
        "big": 2 ** 80,
        "none": None,
    }
    save("checkpoint.pth", checkpoint, list(msd.items()), source_key="model")

    # 4. "state_dict" is preferred to "model", whatever the order in the file; keys keep their
    #    DataParallel "module." prefix (WeightStore strips it).
    wrapped_sd = collections.OrderedDict([
        ("module.conv.weight", torch.randn(2, 1, 1, 1)),
        ("module.conv.bias", torch.randn(2).half()),
    ])
    wrapped = {"model": {"decoy": torch.zeros(1)}, "state_dict": wrapped_sd, "epoch": 1}
    save("wrapped.pth", wrapped, list(wrapped_sd.items()), source_key="state_dict")

    # 5. No well-known key: nested dicts and lists flatten with '.', int keys included, and
    #    non-tensor leaves are skipped. A Parameter pickles through _rebuild_parameter.
    nested = {
        "encoder": {"w": torch.randn(2, 2), "sub": {"b": torch.randn(3).double()}},
        "heads": [torch.ones(1, dtype=torch.int64), torch.zeros(2, dtype=torch.bool)],
        "meta": {"name": "x", "size": 3},
        7: torch.tensor([7.0]),
        "param": nn.Parameter(torch.tensor([1.5, -2.0])),  # _rebuild_parameter
    }
    save("nested.pth", nested, flatten(nested))

    # 6. torch.save(tensor), written through a file object: the archive folder is "archive".
    single = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4
    buf = io.BytesIO()
    torch.save(single, buf)
    with open(os.path.join(OUT, "single.pt"), "wb") as f:
        f.write(buf.getvalue())
    assert torch.equal(torch.load(os.path.join(OUT, "single.pt")), single)
    write_expected(os.path.join(OUT, "single.expected.safetensors"), [("tensor", single)])

    # The same archive as single.pt rewritten by other zip writers: Info-ZIP forcing zip64 (zip64
    # extra fields holding only the sizes flagged 0xffffffff, a zip64 end record), and Python's
    # zipfile streaming to an unseekable file (sizes and CRC in data descriptors after the data).
    single_members = members_of(os.path.join(OUT, "single.pt"))
    if shutil.which("zip"):
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in single_members:
                os.makedirs(os.path.join(tmp, os.path.dirname(name)), exist_ok=True)
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
                os.utime(os.path.join(tmp, name), (1577836800, 1577836800))  # reproducible
            target = os.path.abspath(os.path.join(OUT, "zip64.pt"))
            if os.path.exists(target):
                os.remove(target)
            subprocess.run(["zip", "-q", "-0", "-fz", "-X", "-D", target] +
                           [n for n, _ in single_members], cwd=tmp, check=True)
        assert torch.equal(torch.load(os.path.join(OUT, "zip64.pt")), single)
    else:
        print("Info-ZIP 'zip' not found: kept the existing zip64.pt")
    with open(os.path.join(OUT, "streamed.pt"), "wb") as raw:
        with zipfile.ZipFile(Unseekable(raw), "w", zipfile.ZIP_STORED) as z:
            for name, data in single_members:
                with z.open(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), "w") as w:
                    w.write(data)
    assert torch.equal(torch.load(os.path.join(OUT, "streamed.pt")), single)

    write_pickles()

    # ---- invalid on purpose ----
    # The legacy (pre-1.6) format: a bare pickle stream, no zip.
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "bad_legacy.pth"),
               _use_new_zipfile_serialization=False)

    # Every entry deflated. torch reads it; biqa only reads stored entries (zero-copy).
    plain = members_of(os.path.join(OUT, "plain.pth"))
    path = os.path.join(OUT, "bad_compressed.pth")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in plain:
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)
    torch.load(path)

    # A storage entry removed from the archive.
    path = os.path.join(OUT, "bad_missing_storage.pth")
    stored_zip(path, [(n, d) for n, d in plain if n != "plain/data/3"])
    must_fail_in_torch(path)

    # A protocol 0 (text) pickle: outside the opcodes biqa reads.
    path = os.path.join(OUT, "bad_opcode.pth")
    stored_zip(path, [("bad_opcode/data.pkl", pickle.dumps({"w": 1}, protocol=0)),
                      ("bad_opcode/version", b"3\n")])

    # A view reaching past the end of its storage (4 floats; the view needs element 4).
    four = struct.pack("<4f", 1, 2, 3, 4)
    path = crafted("bad_view.pth", collections.OrderedDict(
        [("ok", FakeTensor(FakeStorage(torch.FloatStorage, "0", 4), 1, [3], [1])),
         ("past_end", FakeTensor(FakeStorage(torch.FloatStorage, "0", 4), 1, [2, 2], [2, 1]))]),
        {"0": four})
    must_fail_in_torch(path)

    # The same crafting, valid: shows torch accepts what FakeTensor writes.
    path = crafted("crafted_ok.pth", collections.OrderedDict(
        [("x", FakeTensor(FakeStorage(torch.FloatStorage, "0", 4), 1, [3], [1]))]), {"0": four})
    assert torch.equal(torch.load(path)["x"], torch.tensor([2.0, 3.0, 4.0]))

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
