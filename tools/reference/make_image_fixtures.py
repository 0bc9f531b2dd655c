"""Writes small image fixtures that stb_image_write cannot produce (16-bit PNG).

The PNG is assembled by hand (zlib + CRC) so no imaging library is needed; the expected float
values are written beside it as .npy (value / 65535, H x W x 3)."""
import pathlib
import struct
import zlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "io"


def chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png16(pixels: np.ndarray, colour_type: int) -> bytes:
    h, w = pixels.shape[:2]
    raw = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 65536, size=(5, 7, 3), dtype=np.uint16)
    (OUT / "rgb16.png").write_bytes(png16(rgb, 2))
    np.save(OUT / "rgb16_expected.npy", (rgb.astype(np.float64) / 65535.0).astype(np.float32))
    grey = rng.integers(0, 65536, size=(4, 3), dtype=np.uint16)
    (OUT / "grey16.png").write_bytes(png16(grey, 0))
    np.save(OUT / "grey16_expected.npy",
            np.repeat((grey.astype(np.float64) / 65535.0).astype(np.float32)[..., None], 3, axis=2))
    # .npy files of every dtype the reader supports, for the npy tests.
    np.save(OUT / "f64_2x3.npy", np.arange(6, dtype=np.float64).reshape(2, 3) / 4)
    np.save(OUT / "i64_4.npy", np.array([-3, 0, 7, 1 << 40], dtype=np.int64))
    np.save(OUT / "u8_2x2x2.npy", np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
    np.save(OUT / "f32_scalar.npy", np.array(2.5, dtype=np.float32))
    np.save(OUT / "f32_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))


if __name__ == "__main__":
    main()
