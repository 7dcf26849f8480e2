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


def test_layer_maps_sum_to_the_detection_map_of_the_same_layers():
    import torch

    from tools.diad import checkpoint as C
    from tools.diad.features import build_features
    from tools.diad.inference import detect

    path = random_micro_checkpoint(__import__("tempfile").mkdtemp() + "/m.pt")
    model, _ = C.load(path)
    model.eval()
    size = model.cfg["image_size"]
    x = torch.rand(1, 3, size, size)
    union = build_features("mobilenet_v2", None, ["block_2_add", "block_5_add", "block_9_add"])
    maps = tune.layer_maps(model, union, x, seed=3, start_step=2, steps=1, use_ae_only=False, draws=2)
    assert sorted(maps) == ["block_2_add", "block_5_add", "block_9_add"]
    subset = build_features("mobilenet_v2", None, ["block_2_add", "block_9_add"])
    ref = detect(model, subset, x, seed=3, start_step=2, steps=1, draws=2)["raw"]
    np.testing.assert_allclose(maps["block_2_add"] + maps["block_9_add"], ref, rtol=1e-5, atol=1e-6)


def test_parse_layer_sets_refuses_empty_repeated_and_unknown_layers():
    assert tune.parse_layer_sets(["a,b", "b", "a,b"]) == [("a", "b"), ("b",)]
    with pytest.raises(ValueError, match="names no layer"):
        tune.parse_layer_sets([" , "])
    with pytest.raises(ValueError, match="names a layer twice"):
        tune.parse_layer_sets(["a,a"])
    with pytest.raises(ValueError, match="unknown layer 'zz'"):
        tune.parse_layer_sets(["a,zz"], known={"a"})


def test_tune_searches_feature_layer_sets_and_reports_the_chosen_layers(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", n=2)
    random_micro_checkpoint(tmp_path / "m.pt")
    sets = ["block_2_add", "block_5_add", "block_2_add,block_5_add"]
    report = tune.main(["--checkpoint", str(tmp_path / "m.pt"), "--data", str(data), "--start-steps", "0", "2",
                        "--draws", "1", "--ddim-steps", "1", "--layer-sets", *sets])  # fmt: skip
    got = [(r["startStep"], tuple(r["layers"])) for r in report["candidates"]]
    assert got == [(s, tuple(ls.split(","))) for s in (0, 2) for ls in sets]
    assert report["layerSets"] == [ls.split(",") for ls in sets]
    assert report["layers"] == report["chosen"]["layers"]
    # Different layers give different scores on the same reconstructions: the choice is a real one.
    ae = [r for r in report["candidates"] if r["startStep"] == 0]
    assert len({r["threshold"] for r in ae}) == 3
    assert "layers block_2_add+block_5_add" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tune.main(["--checkpoint", str(tmp_path / "m.pt"), "--data", str(data), "--layer-sets", "block_2_add,nope"])
    assert "nope" in capsys.readouterr().err
