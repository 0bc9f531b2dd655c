"""The README's picture: eight of the 25 KADID-10k distortions at levels 1-5 on a drawn scene.

    python tools/reference/make_readme_picture.py build/tools/biqa/biqa docs/images/distortions.jpg

The scene is drawn here (no third-party photo), `biqa distort --contact-sheet` distorts it, and the
rows gaussian_blur, color_diffusion, jpeg, white_noise, darken, pixelate, color_block and
contrast_change are kept (each row: the original, then levels 1 to 5). Needs numpy and Pillow.
"""

import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

ROWS = [1, 4, 10, 11, 17, 21, 23, 25]  # distortion numbers, as `biqa distort --list` orders them


def scene(h=120, w=160):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    t = y / h
    img[..., 0], img[..., 1], img[..., 2] = 0.35 + 0.4 * t, 0.55 + 0.3 * t, 0.95 - 0.2 * t  # sky
    sun = np.clip(1 - (np.hypot(x - 120, y - 30) - 12) / 3, 0, 1)[..., None]
    img = img * (1 - sun) + np.array([1.0, 0.9, 0.5]) * sun
    hills = y > 70 + 10 * np.sin(x / 18.0) + 6 * np.sin(x / 7.0)
    img[hills] = np.stack([0.2 + 0.1 * np.sin(x / 5) * np.cos(y / 4), 0.5 + 0.15 * np.sin(x / 9 + y / 6),
                           0.2 + 0.05 * np.cos(y / 3)], -1)[hills]
    field = y > 95 + 6 * np.sin(x / 11.0 + 1)
    checker = (x // 6 + y // 6) % 2
    img[field] = np.stack([0.45 + 0.1 * checker, 0.33 + 0.05 * checker, 0.2 + 0 * x], -1)[field]
    img[(x > 30) & (x < 60) & (y > 60) & (y < 88)] = [0.85, 0.8, 0.7]  # house
    img[(y > 45) & (y <= 60) & (np.abs(x - 45) < (y - 45) * 1.1)] = [0.6, 0.15, 0.1]  # roof
    img[(x > 36) & (x < 44) & (y > 66) & (y < 74)] = [0.2, 0.3, 0.5]  # window
    img[(x > 48) & (x < 55) & (y > 72) & (y < 88)] = [0.35, 0.2, 0.1]  # door
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def main():
    biqa, out = sys.argv[1], pathlib.Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        src, sheet_path = pathlib.Path(tmp) / "scene.png", pathlib.Path(tmp) / "sheet.png"
        scene().save(src)
        subprocess.run([biqa, "distort", "--contact-sheet", str(src), str(sheet_path)], check=True)
        sheet = Image.open(sheet_path).convert("RGB")
        row_h = (sheet.size[1] + 2) // 25  # 25 rows separated by 2 px
        picked = Image.new("RGB", (sheet.size[0], len(ROWS) * row_h - 2), (255, 255, 255))
        for k, r in enumerate(ROWS):
            picked.paste(sheet.crop((0, (r - 1) * row_h, sheet.size[0], (r - 1) * row_h + row_h - 2)), (0, k * row_h))
    picked = picked.resize((640, round(picked.size[1] * 640 / picked.size[0])), Image.LANCZOS)
    picked.save(out, quality=88)


if __name__ == "__main__":
    main()
