import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tools.diad import checkpoint as C
from tools.diad import train


def make_dataset(root, n=4, size=72):
    rng = np.random.default_rng(1)
    for cat, level in (("alpha", 90), ("beta", 170)):
        for split, kind, count in (("train", "good", n), ("test", "good", 1), ("test", "dent", 1)):
            d = root / cat / split / kind
            d.mkdir(parents=True)
            for i in range(count):
                a = np.clip(level + 12 * rng.standard_normal((size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(a).save(d / f"{i:03d}.png")
    return root


def test_three_step_training_on_eight_images_writes_a_resumable_checkpoint(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "run"
    argv = ["--data", str(data), "--config", "micro", "--out", str(out), "--seed", "3", "--batch", "2",
            "--ae-steps", "3", "--unet-steps", "3", "--diad-steps", "3", "--log-every", "1", "--save-every", "2"]  # fmt: skip
    train.main(argv)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert lines[0]["images"] == 8
    progress = [r for r in lines if "loss" in r]
    assert [(r["stage"], r["step"]) for r in progress] == [(s, i) for s in ("ae", "unet", "diad") for i in (1, 2, 3)]
    assert all(np.isfinite(r["loss"]) and "eta_min" in r for r in progress)
    model, ckpt = C.load(str(out / "model.pt"))
    assert ckpt["stage"] == "done" and ckpt["completed"] == ["ae", "unet", "diad"]
    assert ckpt["training"]["categories"] == ["alpha", "beta"] and ckpt["training"]["seed"] == 3
    assert ckpt["config"]["scale_factor"] > 0
    # SG initialised from the UNet encoder, then trained: the UNet encoder stayed frozen in the diad stage
    assert set(ckpt["history"]) == {"ae", "unet", "diad"}
    # a second run resumes and has nothing left to do
    train.main(argv)
    again = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert any("resume" in r for r in again) and not any("loss" in r for r in again)


def test_diad_stage_freezes_the_unet_encoder_and_trains_sg_and_decoder(tmp_path):
    from tools.diad.config import get_config
    from tools.diad.model import DiAD

    model = DiAD(get_config("micro"))
    args = train.parse_args(["--data", "x", "--out", "y"])
    opt = train.optimizer_for("diad", model, args)
    trained = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) in trained for p in model.control_model.parameters())
    assert all(id(p) in trained for p in model.unet.output_blocks.parameters())
    assert not any(id(p) in trained for p in model.unet.input_blocks.parameters())
    assert not any(id(p) in trained for p in model.unet.middle_block.parameters())
    assert not any(id(p) in trained for p in model.first_stage_model.parameters())


def test_training_rejects_a_folder_without_categories(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/good"):
        train.main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--config", "micro"])


def test_a_corrupt_image_is_reported_with_its_path(tmp_path):
    data = make_dataset(tmp_path / "data")
    bad = data / "alpha" / "train" / "good" / "999.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="999.png"):
        train.main(["--data", str(data), "--out", str(tmp_path / "o"), "--config", "micro", "--ae-steps", "1"])


def test_sg_initialisation_copies_the_unet_encoder():
    from tools.diad.config import get_config
    from tools.diad.model import DiAD

    model = DiAD(get_config("micro"))
    n = train.init_sg_from_unet(model)
    assert n > 0
    assert torch.equal(model.control_model.input_blocks[1][0].in_layers[2].weight,
                       model.unet.input_blocks[1][0].in_layers[2].weight)  # fmt: skip


def test_stage_minutes_cap_each_stage_and_the_log_says_where_it_stopped(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    out = tmp_path / "run"
    train.main(["--data", str(data), "--config", "micro", "--out", str(out), "--batch", "2", "--ae-steps", "50",
                "--unet-steps", "50", "--diad-steps", "50", "--stage-minutes", "1e-9", "1e-9", "1e-9",
                "--t-max", "300", "--log-every", "1"])  # fmt: skip
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    stops = {r["stage"]: r["stopped_at_time_budget"] for r in lines if "stopped_at_time_budget" in r}
    assert set(stops) == {"ae", "unet", "diad"} and all(v <= 1 for v in stops.values())
    _, ckpt = C.load(str(out / "model.pt"))
    assert ckpt["training"]["tMax"] == 300 and ckpt["stopped"] == stops
