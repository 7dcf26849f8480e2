#!/usr/bin/python3
"""Writes packages/metrics/test/fixtures/sklearn.json: reference values for @diad/metrics.

Ranking cases: scikit-learn roc_auc_score, average_precision_score and the F1max of precision_recall_curve
(as the DiAD evaluation code computes it), on random scores with ties, several sizes and class balances.
Pixel cases: random float32 maps with blob masks; pixel AUROC/AP from scikit-learn on the flattened pixels,
exact AUPRO from a brute-force per-threshold evaluation (regions from scipy.ndimage.label with a 3x3
structure, i.e. 8-connectivity), and the official DiAD/UniAD compute_pro arithmetic (200 thresholds).

Run: /usr/bin/python3 tools/metrics_reference.py   (numpy 1.24, scikit-learn, scipy from Debian)
"""
import json
import os
import statistics

import numpy as np
from scipy import ndimage
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

RNG = np.random.default_rng(20240229)
EIGHT = np.ones((3, 3), dtype=int)
OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'metrics', 'test', 'fixtures', 'sklearn.json')


def f1max(labels, scores):
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    with np.errstate(divide='ignore', invalid='ignore'):
        f1 = 2 * precision * recall / (precision + recall)
    f1 = np.where(np.isfinite(f1), f1, 0.0)
    best = float(f1.max())
    at = np.flatnonzero(f1 >= best - 1e-12)
    unique = len(at) == 1 and at[0] < len(thresholds)
    return best, (float(thresholds[at[0]]) if unique else None)


def ranking_case(n, positive_rate, ties, dtype):
    labels = (RNG.random(n) < positive_rate).astype(np.uint8)
    labels[0], labels[1] = 0, 1  # both classes always present
    scores = RNG.normal(size=n) + labels * RNG.uniform(0, 2)
    if ties == 'coarse':
        scores = np.round(scores, 1)
    elif ties == 'integer':
        scores = np.round(scores * 40)
    scores = scores.astype(dtype).astype(np.float64)
    f1, threshold = f1max(labels, scores)
    return {
        'float32': dtype == np.float32,
        'scores': scores.tolist(),
        'labels': labels.tolist(),
        'auroc': float(roc_auc_score(labels, scores)),
        'averagePrecision': float(average_precision_score(labels, scores)),
        'f1Max': f1,
        'f1Threshold': threshold,
    }


