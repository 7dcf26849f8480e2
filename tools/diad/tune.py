"""Chooses a line's sampler (start step, draws) and image threshold without defect images, or with them when the
dataset has labelled ones, and says which evidence it used.

    python3 -m tools.diad.tune --checkpoint run/model.pt --data <MVTec dir> [--evidence auto|synthetic|labelled]
        [--start-steps 0 50 100 200] [--draws 1 4]
        [--layer-sets block_2_add,block_5_add,block_9_add block_2_add,block_5_add block_5_add,block_9_add ...]
        [--max-normals 40] [--false-alarm-target 0.01] [--json tune.json]

Evidence:
  labelled   the dataset's test split (test/good and the defect folders), as `diad eval` would use it;
  synthetic  held-out normal images (test/good, else a held-out share of train/good) and, made from each of them,
             one synthetic anomaly of three kinds in turn: a cut-paste patch from another normal image, a patch of
             noise, a patch of flat colour (sizes 1/8–1/4 of the side, placed at random, seeded);
  auto       labelled when the dataset has defect images, synthetic otherwise.
Candidates: the autoencoder alone (start step 0: no diffusion at all, the fastest) and every start step x draws,
each scored with every feature-layer set (the official DiAD sums the 1 - cosine maps of its chosen feature layers;
which layers see a line's defects best depends on the line). One reconstruction per sampler serves every layer set:
the features of the union of the sets are computed once and each set's map is the sum of its own layers' maps.
The best image AUROC wins; a tie (within 0.002) goes to the faster candidate, so a line never runs a slower model
that is not better on its own evidence. The threshold is the normal scores' quantile for the false-alarm target.
The report lists every candidate with its AUROC and measured time per frame.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from . import checkpoint as C
from .data import IMAGE_EXT, load_image, test_split
from .features import DEFAULT_MOBILENET_LAYERS, build_features
from .inference import MAX_DRAWS, reconstruct_images
from .scoring import layer_distance, maps_and_scores

TIE = 0.002
KINDS = ("cut-paste", "noise", "colour")


def _images(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXT))


def categories(root):
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--data: no directory {root}")
    cats = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not cats:
        raise FileNotFoundError(f"--data: no category folders under {root}")
    return cats


def has_defects(root):
    return any(lab == 1 for c in categories(root) for _, lab, _ in test_split(root, c))


def synthetic_anomaly(img, donor, kind, rng):
    """One anomaly on an RGB uint8 array (H, W, 3): `kind` in KINDS; returns a new array."""
    h, w, _ = img.shape
    out = img.copy()
    ph = int(rng.integers(max(2, h // 8), max(3, h // 4) + 1))
    pw = int(rng.integers(max(2, w // 8), max(3, w // 4) + 1))
    y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    if kind == "cut-paste":
        sy, sx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        out[y : y + ph, x : x + pw] = donor[sy : sy + ph, sx : sx + pw]
    elif kind == "noise":
        patch = out[y : y + ph, x : x + pw].astype(np.float32) + rng.normal(0, 40, (ph, pw, 3))
        out[y : y + ph, x : x + pw] = np.clip(patch, 0, 255).astype(np.uint8)
    elif kind == "colour":
        colour = rng.integers(0, 256, 3).astype(np.float32)
        patch = out[y : y + ph, x : x + pw].astype(np.float32) * 0.3 + colour * 0.7
        out[y : y + ph, x : x + pw] = patch.astype(np.uint8)
    else:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    return out


def _tensor(arr, size, tmp):
    Image.fromarray(arr).save(tmp)
    return load_image(tmp, size)


def evidence_set(root, size, mode, max_normals, seed, tmp):
    """(tensors, labels, description) for the chosen evidence."""
    cats = categories(root)
    if mode == "labelled":
        items = [(p, lab) for c in cats for p, lab, _ in test_split(root, c)]
        if not any(lab for _, lab in items):
            raise ValueError("--evidence labelled: the dataset has no defect images")
        x = torch.stack([load_image(p, size) for p, _ in items])
        return x, np.array([lab for _, lab in items]), f"labelled test split: {len(items)} images"
    rng = np.random.default_rng(seed)
    normals = []
    for c in cats:
        good = _images(os.path.join(root, c, "test", "good"))
        if not good:
            train = _images(os.path.join(root, c, "train", "good"))
            good = [train[i] for i in sorted(rng.permutation(len(train))[: max(1, len(train) // 5)])]
        normals += good
    if max_normals and len(normals) > max_normals:
        normals = [normals[i] for i in sorted(rng.permutation(len(normals))[:max_normals])]
    if len(normals) < 2:
        raise ValueError("--data: at least two held-out normal images are needed for synthetic evidence")
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)) for p in normals]
    xs, labels = [], []
    for i, a in enumerate(arrays):
        xs.append(_tensor(a, size, tmp))
        labels.append(0)
        anomaly = synthetic_anomaly(a, arrays[(i + 1) % len(arrays)], KINDS[i % len(KINDS)], rng)
        xs.append(_tensor(anomaly, size, tmp))
        labels.append(1)
    desc = f"synthetic: {len(arrays)} held-out normal images and {len(arrays)} synthetic anomalies ({', '.join(KINDS)})"
    return torch.stack(xs), np.array(labels), desc


def parse_layer_sets(specs, known=None):
    """Comma-separated layer names per set -> list of tuples (order kept, duplicates refused); ValueError naming
    the bad set. `known`: the layer names the feature network has, when checked."""
    sets = []
    for spec in specs:
        layers = tuple(x.strip() for x in spec.split(",") if x.strip())
        if not layers:
            raise ValueError(f"--layer-sets: {spec!r} names no layer")
        if len(set(layers)) != len(layers):
            raise ValueError(f"--layer-sets: {spec!r} names a layer twice")
        unknown = [x for x in layers if known is not None and x not in known]
        if unknown:
            raise ValueError(f"--layer-sets: {spec!r}: unknown layer {unknown[0]!r}")
        if layers not in sets:
            sets.append(layers)
    if not sets:
        raise ValueError("--layer-sets: expected at least one set")
    return sets


@torch.no_grad()
def layer_maps(model, features, x, seed, start_step, steps, use_ae_only, draws):
    """Per feature layer, the upsampled 1 - cosine map between input and reconstruction, averaged over draws:
    {layer: (B, H, W) numpy}. Summing a set's entries gives the raw map `inference.detect` computes with those
    layers (the same noise planes: draw d takes planes 2d+1 and 2d+2 of one generator seeded with `seed`)."""
    if not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws: expected an integer in [1, {MAX_DRAWS}], got {draws!r}")
    draws = 1 if use_ae_only else draws
    g = torch.Generator().manual_seed(seed)
    size = x.shape[-1]
    fi = features(x)
    out = {}
    for _ in range(draws):
        fr = features(reconstruct_images(model, x, seed, start_step, steps, None, use_ae_only, generator=g))
        for name, a, b in zip(features.layer_names, fi, fr):
            d = layer_distance(a, b)[:, None]
            d = torch.nn.functional.interpolate(d, size=(size, size), mode="bilinear", align_corners=True)[:, 0]
            out[name] = out.get(name, 0) + d.numpy()
    return {k: (v / draws).astype(np.float32) for k, v in out.items()}


def choose(rows):
    """The best AUROC; within TIE of it, the fastest."""
    best = max(r["auroc"] for r in rows)
    near = [r for r in rows if r["auroc"] >= best - TIE]
    return min(near, key=lambda r: r["msPerFrame"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--evidence", choices=["auto", "synthetic", "labelled"], default="auto")
    p.add_argument("--start-steps", nargs="+", type=int, default=[0, 50, 100, 200], help="0 = autoencoder alone")
    p.add_argument("--draws", nargs="+", type=int, default=[1, 4])
    p.add_argument("--ddim-steps", type=int, default=10)
    p.add_argument("--layer-sets", nargs="+", default=[",".join(DEFAULT_MOBILENET_LAYERS)],
                   help="feature-layer sets to try, each comma-separated (MobileNetV2 layer names)")
    p.add_argument("--layers", help="one layer set (same as --layer-sets with one set)")
    p.add_argument("--max-normals", type=int, default=40)
    p.add_argument("--false-alarm-target", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    a = p.parse_args(argv)
    if not 0 < a.false_alarm_target < 1:
        p.error("--false-alarm-target: expected a share in (0, 1)")
    if any(s < 0 for s in a.start_steps) or any(d < 1 for d in a.draws):
        p.error("--start-steps must be >= 0 and --draws >= 1")
    torch.set_num_threads(a.threads)
    model, _ = C.load(a.checkpoint)
    model.eval()
    size = model.cfg["image_size"]
    try:
        layer_sets = parse_layer_sets([a.layers] if a.layers else a.layer_sets)
    except ValueError as e:
        p.error(str(e))
    union = [n for n in dict.fromkeys(x for ls in layer_sets for x in ls)]
    try:
        features = build_features("mobilenet_v2", None, union)
    except (KeyError, ValueError) as e:
        p.error(f"--layer-sets: {e}")
    mode = a.evidence if a.evidence != "auto" else ("labelled" if has_defects(a.data) else "synthetic")
    tmp = os.path.join(os.path.dirname(os.path.abspath(a.json or a.checkpoint)), ".tune-tmp.png")
    try:
        x, labels, desc = evidence_set(a.data, size, mode, a.max_normals, a.seed, tmp)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    rows = []
    for s in sorted(set(a.start_steps)):
        for d in sorted(set(a.draws)) if s > 0 else [1]:
            t0 = time.perf_counter()
            per_layer = {}
            for i in range(0, len(x), 8):
                m = layer_maps(model, features, x[i : i + 8], seed=a.seed + i, start_step=max(s, 1),
                               steps=min(a.ddim_steps, max(s, 1)), use_ae_only=s == 0, draws=d)  # fmt: skip
                for k, v in m.items():
                    per_layer.setdefault(k, []).append(v)
            per_layer = {k: np.concatenate(v) for k, v in per_layer.items()}
            shared_ms = (time.perf_counter() - t0) * 1000 / len(x)
            sampler = "autoencoder alone" if s == 0 else f"start step {s}, {d} draw{'s' if d > 1 else ''}"
            for layers in layer_sets:
                t1 = time.perf_counter()
                _, scores = maps_and_scores(sum(per_layer[n] for n in layers))
                ms = shared_ms + (time.perf_counter() - t1) * 1000 / len(x)
                normal = scores[labels == 0]
                name = sampler if len(layer_sets) == 1 else f"{sampler}, layers {'+'.join(layers)}"
                rows.append({
                    "candidate": name, "startStep": s, "draws": d, "layers": list(layers),
                    "auroc": float(roc_auc_score(labels, scores)), "msPerFrame": round(ms, 1),
                    "threshold": float(np.quantile(normal, 1 - a.false_alarm_target)),
                })  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    pick = choose(rows)
    report = {"evidence": mode, "evidenceDetail": desc, "chosen": pick, "candidates": rows,
              "falseAlarmTarget": a.false_alarm_target, "layers": pick["layers"],
              "layerSets": [list(ls) for ls in layer_sets]}  # fmt: skip
    print(f"evidence: {desc}")
    print("| candidate | image AUROC | ms/frame | threshold |")
    print("|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["auroc"]):
        mark = " (chosen)" if r is pick else ""
        print(f"| {r['candidate']}{mark} | {r['auroc']:.3f} | {r['msPerFrame']} | {r['threshold']:.4g} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
