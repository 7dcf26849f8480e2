"""Writes packages/pipeline/test/fixtures/resize: small images of odd sizes and what the Python tools make of them
(tools.diad.data.load_rgb: Pillow's bilinear resize; alpha dropped), plus float planes resized by Pillow in mode "F".
resize.test.ts checks @diad/pipeline's resizeLikePil and decoder against them; tools/tests/test_resize_fixtures.py
checks that this script still reproduces the committed files.

    /usr/bin/python3 packages/pipeline/scripts/make-resize-fixtures.py [--out DIR]
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)
from tools.diad.data import load_rgb  # noqa: E402

DEFAULT_OUT = os.path.join(REPO, "packages", "pipeline", "test", "fixtures", "resize")


def smooth(h, w, ch, seed):
    """A smooth pattern with some texture (compresses small, exercises every weight)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = [127 + 90 * np.sin(x / (2 + c) + y / (3 + c)) + 30 * rng.standard_normal((h, w)) for c in range(ch)]
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def make_inputs(out):
    Image.fromarray(smooth(31, 45, 3, 1)).save(os.path.join(out, "rgb-45x31.png"))
    Image.fromarray(smooth(17, 23, 1, 2)[:, :, 0], "L").save(os.path.join(out, "grey-23x17.png"))
    rng = np.random.default_rng(3)
    g16 = (rng.integers(0, 65536, (13, 19))).astype(np.uint16)
    Image.fromarray(g16).save(os.path.join(out, "grey16-19x13.png"))  # mode I;16
    Image.fromarray(smooth(29, 41, 3, 4)).save(os.path.join(out, "photo-41x29.jpg"), quality=90)
    Image.fromarray(smooth(15, 21, 4, 6), "RGBA").save(os.path.join(out, "rgba-21x15.png"))
    return {"rgb-45x31.png": (45, 31), "grey-23x17.png": (23, 17), "grey16-19x13.png": (19, 13),
            "photo-41x29.jpg": (41, 29), "rgba-21x15.png": (21, 15)}  # fmt: skip


# (input, output width, output height): shrinking, enlarging, both at once, odd factors, identity
CASES = [
    ("rgb-45x31.png", 16, 16), ("rgb-45x31.png", 7, 5), ("rgb-45x31.png", 97, 64), ("rgb-45x31.png", 60, 20),
    ("rgb-45x31.png", 45, 31), ("rgb-45x31.png", 45, 12),
    ("grey-23x17.png", 11, 9), ("grey-23x17.png", 40, 33),
    ("grey16-19x13.png", 8, 8), ("grey16-19x13.png", 19, 13),
    ("photo-41x29.jpg", 16, 16), ("photo-41x29.jpg", 41, 29), ("photo-41x29.jpg", 64, 50),
    ("rgba-21x15.png", 8, 8), ("rgba-21x15.png", 21, 15),
]  # fmt: skip

FLOAT_CASES = [((13, 11), (5, 7)), ((13, 11), (30, 20)), ((13, 11), (13, 4))]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sizes = make_inputs(args.out)
    cases = []
    for name, w, h in CASES:
        rgb = load_rgb(os.path.join(args.out, name), w, h)
        ref = f"{os.path.splitext(name)[0]}-to-{w}x{h}.u8"
        rgb.tofile(os.path.join(args.out, ref))
        cases.append({"input": name, "inputWidth": sizes[name][0], "inputHeight": sizes[name][1],
                      "width": w, "height": h, "rgb": ref})  # fmt: skip
    floats = []
    rng = np.random.default_rng(5)
    for (w, h), (ow, oh) in FLOAT_CASES:
        src = (rng.standard_normal((h, w)) * 3).astype(np.float32)
        out = np.asarray(Image.fromarray(src, "F").resize((ow, oh), Image.BILINEAR), dtype=np.float32)
        base = f"float-{w}x{h}-to-{ow}x{oh}"
        src.astype("<f4").tofile(os.path.join(args.out, base + ".in.f32"))
        out.astype("<f4").tofile(os.path.join(args.out, base + ".out.f32"))
        floats.append({"inputWidth": w, "inputHeight": h, "width": ow, "height": oh, "input": base + ".in.f32",
                       "output": base + ".out.f32"})  # fmt: skip
    index = {"made by": "packages/pipeline/scripts/make-resize-fixtures.py (tools.diad.data.load_rgb, Pillow)",
             "cases": cases, "float": floats}  # fmt: skip
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
