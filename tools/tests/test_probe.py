import argparse

import pytest

from tools.diad import probe

from .helpers import random_micro_checkpoint
from .test_train import make_dataset


def test_scoring_triples_parse_and_bad_ones_name_the_option():
    assert probe.parse_scoring("2.5:4:8") == {"sigma": 2.5, "kernel": 4, "rounds": 8}
    for bad in ("5:8", "a:b:c", "0:8:8", "5:0:8"):
        with pytest.raises(argparse.ArgumentTypeError, match="--scorings"):
            probe.parse_scoring(bad)


def test_probe_scores_every_reconstruction_layer_set_and_scoring_per_tier(tmp_path):
    data = make_dataset(tmp_path / "data", n=1)
    random_micro_checkpoint(tmp_path / "m.pt")
    report = probe.main(["--checkpoint", str(tmp_path / "m.pt"), "--data", str(data), "--start-steps", "300",
                         "--ddim-steps", "2", "--layer-sets", "block_2_add", "block_1_project_BN,block_5_add",
                         "--scorings", "5:8:8", "2:4:2", "--json", str(tmp_path / "p.json")])  # fmt: skip
    means = report["tiers"]["data"]["mean"]
    assert len(means) == 2 * 2 * 2  # (ae_only, s300) x layer sets x scorings
    assert "s300|block_1_project_BN,block_5_add|2.0:4:2" in means
    assert all(0.0 <= v <= 1.0 for v in means.values())
    assert set(report["tiers"]["data"]["categories"]) == {"alpha", "beta"}
    assert (tmp_path / "p.json").exists()


def test_probe_rejects_a_folder_without_test_splits(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data"):
        probe.test_categories(str(tmp_path))
