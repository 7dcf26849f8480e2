"""Chooses the feature layers, start step and scoring scale of a trained model on a validation split.

    python3 -m tools.diad.probe --checkpoint run/model.pt --data val/easy val/hard \
        --start-steps 300 500 --layer-sets block_5_add,block_9_add block_3_expand_relu,block_6_expand_relu \
        --scorings 5:8:8 2.5:4:8 [--max-per-category N] [--json out.json]

Reconstructions are the expensive part, so each image is reconstructed once per start step (and once by the
autoencoder alone), and every layer set and scoring (sigma:pool-kernel:pool-rounds) is scored from those.
Use a split made with another seed than the test split the model is reported on, so the choice does not
see the test images (`diad synth --seed 2 --train 0` writes one).
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from . import checkpoint as C
from .data import load_image, test_split
from .features import build_features
from .inference import reconstruct_images
from .scoring import PAPER_SCORING, check_scoring, maps_and_scores, raw_map


def parse_scoring(text):
    try:
        sigma, kernel, rounds = text.split(":")
        out = {"sigma": float(sigma), "kernel": int(kernel), "rounds": int(rounds)}
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--scorings: expected sigma:kernel:rounds like 5:8:8, got {text!r}") from e
    try:
        check_scoring(out["sigma"], out["kernel"], out["rounds"], {k: f"--scorings {text!r}: {k}" for k in out})
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return out


def test_categories(root):
    """Categories with a test folder (a validation split may have no train images)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--data: no directory {root}")
    cats = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d, "test")))
    if not cats:
        raise FileNotFoundError(f"--data: no <category>/test folders under {root}")
    return cats


def reconstructions(model, x, start_steps, steps, seed):
    """{'ae_only': recon, 's<S>': recon}, each as tools.diad.inference.detect reconstructs it."""
    out = {"ae_only": reconstruct_images(model, x, use_ae_only=True)}
    for s in start_steps:
        out[f"s{s}"] = reconstruct_images(model, x, seed, s, steps)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--start-steps", nargs="*", type=int, default=[300, 500], help="none: autoencoder only")
    p.add_argument("--ddim-steps", type=int, default=10)
    p.add_argument("--layer-sets", nargs="+", required=True, help="comma-separated MobileNetV2 layer names")
    p.add_argument("--scorings", nargs="+", type=parse_scoring, default=[{k: PAPER_SCORING[k] for k in ("sigma", "kernel", "rounds")}])
    p.add_argument("--max-per-category", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, ckpt = C.load(args.checkpoint)
    model.eval()
    sets = [s.split(",") for s in args.layer_sets]
    union = sorted({name for s in sets for name in s})
    features = build_features("mobilenet_v2", None, union)
    size = model.cfg["image_size"]
    report = {"checkpoint": args.checkpoint, "tiers": {}}
    for root in args.data:
        tier = root.rstrip("/").split("/")[-1]
        per_cat = {}
        for cat in test_categories(root):
            items = test_split(root, cat)
            if args.max_per_category:
                rng = np.random.default_rng(0)
                items = [items[i] for i in sorted(rng.permutation(len(items))[: args.max_per_category])]
            labels = np.array([lab for _, lab, _ in items])
            scores = {}
            t0 = time.time()
            for i in range(0, len(items), 10):
                x = torch.stack([load_image(path, size) for path, _, _ in items[i : i + 10]])
                recons = reconstructions(model, x, args.start_steps, args.ddim_steps, seed=i)
                with torch.no_grad():
                    fx = dict(zip(union, features(x)))
                    for rname, r in recons.items():
                        fr = dict(zip(union, features(r)))
                        for layer_set in sets:
                            raw = raw_map([fx[n] for n in layer_set], [fr[n] for n in layer_set], size).numpy()
                            for sc in args.scorings:
                                key = f"{rname}|{','.join(layer_set)}|{sc['sigma']}:{sc['kernel']}:{sc['rounds']}"
                                _, s = maps_and_scores(raw, sc["sigma"], kernel=sc["kernel"], rounds=sc["rounds"])
                                scores.setdefault(key, []).extend(s.tolist())
            per_cat[cat] = {k: float(roc_auc_score(labels, v)) for k, v in scores.items()}
            print(json.dumps({"tier": tier, "category": cat, "seconds": round(time.time() - t0, 1)}), flush=True)
        keys = next(iter(per_cat.values())).keys()
        means = {k: float(np.mean([per_cat[c][k] for c in per_cat])) for k in keys}
        report["tiers"][tier] = {"categories": per_cat, "mean": means}
    keys = list(next(iter(report["tiers"].values()))["mean"].keys())
    tiers = list(report["tiers"])
    rows = sorted(keys, key=lambda k: -np.mean([report["tiers"][t]["mean"][k] for t in tiers]))
    print("| reconstruction | layers | sigma:kernel:rounds | " + " | ".join(tiers) + " |")
    print("|---|---|---|" + "---|" * len(tiers))
    for k in rows:
        r, layers, sc = k.split("|")
        vals = " | ".join(f"{report['tiers'][t]['mean'][k]:.3f}" for t in tiers)
        print(f"| {r} | {layers} | {sc} | {vals} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
