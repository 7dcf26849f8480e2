import pytest

from tools.diad import evaluate

from .helpers import random_micro_checkpoint
from .test_train import make_dataset


def test_evaluate_reports_per_category_and_mean_auroc_for_each_variant(tmp_path):
    data = make_dataset(tmp_path / "data", n=1)
    random_micro_checkpoint(tmp_path / "m.pt")
    report = evaluate.main(["--checkpoint", str(tmp_path / "m.pt"), "--data", str(data), "--start-steps", "999", "300",
                            "--ddim-steps", "2", "--pixel", "--json", str(tmp_path / "r.json")])  # fmt: skip
    tier = report["tiers"]["data"]
    assert set(tier) == {"alpha", "beta", "_mean"}
    assert set(tier["_mean"]) == {"ae_only", "diad_s999_n2", "diad_s300_n2"}
    for cat in ("alpha", "beta"):
        assert tier[cat]["n"] == 2 and tier[cat]["anomalous"] == 1
        assert 0.0 <= tier[cat]["ae_only"]["image_auroc"] <= 1.0
        assert tier[cat]["ae_only"]["pixel_auroc"] is None  # no ground-truth masks in this dataset
    assert (tmp_path / "r.json").exists()


def test_evaluate_rejects_scoring_and_draws_out_of_range_before_loading_anything(tmp_path):
    for argv, option in ((["--sigma", "0"], "--sigma"), (["--pool-rounds", "-1"], "--pool-rounds"),
                         (["--draws", "0"], "--draws")):  # fmt: skip
        with pytest.raises(SystemExit, match=f"^{option}: expected"):
            evaluate.main(["--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path), *argv])
