"""Small JPEGs with each EXIF orientation and what OpenCV's imread makes of them, the reference
for include/biqa/io/exif.hpp (tests/io/test_exif.cpp).

Writes tests/data/io/exif/orient_<n>.jpg (n = 1..8, EXIF written by PIL 9.4, big-endian "MM"),
orient_6_ii.jpg (little-endian "II" EXIF built by hand, with an unrelated tag before Orientation) and <name>_cv2.npy: cv2.imread's result
converted to RGB (H×W×3 uint8), i.e. the upright image. The stored picture is 24×16 with four
flat quadrants (top-left red, top-right green, bottom-left blue, bottom-right white) so that the
orientation can be read from coarse colours whatever the JPEG decoder. Needs PIL, numpy and
opencv-python-headless (reference venv).
"""
import os
import struct

import cv2
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "io", "exif")
W, H = 24, 16
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}


def picture():
    a = np.zeros((H, W, 3), np.uint8)
    a[: H // 2, : W // 2] = COLOURS["red"]
    a[: H // 2, W // 2 :] = COLOURS["green"]
    a[H // 2 :, : W // 2] = COLOURS["blue"]
    a[H // 2 :, W // 2 :] = COLOURS["white"]
    return Image.fromarray(a)


def exif_ii(orientation):
    # TIFF header (little endian), IFD0 at offset 8 with two entries: ImageWidth (LONG) and
    # Orientation (SHORT, count 1, value in the first two bytes of the value field)
    tiff = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0100, 4, 1, W)
    tiff += struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + tiff


def save(name, exif_bytes):
    path = os.path.join(OUT, name + ".jpg")
    picture().save(path, quality=95, subsampling=0, exif=exif_bytes)
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    np.save(os.path.join(OUT, name + "_cv2.npy"), np.ascontiguousarray(bgr[:, :, ::-1]))
    return bgr.shape


def main():
    os.makedirs(OUT, exist_ok=True)
    for n in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = n
        print(n, save(f"orient_{n}", exif.tobytes()))
    print("6 II", save("orient_6_ii", exif_ii(6)))


if __name__ == "__main__":
    main()
