"""MVTec-AD layout datasets: <root>/<category>/{train/good, test/<kind>, ground_truth/<kind>/*_mask.png}."""

import os
import random

import numpy as np
import torch
from PIL import Image, ImageOps

from .features import IMAGENET_MEAN, IMAGENET_STD

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp")


def list_categories(root):
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--data: no directory {root}")
    cats = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d, "train", "good")))
    if not cats:
        raise FileNotFoundError(f"--data: no <category>/train/good folders under {root}")
    return cats


def _images(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXT))


def train_split(root, categories, holdout_fraction=0.1, seed=0):
    """Returns (train, held_out) lists of (category, path); held-out normals are for calibration."""
    train, held = [], []
    for cat in categories:
        files = _images(os.path.join(root, cat, "train", "good"))
        if not files:
            raise FileNotFoundError(f"--data: no images in {os.path.join(root, cat, 'train', 'good')}")
        random.Random(f"{seed}:{cat}").shuffle(files)
        n_held = int(round(len(files) * holdout_fraction)) if len(files) >= 10 else 0
        held += [(cat, f) for f in files[:n_held]]
        train += [(cat, f) for f in files[n_held:]]
    return train, held


def test_split(root, category):
    """(path, label, mask_path or None) for every test image of a category; label 0 = good."""
    out = []
    test_dir = os.path.join(root, category, "test")
    for kind in sorted(os.listdir(test_dir)) if os.path.isdir(test_dir) else []:
        for path in _images(os.path.join(test_dir, kind)):
            mask = None
            if kind != "good":
                stem = os.path.splitext(os.path.basename(path))[0]
                cand = os.path.join(root, category, "ground_truth", kind, stem + "_mask.png")
                mask = cand if os.path.exists(cand) else None
            out.append((path, 0 if kind == "good" else 1, mask))
    return out


def to_rgb8(im):
    """A decoded PIL image as 8-bit RGB, the way every tool and @diad/pipeline read frames: EXIF orientation
    applied; 16-bit samples reduced to their high byte (Pillow already does this for 16-bit RGB; its own
    conversion of 16-bit grey would clip at 255 instead); grey replicated; alpha dropped."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im).astype(np.int64)
        im = Image.fromarray((np.clip(a, 0, 65535) >> 8).astype(np.uint8), "L")
    return im.convert("RGB")


def load_rgb(path, width, height=None):
    """8-bit RGB (H×W×3 uint8) resized to width × height with Pillow's bilinear filter (antialiased when
    shrinking), the one resampling definition of training, export, evaluation and serving (docs/bundle.md)."""
    height = height or width
    try:
        with Image.open(path) as im:
            im = to_rgb8(im)
            if im.size != (width, height):
                im = im.resize((width, height), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).copy()
    except (OSError, ValueError) as e:
        raise ValueError(f"image {path}: cannot be read ({e})") from e


def load_image(path, size):
    """RGB, bilinear resize to size x size (load_rgb), /255, ImageNet normalised; CHW float32 tensor."""
    arr = load_rgb(path, size).astype(np.float32) / 255.0
    arr = (arr - np.array(IMAGENET_MEAN, dtype=np.float32)) / np.array(IMAGENET_STD, dtype=np.float32)
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())


def load_mask(path, size):
    if path is None:
        return np.zeros((size, size), dtype=np.uint8)
    with Image.open(path) as im:
        return (np.asarray(im.convert("L").resize((size, size), Image.NEAREST)) > 127).astype(np.uint8)


class ImageCache:
    """Decodes every training image once (the sets are small); batches are drawn with a seeded generator."""

    def __init__(self, items, size, flip=True):
        self.items = items
        self.tensors = torch.stack([load_image(p, size) for _, p in items]) if items else torch.zeros(0)
        self.flip = flip

    def __len__(self):
        return len(self.items)

    def batch(self, n, generator):
        idx = torch.randint(0, len(self.items), (n,), generator=generator)
        x = self.tensors[idx]
        if self.flip:
            hflip = torch.rand(n, generator=generator) < 0.5
            x = torch.where(hflip[:, None, None, None], x.flip(-1), x)
        return x