def blob_mask(h, w, blobs):
    mask = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(blobs):
        cy, cx = RNG.uniform(0, h), RNG.uniform(0, w)
        ry, rx = RNG.uniform(0.8, h / 4), RNG.uniform(0.8, w / 4)
        mask[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
    # scattered single pixels make diagonal-only neighbours, which 4-connectivity would split
    for _ in range(blobs):
        y, x = RNG.integers(0, h - 1), RNG.integers(0, w - 1)
        mask[y, x] = 1
        mask[y + 1, x + 1] = 1
    return mask


def exact_pro_curve(maps, masks):
    regions = []
    for i, mask in enumerate(masks):
        labelled, count = ndimage.label(mask, structure=EIGHT)
        for r in range(1, count + 1):
            regions.append((i, labelled == r))
    normal = masks == 0
    fprs, pros = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        predicted = maps >= t
        fprs.append(float((predicted & normal).sum() / normal.sum()))
        pros.append(float(np.mean([predicted[i][region].sum() / region.sum() for i, region in regions])))
    return np.array(fprs), np.array(pros)


def exact_aupro(fprs, pros, limit):
    area = 0.0
    for k in range(1, len(fprs)):
        x0, x1, y0, y1 = fprs[k - 1], fprs[k], pros[k - 1], pros[k]
        if x1 > limit:
            y1 = y0 + (limit - x0) / (x1 - x0) * (y1 - y0)
            area += (limit - x0) * (y0 + y1) / 2
            break
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def official_compute_pro(masks, amaps, num_th=200, limit=0.3):
    """compute_pro of lewandofskee/DiAD utils/eval_helper.py, with numpy instead of pandas/skimage."""
    binary_amaps = np.zeros_like(amaps, dtype=bool)
    min_th, max_th = amaps.min(), amaps.max()
    delta = (max_th - min_th) / num_th
    rows = []
    for th in np.arange(min_th, max_th, delta):
        binary_amaps[amaps <= th] = 0
        binary_amaps[amaps > th] = 1
        pros = []
        for binary_amap, mask in zip(binary_amaps, masks):
            labelled, count = ndimage.label(mask, structure=EIGHT)
            for r in range(1, count + 1):
                region = labelled == r
                pros.append(binary_amap[region].sum() / region.sum())
        inverse_masks = 1 - masks
        fpr = np.logical_and(inverse_masks, binary_amaps).sum() / inverse_masks.sum()
        rows.append((statistics.mean(pros), fpr))
    kept = [(p, f) for p, f in rows if f < limit]
    fpr = np.array([f for _, f in kept])
    pro = np.array([p for p, _ in kept])
    return float(auc(fpr / fpr.max(), pro))


def pixel_case(n, h, w, quantise):
    masks = np.stack([blob_mask(h, w, RNG.integers(0, 4)) if i % 2 == 0 else np.zeros((h, w), np.uint8) for i in range(n)])
    masks[0, h // 2, w // 2] = 1  # at least one region
    yy, xx = np.mgrid[0:h, 0:w]
    maps = []
    for i in range(n):
        smooth = 0.2 * np.sin(xx / RNG.uniform(2, 6) + RNG.uniform(0, 6)) * np.cos(yy / RNG.uniform(2, 6))
        noisy = 0.3 + smooth + 0.15 * RNG.normal(size=(h, w)) + 0.4 * ndimage.uniform_filter(masks[i].astype(float), 3)
        maps.append(noisy)
    maps = np.stack(maps)
    if quantise:
        maps = np.round(maps * 64) / 64
    maps = maps.astype(np.float32)
    fprs, pros = exact_pro_curve(maps, masks)
    flat_labels, flat_scores = masks.reshape(-1), maps.reshape(-1).astype(np.float64)
    f1, _ = f1max(flat_labels, flat_scores)
    return {
        'width': w,
        'height': h,
        'maps': [m.reshape(-1).astype(np.float64).tolist() for m in maps],
        'masks': [m.reshape(-1).tolist() for m in masks],
        'regions': [int(ndimage.label(m, structure=EIGHT)[1]) for m in masks],
        'labels': [ndimage.label(m, structure=EIGHT)[0].reshape(-1).tolist() for m in masks],
        'auroc': float(roc_auc_score(flat_labels, flat_scores)),
        'averagePrecision': float(average_precision_score(flat_labels, flat_scores)),
        'f1Max': f1,
        'aupro': {str(limit): exact_aupro(fprs, pros, limit) for limit in (0.05, 0.3, 1.0)},
        'officialAupro': official_compute_pro(masks, maps),
    }


def main():
    ranking = []
    for n in (2, 3, 5, 10, 31, 100, 257, 1000, 3000):
        for rate in (0.1, 0.5):
            for ties in ('none', 'coarse', 'integer'):
                ranking.append(ranking_case(n, rate, ties, np.float64 if n % 2 else np.float32))
    # large float32 vector with integer scores: exercises the radix path, stays compact in JSON
    ranking.append(ranking_case(70000, 0.05, 'integer', np.float32))
    pixel = [pixel_case(3, 9, 11, True), pixel_case(4, 24, 20, True), pixel_case(4, 32, 32, False), pixel_case(2, 40, 28, True)]
    with open(OUT, 'w') as f:
        json.dump({'generator': 'tools/metrics_reference.py', 'ranking': ranking, 'pixel': pixel}, f)
    print(f'wrote {OUT}: {len(ranking)} ranking cases, {len(pixel)} pixel cases')


if __name__ == '__main__':
    main()
