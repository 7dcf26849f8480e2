import shutil

import numpy as np
import pytest

from tools.diad import tune

from .helpers import random_micro_checkpoint
from .test_train import make_dataset


def test_synthetic_anomalies_change_only_a_patch_of_each_kind():
    rng = np.random.default_rng(0)
    img = np.full((64, 64, 3), 100, np.uint8)
    donor = np.full((64, 64, 3), 200, np.uint8)
    for kind in tune.KINDS:
        out = tune.synthetic_anomaly(img, donor, kind, rng)
        changed = np.any(out != img, axis=2)
        assert 0 < changed.mean() <= (16 * 16) / (64 * 64) + 1e-9, kind  # at most a quarter of each side
        assert out.dtype == np.uint8 and out.shape == img.shape
    with pytest.raises(ValueError, match="kind"):
        tune.synthetic_anomaly(img, donor, "glitter", rng)


def test_choose_prefers_the_faster_of_near_ties():
    rows = [
        {"candidate": "slow", "auroc": 0.901, "msPerFrame": 900},
        {"candidate": "ae", "auroc": 0.9, "msPerFrame": 50},
        {"candidate": "worse", "auroc": 0.8, "msPerFrame": 10},
    ]
    assert tune.choose(rows)["candidate"] == "ae"
    rows[0]["auroc"] = 0.95
    assert tune.choose(rows)["candidate"] == "slow"


def test_tune_uses_synthetic_evidence_without_defects_and_labels_when_present(tmp_path):
    data = make_dataset(tmp_path / "data", n=2)
    random_micro_checkpoint(tmp_path / "m.pt")
    argv = ["--checkpoint", str(tmp_path / "m.pt"), "--start-steps", "0", "20", "--draws", "1", "2",
            "--ddim-steps", "2", "--layers", "block_2_add"]  # fmt: skip
    labelled = tune.main([*argv, "--data", str(data), "--json", str(tmp_path / "t.json")])
    assert labelled["evidence"] == "labelled"
    # autoencoder alone, then start step 20 with 1 and 2 draws
    assert [(r["startStep"], r["draws"]) for r in labelled["candidates"]] == [(0, 1), (20, 1), (20, 2)]
    assert all(0.0 <= r["auroc"] <= 1.0 and r["msPerFrame"] > 0 for r in labelled["candidates"])
    for cat in ("alpha", "beta"):
        shutil.rmtree(data / cat / "test" / "dent")
    synthetic = tune.main([*argv, "--data", str(data)])
    assert synthetic["evidence"] == "synthetic"
    assert "2 held-out normal images and 2 synthetic anomalies" in synthetic["evidenceDetail"]
    assert synthetic["chosen"] in synthetic["candidates"]
    with pytest.raises(ValueError, match="no defect images"):
        tune.main([*argv, "--data", str(data), "--evidence", "labelled"])
