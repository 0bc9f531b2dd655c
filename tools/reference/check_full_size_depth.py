"""Full-size parity and timing of Depth Anything V1 in biqa against the DGIQA authors' code (not CI).

Builds the authors' DPT_DINOv2 (vits and/or vitl, the published layouts) with seeded random weights
(LayerNorm affines, LayerScale gammas, biases, tokens and position embeddings randomized), writes the
state_dict as safetensors under the published keys, and compares:
  1. `biqa infer --model depth-anything` on ImageNet-normalised inputs of 518x518 (the stored
     position grid) and 518x686 (resampled): the depth map and the four encoder taps;
  2. `biqa depth` on a 768x1024 8-bit picture against depth_utils.DepthGenerator.__call__ with the
     same random model: the uint8 depth image (values that differ, and by how much) and the float
     map before scaling.
Prints max relative errors (max|biqa - ref| / max|ref|) and times: the PyTorch forward, the biqa
process (start, weight load, forward, write) and biqa depth's own network time.

  git -C <mirror of uf-robopi/DGIQA> archive HEAD | tar -x -C /tmp/dgiqa-src
  /work/refvenv/bin/python tools/reference/check_full_size_depth.py --biqa build-depth/tools/biqa/biqa \
      [--encoders vits vitl] [--threads 1 2]
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_depth_fixtures import import_authors, randomize_all  # noqa: E402
from make_op_fixtures import gen, save  # noqa: E402

LAYOUTS = {"vits": (64, [48, 96, 192, 384]), "vitb": (128, [96, 192, 384, 768]), "vitl": (256, [256, 512, 1024, 1024])}


def route_gemms_through_onednn() -> None:
    """This machine's PyTorch (Debian 1.13) runs matrix products on the reference BLAS (BLAS_INFO=
    generic), about 1 GFLOP/s, while its convolutions use oneDNN. For the full-size runs, F.linear and
    the 4-d `@` of the attention are therefore computed as 1x1 convolutions (the same float32 sums in
    another order). Pass --plain-reference to keep PyTorch's own kernels."""
    import torch.nn.functional as F
    conv2d = F.conv2d

    def linear(x, weight, bias=None):
        lead, k = x.shape[:-1], x.shape[-1]
        rows = x.reshape(-1, k)
        y = conv2d(rows.t().reshape(1, k, -1, 1), weight.reshape(weight.shape[0], k, 1, 1), bias)
        return y.reshape(weight.shape[0], -1).t().reshape(*lead, weight.shape[0])

    plain_matmul = torch.Tensor.__matmul__

    def matmul(a, b):
        if a.dim() != 4 or b.dim() != 4 or a.shape[:2] != b.shape[:2]:
            return plain_matmul(a, b)
        n, k, m = a.shape[2], a.shape[3], b.shape[3]
        out = [conv2d(b[i, j].reshape(1, k, m, 1), a[i, j].reshape(n, k, 1, 1)).reshape(n, m)
               for i in range(a.shape[0]) for j in range(a.shape[1])]
        return torch.stack(out).reshape(a.shape[0], a.shape[1], n, m)

    F.linear = linear
    torch.Tensor.__matmul__ = matmul


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def timed(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--biqa", default="build/tools/biqa/biqa")
    ap.add_argument("--src", default="/tmp/dgiqa-src")
    ap.add_argument("--encoders", nargs="+", default=["vits", "vitl"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--sizes", nargs="+", default=["518x518", "518x686"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--plain-reference", action="store_true", help="PyTorch's own GEMM kernels (slow here)")
    args = ap.parse_args()
    if not args.plain_reference:
        route_gemms_through_onednn()
    biqa = str(pathlib.Path(args.biqa).resolve())
    A = import_authors(pathlib.Path(args.src).resolve())
    print(f"torch {torch.__version__}; threads {args.threads}; GEMMs {'PyTorch' if args.plain_reference else 'oneDNN'}; "
          "the machine may be shared, times are indicative")

    for enc in args.encoders:
        features, oc = LAYOUTS[enc]
        torch.manual_seed(0)
        net = A.dpt.DPT_DINOv2(encoder=enc, features=features, out_channels=oc).eval()
        g = gen(4242)
        randomize_all(net, g)
        with torch.no_grad():
            net.depth_head.scratch.output_conv2[2].bias.fill_(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            weights = tmp / f"depth_anything_{enc}.safetensors"
            save(weights, dict(net.state_dict()), {})
            for size in args.sizes:
                h, w = (int(v) for v in size.split("x"))
                x = torch.randn(1, 3, h, w, generator=g)
                np.save(tmp / "x.npy", x.numpy())
                for threads in args.threads:
                    torch.set_num_threads(threads)
                    with torch.no_grad():
                        ref, torch_s = timed(lambda: net(x), args.repeat)
                        taps = net.pretrained.get_intermediate_layers(x, 4, return_class_token=True)
                    cmd = [biqa, "infer", "--model", "depth-anything", "--weights", str(weights), "--input",
                           str(tmp / "x.npy"), "--output", str(tmp / "y.safetensors"), "--threads", str(threads)]
                    _, biqa_s = timed(lambda: subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL), args.repeat)
                    from safetensors.numpy import load_file
                    y = load_file(str(tmp / "y.safetensors"))
                    err_depth = rel(y["depth"], ref.numpy())
                    err_taps = max(max(rel(y[f"block{i}"], t[0].numpy()), rel(y[f"cls{i}"], t[1].numpy()))
                                   for i, t in enumerate(taps))
                    print(f"{enc} {h}x{w} threads={threads}: depth rel err {err_depth:.3g}, taps rel err "
                          f"{err_taps:.3g}; torch forward {torch_s:.2f} s, biqa infer process {biqa_s:.2f} s")

            # DGIQA's depth image of a 768x1024 picture (network input 518x686).
            rng = np.random.default_rng(7)
            yy, xx = np.mgrid[0:768, 0:1024]
            base = 127 + 90 * np.sin(yy[..., None] * 0.013 + xx[..., None] * 0.009 + np.arange(3) * 1.3)
            rgb = np.clip(base + rng.normal(0, 12, (768, 1024, 3)), 0, 255).astype(np.uint8)
            import cv2
            cv2.imwrite(str(tmp / "in.png"), rgb[..., ::-1])
            A.depth_utils.DepthAnything.from_pretrained = classmethod(lambda cls, _n: net)
            generator = A.depth_utils.DepthGenerator(enc, torch.device("cpu"))
            for threads in args.threads:
                torch.set_num_threads(threads)
                ref_img, gen_s = timed(lambda: generator(np.ascontiguousarray(rgb[..., ::-1])), args.repeat)
                with torch.no_grad():
                    inp = generator.transform({"image": rgb / 255.0})["image"]
                    d = net(torch.from_numpy(inp)[None])
                    ref_map = torch.nn.functional.interpolate(d[None], (768, 1024), mode="bilinear",
                                                              align_corners=False)[0, 0].numpy()
                cmd = [biqa, "depth", "--weights", str(weights), "--threads", str(threads), str(tmp / "in.png"),
                       str(tmp / "out.png"), "--raw", str(tmp / "map.npy")]
                res = subprocess.run(cmd, check=True, capture_output=True, text=True)
                net_s = float(re.search(r"([0-9.]+) s on", res.stderr).group(1))
                out = cv2.imread(str(tmp / "out.png"))[..., ::-1]
                diff = np.abs(out.astype(int) - ref_img.astype(int))
                print(f"{enc} depth image 768x1024 threads={threads}: float map rel err "
                      f"{rel(np.load(tmp / 'map.npy'), ref_map):.3g}; uint8 values that differ "
                      f"{int((diff != 0).sum())} of {diff.size} ({100.0 * (diff != 0).mean():.4f}%), max {int(diff.max())}; "
                      f"DepthGenerator {gen_s:.2f} s, biqa depth network+resizes {net_s:.2f} s")


if __name__ == "__main__":
    main()
