"""The resize fixtures @diad/pipeline is tested against (packages/pipeline/test/fixtures/resize) are still what the
tools' own image loading (tools.diad.data.load_rgb, Pillow bilinear) makes: one resampling definition."""

import importlib.util
import os

import numpy as np
from PIL import Image

from tools.diad.data import load_rgb

from .helpers import REPO

SCRIPT = os.path.join(REPO, "packages", "pipeline", "scripts", "make-resize-fixtures.py")
FIXTURES = os.path.join(REPO, "packages", "pipeline", "test", "fixtures", "resize")


def test_the_script_reproduces_the_committed_fixtures(tmp_path):
    spec = importlib.util.spec_from_file_location("make_resize_fixtures", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--out", str(tmp_path)])
    made = sorted(os.listdir(tmp_path))
    assert made == sorted(os.listdir(FIXTURES))
    for name in made:
        if name.endswith((".u8", ".f32")):
            assert (tmp_path / name).read_bytes() == open(os.path.join(FIXTURES, name), "rb").read(), name


def test_sixteen_bit_grey_keeps_its_high_byte_instead_of_clipping(tmp_path):
    a = np.array([[0, 255, 256, 40000, 65535]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    assert load_rgb(str(tmp_path / "g16.png"), 5, 1)[0, :, 0].tolist() == [0, 0, 1, 156, 255]


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((2, 3, 3), np.uint8)
    a[0, 0] = 255
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "o.jpg", exif=exif, quality=100)
    rgb = load_rgb(str(tmp_path / "o.jpg"), 2, 3)
    assert rgb.shape == (3, 2, 3)
