"""Image AUROC per category on MVTec-layout test splits, DiAD beside the autoencoder-only baseline.

    python3 -m tools.diad.evaluate --checkpoint run/model.pt --data synth/easy synth/hard
        [--start-steps 999 700 500 300] [--ddim-steps 10 5] [--max-per-category N] [--json out.json]

The autoencoder-only baseline scores the same feature distance between the input and the autoencoder's
reconstruction (posterior mean), with no diffusion.
"""

import argparse
import json
import os
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from . import checkpoint as C
from .data import list_categories, load_image, load_mask, test_split
from .features import build_features
from .inference import MAX_DRAWS, detect
from .scoring import PAPER_SCORING, check_scoring


def evaluate_category(model, features, items, size, variants, batch=10, seed=0, pixel=False):
    labels = np.array([lab for _, lab, _ in items])
    scores = {name: [] for name in variants}
    pix = {name: ([], []) for name in variants}
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        x = torch.stack([load_image(p, size) for p, _, _ in chunk])
        masks = [load_mask(m, size) for _, _, m in chunk] if pixel else None
        for name, kw in variants.items():
            out = detect(model, features, x, seed=seed + i, **kw)
            scores[name].extend(out["scores"].tolist())
            if pixel:
                pix[name][0].extend(m[::4, ::4].ravel() for m in masks)
                pix[name][1].extend(a[::4, ::4].ravel() for a in out["maps"])
    result = {}
    for name in variants:
        s = np.array(scores[name])
        r = {"image_auroc": float(roc_auc_score(labels, s)) if 0 < labels.sum() < len(labels) else None}
        if pixel:
            gt = np.concatenate(pix[name][0])
            pr = np.concatenate(pix[name][1])
            r["pixel_auroc"] = float(roc_auc_score(gt, pr)) if 0 < gt.sum() < gt.size else None
        result[name] = r
    return result, int(labels.size), int(labels.sum())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--categories", nargs="+")
    p.add_argument("--start-steps", nargs="+", type=int, default=[999])
    p.add_argument("--ddim-steps", nargs="+", type=int, default=[10])
    p.add_argument("--draws", nargs="+", type=int, default=[1], help="reconstructions averaged per image")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--pixel", action="store_true", help="also pixel AUROC (maps subsampled 4x)")
    p.add_argument("--max-per-category", type=int, default=0)
    p.add_argument("--feature-layers", nargs="+")
    p.add_argument("--sigma", type=float, default=PAPER_SCORING["sigma"], help="anomaly-map blur (paper: 5)")
    p.add_argument("--pool-kernel", type=int, default=PAPER_SCORING["kernel"], help="image-score pooling kernel (paper: 8)")
    p.add_argument("--pool-rounds", type=int, default=PAPER_SCORING["rounds"], help="image-score pooling rounds (paper: 8)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args(argv)
    try:
        check_scoring(args.sigma, args.pool_kernel, args.pool_rounds)
    except ValueError as e:
        raise SystemExit(str(e)) from e
    for d in args.draws:
        if not 1 <= d <= MAX_DRAWS:
            raise SystemExit(f"--draws: expected integers in [1, {MAX_DRAWS}], got {d}")
    torch.set_num_threads(args.threads)
    model, ckpt = C.load(args.checkpoint)
    layers = args.feature_layers or ckpt["features"]["layers"]
    features = build_features(ckpt["features"]["network"], None, layers)
    size = model.cfg["image_size"]
    scoring = {**PAPER_SCORING, "sigma": args.sigma, "kernel": args.pool_kernel, "rounds": args.pool_rounds}
    variants = {}
    if not args.no_baseline:
        variants["ae_only"] = {"use_ae_only": True, "scoring": scoring}
    for s in args.start_steps:
        for n in args.ddim_steps:
            for d in args.draws:
                name = f"diad_s{s}_n{n}" + (f"_d{d}" if d > 1 else "")
                variants[name] = {"start_step": s, "steps": n, "scoring": scoring, "draws": d}
    report = {"checkpoint": os.path.abspath(args.checkpoint), "feature_layers": layers, "scoring": scoring,
              "tiers": {}}
    for root in args.data:
        tier = os.path.basename(os.path.normpath(root))
        report["tiers"][tier] = {}
        for cat in args.categories or list_categories(root):
            items = test_split(root, cat)
            if args.max_per_category:
                rng = np.random.default_rng(0)
                items = [items[i] for i in sorted(rng.permutation(len(items))[: args.max_per_category])]
            t0 = time.time()
            res, n, n_bad = evaluate_category(model, features, items, size, variants, pixel=args.pixel)
            report["tiers"][tier][cat] = {"n": n, "anomalous": n_bad, "seconds": round(time.time() - t0, 1), **res}
            print(json.dumps({"tier": tier, "category": cat, **report["tiers"][tier][cat]}), flush=True)
        cats = [v for k, v in report["tiers"][tier].items() if not k.startswith("_")]
        means = {}
        for name in variants:
            vals = [v[name]["image_auroc"] for v in cats if v[name]["image_auroc"] is not None]
            means[name] = float(np.mean(vals)) if vals else None
        report["tiers"][tier]["_mean"] = means
        print(json.dumps({"tier": tier, "mean_image_auroc": means}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
