"""Builds the image corpus for the base model from Debian packages whose licences allow it.

    python3 -m tools.diad.corpus --out .data/corpus [--tile 256] [--per-image 12] [--max-tiles 4000] [--seed 0]
    python3 -m tools.diad.corpus --list            # sources, packages, licences, roles

Every source is a Debian package (install them with `apt-get install -y <packages>`; `--list` prints the line).
Images are decoded, rescaled at a few random scales and cut into square tiles written as PNG in the MVTec layout
(`<out>/<source>/train/good/NNNNN.png`), so the training tools read the corpus like any dataset. The corpus is made
again by this script and never committed (`.data/` is git-ignored). `<out>/corpus.json` records what was used.

Roles: `train` sources make the base model's corpus; the `heldout` source is kept out of every training and
tuning choice so that a dataset built from it can check the result afterwards (`--role heldout`). Debian's
`gimp-data` patterns are reserved for outside checks: any path under /usr/share/gimp is refused.
"""

import argparse
import hashlib
import json
import os
import random
import sys

from PIL import Image

RESERVED = ("/usr/share/gimp",)
EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tga")

# name, Debian package, folders, licence (from /usr/share/doc/<package>/copyright), role
SOURCES = [
    {"name": "gnome-backgrounds", "package": "gnome-backgrounds", "dirs": ["/usr/share/backgrounds/gnome"],
     "licence": "GPL-2+ (package); images CC-BY-SA-3.0 / CC-BY-SA-2.0 / CC-BY-2.0 as its copyright file names them", "role": "train"},
    {"name": "mate-backgrounds", "package": "mate-backgrounds", "dirs": ["/usr/share/backgrounds/mate"],
     "licence": "GPL-2+ / CC-BY-SA-4.0 (per image)", "role": "train"},
    {"name": "sway-backgrounds", "package": "sway-backgrounds", "dirs": ["/usr/share/backgrounds/sway"],
     "licence": "Expat (MIT)", "role": "train"},
    {"name": "desktop-base", "package": "desktop-base", "dirs": ["/usr/share/desktop-base"],
     "licence": "GPL-2+ / GPL-3+ or CC-BY-SA-3.0 (per theme)", "role": "train"},
    {"name": "colobot-textures", "package": "colobot-common-textures", "dirs": ["/usr/share/games/colobot"],
     "licence": "GPL-3+", "role": "train"},
    {"name": "openarena-textures", "package": "openarena-081-textures",
     "dirs": ["/usr/share/games/openarena/baseoa/pak4-textures.pk3"],
     "licence": "GPL-2+", "role": "heldout"},
]  # fmt: skip

MIN_SIDE = 96  # icons and sprites smaller than this are skipped


def apt_line(role=None):
    pk = sorted({s["package"] for s in SOURCES if role is None or s["role"] == role})
    return "apt-get install -y " + " ".join(pk)


def _zip_members(path):
    import zipfile

    with zipfile.ZipFile(path) as z:
        return [f"{path}::{n}" for n in z.namelist() if n.lower().endswith(EXTS)]


def _open(path):
    if "::" in path:  # a member of a .pk3 / .zip archive
        import io
        import zipfile

        archive, member = path.split("::", 1)
        with zipfile.ZipFile(archive) as z:
            return Image.open(io.BytesIO(z.read(member)))
    return Image.open(path)


