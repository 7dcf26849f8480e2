"""Writes two camera-sized frames for the golden vectors that cover preprocessing (not at any model size):
a 640x480 PNG and a 720x477 JPEG (quality 90, 4:2:0), a textured part on a background with a scratch.

    /usr/bin/python3 packages/pipeline/scripts/make-camera-frames.py --out /tmp/frames
"""

import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def frame(w, h, seed, noise):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 70 + 40 * np.sin(x / 23.0) * np.cos(y / 31.0)
    rgb = np.stack([base + 20, base + 5, base - 10], -1)
    cx, cy, r = w * 0.5, h * 0.5, min(w, h) * 0.33
    part = (x - cx) ** 2 + (y - cy) ** 2 < r * r
    rgb[part] = (np.stack([170 + 25 * np.sin(x / 5.0), 160 + 25 * np.sin(y / 7.0), 150 + 0 * x], -1))[part]
    rgb += noise * rng.standard_normal(rgb.shape)
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    d.line([(cx - r * 0.5, cy - r * 0.2), (cx + r * 0.3, cy + r * 0.25)], fill=(40, 30, 30), width=3)
    return im


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    frame(640, 480, 1, 0.0).save(os.path.join(args.out, "camera-640x480.png"), optimize=True)
    frame(720, 477, 2, 4.0).save(os.path.join(args.out, "camera-720x477.jpg"), quality=90)


if __name__ == "__main__":
    main()
