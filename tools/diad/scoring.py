"""Anomaly map and image score exactly as docs/bundle.md (steps 5-7); numpy/scipy reference."""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

# The paper's scoring (docs/bundle.md): blur sigma and truncation, then `rounds` x `kernel`-wide mean pooling.
PAPER_SCORING = {"sigma": 5, "truncate": 4, "kernel": 8, "rounds": 8}


SCORING_OPTIONS = {"sigma": "--sigma", "kernel": "--pool-kernel", "rounds": "--pool-rounds"}


def check_scoring(sigma, kernel, rounds, names=SCORING_OPTIONS):
    """Raises ValueError naming the first out-of-range value by its option name in `names`."""
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"{names['sigma']}: expected a number > 0 (the blur's sigma), got {sigma}")
    if not (isinstance(kernel, int) and kernel >= 1):
        raise ValueError(f"{names['kernel']}: expected an integer >= 1 (the pooling kernel), got {kernel}")
    if not (isinstance(rounds, int) and rounds >= 0):
        raise ValueError(f"{names['rounds']}: expected an integer >= 0 (pooling rounds), got {rounds}")


def layer_distance(fa, fb):
    """1 - cosine over channels, denominator max(|a||b|, 1e-8); inputs (B, C, H, W) float32 tensors."""
    dot = (fa * fb).sum(1)
    na = torch.sqrt((fa * fa).sum(1))
    nb = torch.sqrt((fb * fb).sum(1))
    return 1.0 - dot / torch.clamp(na * nb, min=1e-8)


def raw_map(feats_in, feats_rec, size):
    """Sum over layers of the bilinearly (align-corners) upsampled distance maps: (B, H, W)."""
    total = None
    for fa, fb in zip(feats_in, feats_rec):
        d = layer_distance(fa, fb)[:, None]
        d = F.interpolate(d, size=(size, size), mode="bilinear", align_corners=True)[:, 0]
        total = d if total is None else total + d
    return total


def blur(m, sigma=5.0, truncate=4.0):
    """scipy gaussian_filter, mode reflect, per image of a (B, H, W) array."""
    m = np.asarray(m, dtype=np.float64)
    return np.stack([gaussian_filter(x, sigma=sigma, mode="reflect", truncate=truncate) for x in m])


def image_score(amap, kernel=8, rounds=8):
    """`rounds` x (kernel x kernel mean, stride 1, no padding), then the max; amap (H, W)."""
    t = torch.as_tensor(np.asarray(amap, dtype=np.float64))[None, None]
    for _ in range(rounds):
        t = F.avg_pool2d(t, kernel, stride=1)
    return float(t.max())


def maps_and_scores(raw, sigma=5.0, truncate=4.0, kernel=8, rounds=8):
    """(blurred maps, image scores) of a batch of raw maps (B, H, W): docs/bundle.md steps 6 and 7."""
    maps = blur(raw, sigma, truncate)
    return maps, np.array([image_score(m, kernel, rounds) for m in maps])


def normal_statistics(scores):
    s = np.asarray(scores, dtype=np.float64)
    return {
        "count": int(s.size),
        "mean": float(s.mean()),
        "std": float(s.std()),
        "p50": float(np.percentile(s, 50)),
        "p95": float(np.percentile(s, 95)),
        "p99": float(np.percentile(s, 99)),
        "max": float(s.max()),
    }


def calibrate(scores, maps):
    """Thresholds from held-out normal images only (no defect images are seen)."""
    stats = normal_statistics(scores)
    image_thr = max(stats["p99"], stats["mean"] + 3 * stats["std"])
    pixel_thr = float(np.percentile(np.asarray(maps, dtype=np.float64), 99.9))
    return {
        "normalScores": stats,
        "imageThreshold": image_thr,
        "pixelThreshold": pixel_thr,
        "notes": (
            f"{stats['count']} held-out normal images; imageThreshold = max(p99, mean + 3 std) of their scores; "
            "pixelThreshold = 99.9th percentile of their anomaly-map values"
        ),
    }