def find_images(source):
    files = []
    for d in source["dirs"]:
        if os.path.isfile(d) and d.lower().endswith((".pk3", ".zip")):
            files += _zip_members(d)
            continue
        for root, _, names in os.walk(d, followlinks=False):
            if any(os.path.realpath(root).startswith(r) for r in RESERVED):
                continue
            files += [os.path.join(root, n) for n in names if n.lower().endswith(EXTS)]
    files = [f for f in files if not any(os.path.realpath(f.split("::")[0]).startswith(r) for r in RESERVED)]
    # a file reached twice through links counts once
    seen, out = set(), []
    for f in sorted(files):
        key = os.path.realpath(f.split("::")[0]) + f[len(f.split("::")[0]) :]
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def tiles_from(path, tile, per_image, rng):
    """Up to `per_image` tiles: the image rescaled so its short side is 1-4 tiles, random square crops."""
    try:
        with _open(path) as im:
            im.draft("RGB", (tile * 4, tile * 4))  # JPEG: decode at a reduced size when large
            im = im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return []
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        return []
    out = []
    for _ in range(per_image):
        short = min(w, h)
        target = rng.uniform(tile, max(tile, min(short, tile * 4)))  # short side after rescale
        s = target / short
        if min(w, h) < tile:  # small images (textures of 128²) are upscaled to one tile
            s = tile / min(w, h)
        rw, rh = max(tile, round(w * s)), max(tile, round(h * s))
        x0 = rng.randint(0, rw - tile)
        y0 = rng.randint(0, rh - tile)
        box = (x0 / s, y0 / s, min(w, (x0 + tile) / s), min(h, (y0 + tile) / s))
        crop = im.resize((tile, tile), Image.BICUBIC, box=box)
        lo, hi = crop.convert("L").getextrema()
        if hi - lo < 12:  # flat tiles teach nothing
            continue
        out.append(crop)
    return out


def build(out, role="train", tile=256, per_image=12, max_tiles=4000, seed=0, only=None, log=sys.stdout):
    rng = random.Random(seed)
    sources = [s for s in SOURCES if s["role"] == role and (not only or s["name"] in only)]
    record = {"tile": tile, "perImage": per_image, "seed": seed, "role": role, "sources": []}
    per_source = max(1, max_tiles // max(1, len(sources)))
    for src in sources:
        files = find_images(src)
        if not files:
            print(json.dumps({"source": src["name"], "skipped": f"no images; {apt_line(role)}"}), file=log, flush=True)
            record["sources"].append({**src, "images": 0, "tiles": 0})
            continue
        rng.shuffle(files)
        # few large photographs give more tiles each (other scales and places), many small textures fewer
        each = min(60, max(per_image, -(-per_source // len(files))))
        folder = os.path.join(out, src["name"], "train", "good")
        os.makedirs(folder, exist_ok=True)
        n = used = 0
        digest = hashlib.sha256()
        for f in files:
            if n >= per_source:
                break
            tiles = tiles_from(f, tile, each, rng)
            if not tiles:
                continue
            used += 1
            digest.update(f.encode())
            for t in tiles[: per_source - n]:
                t.save(os.path.join(folder, f"{n:05d}.png"), optimize=False, compress_level=1)
                n += 1
        rec = {**src, "images": used, "imagesFound": len(files), "tiles": n, "filesSha256": digest.hexdigest()}
        record["sources"].append(rec)
        print(json.dumps({k: rec[k] for k in ("name", "images", "imagesFound", "tiles")}), file=log, flush=True)
    record["tiles"] = sum(s["tiles"] for s in record["sources"])
    with open(os.path.join(out, "corpus.json"), "w") as fh:
        json.dump(record, fh, indent=1)
    return record


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".data/corpus")
    p.add_argument("--role", default="train", choices=["train", "heldout"])
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--per-image", type=int, default=12)
    p.add_argument("--max-tiles", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sources", nargs="+", help="only these source names")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        for s in SOURCES:
            print(f"{s['role']:8s} {s['name']:20s} {s['package']:26s} {s['licence']}")
        print(apt_line())
        return
    if any(os.path.realpath(args.out).startswith(r) for r in RESERVED):
        raise SystemExit("--out: inside a reserved folder")
    os.makedirs(args.out, exist_ok=True)
    rec = build(args.out, args.role, args.tile, args.per_image, args.max_tiles, args.seed, args.sources)
    print(json.dumps({"out": args.out, "tiles": rec["tiles"]}))


if __name__ == "__main__":
    main()
