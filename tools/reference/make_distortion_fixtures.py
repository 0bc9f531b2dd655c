"""Independent references for the closed-form distortion checks (tests/distortions/).

Everything here is written from the published definitions with numpy/scipy/PIL/colorsys, not from
biqa's code: MATLAB fspecial('gaussian'/'disk') kernels applied with scipy.ndimage.correlate
(mode='nearest' = MATLAB 'replicate'), CIE Lab (sRGB, D65), HSV via colorsys, BT.601 studio YCbCr,
MATLAB spline through scipy.interpolate.CubicSpline (not-a-knot) and numpy.polyfit (3 points),
multi-level Otsu by exhaustive dynamic programming, JPEG through PIL (libjpeg, 4:2:0), and the DSM.
Run with /usr/bin/python3 (Debian numpy, scipy, PIL). Writes tests/data/distortions/.
"""
import colorsys
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.interpolate import CubicSpline

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "distortions"


def png8(a: np.ndarray) -> bytes:
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(a.shape[0]))
    ihdr = struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_image(h=32, w=40, seed=0):
    """Smooth gradients, a disc, a rectangle and mild noise: enough structure for every type."""
    y, x = np.mgrid[0:h, 0:w]
    y = y / h
    x = x / w
    img = np.stack([0.15 + 0.7 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * np.sin(9 * x + 6 * y)], -1)
    img[((x - 0.3) ** 2 + (y - 0.4) ** 2) < 0.04] = [0.9, 0.25, 0.1]
    img[(abs(x - 0.72) < 0.12) & (abs(y - 0.6) < 0.22)] = [0.1, 0.15, 0.65]
    img += 0.03 * np.random.default_rng(seed).standard_normal(img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def gaussian_kernel(sigma):
    n = 2 * int(np.ceil(2 * sigma)) + 1
    r = np.arange(n) - (n - 1) / 2
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    k[k < np.finfo(float).eps * k.max()] = 0
    return k / k.sum()


def disk_kernel(rad):
    """MATLAB fspecial('disk'): each pixel holds the area of the unit square inside the circle."""
    crad = int(np.ceil(rad - 0.5))
    x, y = np.meshgrid(np.arange(-crad, crad + 1), np.arange(-crad, crad + 1))
    mx = np.maximum(abs(x), abs(y)).astype(float)
    mn = np.minimum(abs(x), abs(y)).astype(float)
    r2 = rad * rad
    with np.errstate(invalid="ignore"):
        m1 = np.where(r2 < (mx + 0.5) ** 2 + (mn - 0.5) ** 2, mn - 0.5, np.sqrt(np.maximum(r2 - (mx + 0.5) ** 2, 0)))
        m2 = np.where(r2 > (mx - 0.5) ** 2 + (mn + 0.5) ** 2, mn + 0.5, np.sqrt(np.maximum(r2 - (mx - 0.5) ** 2, 0)))

    def prim(m):  # ∫_0^m sqrt(r² − t²) dt
        a = np.arcsin(np.clip(m / rad, -1, 1))
        return r2 * (0.5 * a + 0.25 * np.sin(2 * a))

    edge = ((r2 < (mx + 0.5) ** 2 + (mn + 0.5) ** 2) & (r2 > (mx - 0.5) ** 2 + (mn - 0.5) ** 2)) | (
        (mn == 0) & (mx - 0.5 < rad) & (mx + 0.5 >= rad))
    s = np.where(edge, prim(m2) - prim(m1) - (mx - 0.5) * (m2 - m1) + (m1 - mn + 0.5), 0.0)
    s = s + (((mx + 0.5) ** 2 + (mn + 0.5) ** 2) < r2)
    c = crad
    s[c, c] = min(np.pi * r2, np.pi / 2)
    if crad > 0 and rad > crad - 0.5 and r2 < (crad - 0.5) ** 2 + 0.25:
        m = np.sqrt(r2 - (crad - 0.5) ** 2)
        sg0 = 2 * (prim(np.array(m)) - m * (crad - 0.5))
        for (a, b), (a2, b2) in [((2 * c, c), (2 * c - 1, c)), ((c, 2 * c), (c, 2 * c - 1)), ((c, 0), (c, 1)), ((0, c), (1, c))]:
            s[a, b] = sg0
            s[a2, b2] -= sg0
    s[c, c] = min(s[c, c], 1)
    return s / s.sum()


def motion_kernel(length, theta):
    """MATLAB fspecial('motion'): a 1-px anti-aliased segment; built on one quadrant and mirrored."""
    length = max(1, length)
    half = (length - 1) / 2
    phi = np.mod(theta, 180) / 180 * np.pi
    c, s = np.cos(phi), np.sin(phi)
    xsign = int(np.sign(c))
    eps = np.sqrt(np.finfo(float).eps)
    sx = int(np.fix(half * c + xsign - length * eps))
    sy = int(np.fix(half * s + 1 - length * eps))
    x, y = np.meshgrid(np.arange(0, sx + xsign, xsign) if xsign else np.array([0]), np.arange(0, sy + 1))
    x = x.astype(float)
    y = y.astype(float)
    dist = y * c - x * s
    rad = np.hypot(x, y)
    last = (rad >= half) & (abs(dist) <= 1)
    x2last = half - abs((x[last] + dist[last] * s) / c)
    dist[last] = np.sqrt(dist[last] ** 2 + x2last ** 2)
    dist = np.maximum(1 + eps - abs(dist), 0)
    ny, nx = dist.shape
    h = np.zeros((2 * ny - 1, 2 * nx - 1))
    h[:ny, :nx] = np.rot90(dist, 2)
    h[ny - 1:, nx - 1:] = dist
    h = h / (h.sum() + eps * length * length)
    return np.flipud(h) if c > 0 else h


def filt(img, k):
    return np.stack([ndimage.correlate(img[..., c], k, mode="nearest") for c in range(3)], -1)


D65 = np.array([0.9504, 1.0, 1.0888])
M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def rgb2lab(rgb):
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = lin @ M.T / D65
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab2rgb(lab):
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    t = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * D65
    lin = t @ np.linalg.inv(M).T
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.abs(lin) ** (1 / 2.4) * np.sign(lin) - 0.055)


