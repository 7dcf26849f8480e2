"""inference.detect with several draws: the raw maps of consecutive reconstructions are averaged, then scored."""

import numpy as np
import pytest
import torch

from tools.diad.config import get_config
from tools.diad.features import DEFAULT_MOBILENET_LAYERS, build_features
from tools.diad.inference import detect, reconstruct_images
from tools.diad.model import DiAD
from tools.diad.scoring import blur, image_score, raw_map


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    model = DiAD(get_config("micro")).eval()
    # A random SG network and decoder so that different noise gives visibly different reconstructions.
    with torch.no_grad():
        for p in model.control_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    features = build_features("mobilenet_v2", None, list(DEFAULT_MOBILENET_LAYERS)).eval()
    size = model.cfg["image_size"]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    return model, features, x


def test_draws_average_the_raw_maps_of_consecutive_noise_pairs(parts):
    model, features, x = parts
    size = x.shape[-1]
    out = detect(model, features, x, seed=4, start_step=300, steps=3, draws=3)
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        fi = features(x)
        raws = [raw_map(fi, features(reconstruct_images(model, x, start_step=300, steps=3, generator=g)), size).numpy()
                for _ in range(3)]  # fmt: skip
    want = (raws[0] + raws[1] + raws[2]) / 3
    np.testing.assert_allclose(out["raw"], want, rtol=1e-5, atol=1e-6)
    maps = blur(want)
    np.testing.assert_allclose(out["scores"], [image_score(m) for m in maps], rtol=1e-5)
    assert not np.allclose(raws[0], raws[1])  # the draws really differ
    one = detect(model, features, x, seed=4, start_step=300, steps=3)
    np.testing.assert_allclose(one["raw"], raws[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["recon"].numpy(), one["recon"].numpy(), atol=1e-6)


def test_draws_out_of_range_are_refused_and_the_autoencoder_ignores_them(parts):
    model, features, x = parts
    for bad in (0, 65, 1.5, True):
        with pytest.raises(ValueError, match=r"draws: expected an integer in \[1, 64\]"):
            detect(model, features, x, draws=bad)
    a = detect(model, features, x, use_ae_only=True, draws=4)
    b = detect(model, features, x, use_ae_only=True)
    np.testing.assert_array_equal(a["raw"], b["raw"])
