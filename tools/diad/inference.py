"""One DiAD detection pass in torch (the reference the ONNX bundle must reproduce)."""

import numpy as np
import torch

from .scoring import maps_and_scores, raw_map


# The bundle's upper bound on sampler.draws (packages/protocol MAX_DRAWS).
MAX_DRAWS = 64


def latent_shape(cfg, batch):
    lat = cfg["image_size"] // 8
    return (batch, cfg["latent_channels"], lat, lat)


@torch.no_grad()
def reconstruct_images(model, x, seed=0, start_step=999, steps=10, trace=None, use_ae_only=False, generator=None):
    """DiAD reconstruction with noise n1, n2 drawn from torch.Generator(seed) (or the next two planes of
    `generator`); `use_ae_only` decodes the posterior mean instead (the autoencoder-only baseline)."""
    if use_ae_only:
        mean, _ = model.first_stage_model.encode(x)
        return model.first_stage_model.decode(mean)
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    shape = latent_shape(model.cfg, x.shape[0])
    n1 = torch.randn(shape, generator=g)
    n2 = torch.randn(shape, generator=g)
    if trace is not None:
        trace.update(x=x, n1=n1, n2=n2)
    return model.reconstruct(x, n1, n2, start_step, steps, trace=trace)


def detect(model, features, x, seed=0, start_step=999, steps=10, scoring=None, trace=None, use_ae_only=False, draws=1):
    """Returns dict(recon, raw, maps, scores); see reconstruct_images for the noise.

    With draws > 1 the image is reconstructed that many times, draw d taking noise planes 2d+1 and 2d+2 of one
    generator seeded with `seed`; the raw anomaly maps are averaged, then blurred and pooled (docs/bundle.md).
    `recon` and the trace are those of the first draw."""
    sc = scoring or {}
    if not isinstance(draws, int) or isinstance(draws, bool) or not 1 <= draws <= MAX_DRAWS:
        raise ValueError(f"draws: expected an integer in [1, {MAX_DRAWS}], got {draws!r}")
    if use_ae_only:
        draws = 1
    g = torch.Generator().manual_seed(seed)
    recon = reconstruct_images(model, x, seed, start_step, steps, trace, use_ae_only, generator=g)
    with torch.no_grad():
        fi, fr = features(x), features(recon)
        raw = raw_map(fi, fr, x.shape[-1]).numpy()
        for _ in range(1, draws):
            other = reconstruct_images(model, x, seed, start_step, steps, None, use_ae_only, generator=g)
            raw = raw + raw_map(fi, features(other), x.shape[-1]).numpy()
    if draws > 1:
        raw = (raw / draws).astype(np.float32)
    maps, scores = maps_and_scores(raw, sc.get("sigma", 5.0), sc.get("truncate", 4.0), sc.get("kernel", 8), sc.get("rounds", 8))
    if trace is not None:
        for i, (a, b) in enumerate(zip(fi, fr)):
            trace[f"feat_in_{i}"] = a
            trace[f"feat_rec_{i}"] = b
        trace.update(map_raw=raw, map=maps, score=np.asarray(scores, dtype=np.float32))
    return {"recon": recon, "raw": raw, "maps": maps, "scores": scores}


def detect_many(model, features, images, batch=8, seed=0, **kw):
    """Scores a list of CHW tensors in batches; the seed advances per batch so runs are reproducible."""
    scores, maps = [], []
    for i in range(0, len(images), batch):
        out = detect(model, features, torch.stack(images[i : i + batch]), seed=seed + i, **kw)
        scores.extend(out["scores"].tolist())
        maps.extend(list(out["maps"]))
    return np.array(scores), maps