def hsv_map(img, fn):
    return np.array([[fn(*px) for px in row] for row in img])


def ycbcr(rgb):
    A = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
    return (rgb @ A.T + [16, 128, 128]) / 255


def multithresh_dp(values, n):
    """Exact multi-level Otsu on a 256-bin histogram of [min, max]: maximise Σ S_k² / W_k."""
    lo, hi = values.min(), values.max()
    b = np.clip(np.floor((values - lo) / (hi - lo) * 255 + 0.5 + 1e-6), 0, 255).astype(int).ravel()  # half up
    cnt = np.bincount(b, minlength=256).astype(float)
    C = np.concatenate([[0], np.cumsum(cnt)])
    S = np.concatenate([[0], np.cumsum(cnt * np.arange(256))])
    K = n + 1
    best = np.full((K + 1, 257), -np.inf)
    arg = np.zeros((K + 1, 257), int)
    best[0, 0] = 0
    for k in range(1, K + 1):
        for e in range(k, 256 - (K - k) + 1):
            a = np.arange(k - 1, e)
            c = C[e] - C[a]
            s = S[e] - S[a]
            g = best[k - 1, a] + np.where(c > 0, s * s / np.maximum(c, 1), 0)
            g[~np.isfinite(best[k - 1, a])] = -np.inf
            i = int(np.argmax(g))
            best[k, e], arg[k, e] = g[i], a[i]
    ends, e = [], 256
    for k in range(K, 0, -1):
        ends.append(e)
        e = arg[k, e]
    ends = ends[::-1]
    occupied = np.flatnonzero(cnt)
    t = []
    for k in range(n):  # midway between the occupied bins on either side of the boundary
        below = occupied[occupied < ends[k]].max(initial=0)
        above = occupied[occupied >= ends[k]].min(initial=255)
        t.append(lo + (below + above) / 2 / 255 * (hi - lo))
    return np.array(t)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    u8 = test_image()
    (OUT / "input.png").write_bytes(png8(u8))
    img = u8.astype(np.float64) / 255
    f32 = lambda a: np.asarray(a, dtype=np.float32)

    np.save(OUT / "gaussian_blur_s2.npy", f32(filt(img, gaussian_kernel(2.0))))
    np.save(OUT / "gaussian_blur_s0p5.npy", f32(filt(img, gaussian_kernel(0.5))))
    np.save(OUT / "disk_r1.npy", f32(disk_kernel(1)))
    np.save(OUT / "disk_r4.npy", f32(disk_kernel(4)))
    np.save(OUT / "lens_blur_r4.npy", f32(filt(img, disk_kernel(4))))
    np.save(OUT / "lens_blur_r2.npy", f32(filt(img, disk_kernel(2))))
    for length, theta in [(9, 30), (10, 135), (4, 0), (6, 90)]:
        np.save(OUT / f"motion_{length}_{theta}.npy", f32(motion_kernel(length, theta)))
    np.save(OUT / "motion_blur_10_135.npy", f32(filt(img, motion_kernel(10, 135))))

    lab = rgb2lab(img)
    np.save(OUT / "lab.npy", f32(lab))
    sat2 = rgb2lab(img)
    sat2[..., 1:] *= 3
    np.save(OUT / "color_saturation_2_s3.npy", f32(np.clip(lab2rgb(sat2), 0, 1)))
    np.save(OUT / "hsv.npy", f32(hsv_map(img, colorsys.rgb_to_hsv)))
    for name, fac in [("0p4", 0.4), ("m0p4", -0.4)]:
        hsv = hsv_map(img, colorsys.rgb_to_hsv)
        hsv[..., 1] *= fac
        np.save(OUT / f"color_saturation_1_{name}.npy", f32(hsv_map(hsv, colorsys.hsv_to_rgb)))
    np.save(OUT / "ycbcr.npy", f32(ycbcr(img)))

    t = np.linspace(0, 1, 101)
    nak = CubicSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.1, 0.5, 0.9, 1], bc_type="not-a-knot")
    par = np.polyfit([0, 0.5, 1], [0, 0.8, 1], 2)
    np.save(OUT / "spline_curves.npy", f32(np.stack([nak(t), np.polyval(par, t)])))
    a = -0.4  # contrast_change level 4
    cc = CubicSpline([0, 0.3, 0.5, 0.7, 1], [0, 0.25 - a / 4, 0.5, 0.75 + a / 4, 1], bc_type="not-a-knot")
    np.save(OUT / "contrast_change_m0p4.npy", f32(np.clip(cc(img), 0, 1)))
    dk = np.polyfit([0, 0.5, 1], [0, 0.5 - 0.2 / 2, 1], 2)  # darken level 3
    np.save(OUT / "darken_0p2.npy", f32(np.clip(np.polyval(dk, img), 0, 1)))

    for n in (7, 20):
        th = multithresh_dp(img, n)
        np.save(OUT / f"multithresh_{n}.npy", f32(th))
        values = np.concatenate([[0], th[1:], [1]])
        np.save(OUT / f"quantization_{n}.npy", f32(values[np.searchsorted(th, img, side="left")]))

    for q in (43, 24, 4):
        import io
        buf = io.BytesIO()
        Image.fromarray(u8).save(buf, format="JPEG", quality=q, subsampling=2)
        buf.seek(0)
        np.save(OUT / f"jpeg_q{q}.npy", np.asarray(Image.open(buf).convert("RGB")))

    # DSM of the q=24 JPEG against the input, pool 8.
    dist = np.load(OUT / "jpeg_q24.npy").astype(np.float64) / 255
    d = np.abs(dist - img).mean(-1)
    h, w = d.shape[0] // 8, d.shape[1] // 8
    np.save(OUT / "dsm_jpeg_q24_p8.npy", f32(d[: h * 8, : w * 8].reshape(h, 8, w, 8).mean((1, 3))))


if __name__ == "__main__":
    main()
