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


def _trained_like_micro(seed=0):
    """A micro DiAD whose UNet output and connected SG zero convs are non-zero, as after training; the SFF convs
    and the zero convs feeding them keep the zero init of the paper's code."""
    from tools.diad.config import get_config
    from tools.diad.model import DiAD

    torch.manual_seed(seed)
    model = DiAD(get_config("micro"))
    train.init_sg_from_unet(model)
    with torch.no_grad():
        for p in list(model.unet.out.parameters()) + list(model.control_model.middle_block_out.parameters()):
            p.normal_(0, 0.1)
        for zc in list(model.control_model.zero_convs)[9:]:
            for p in zc.parameters():
                p.normal_(0, 0.1)
    return model


def _sff_gradients(model):
    cm = model.control_model
    for p in model.parameters():
        p.requires_grad_(True)
    model.zero_grad()
    size = model.cfg["image_size"]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    z0 = torch.randn(2, 4, size // 8, size // 8, generator=torch.Generator().manual_seed(2))
    model.diffusion_loss(z0, x, generator=torch.Generator().manual_seed(0), frozen_encoder=True).backward()
    feeding = [cm.zero_convs[i][0].weight.grad for i in (6, 7, 8)]
    fused = [cm.zero_convs[i][0].weight.grad for i in (9, 10, 11)]
    return [float(g.abs().sum()) for g in feeding], [float(g.abs().sum()) for g in fused]


def test_zero_initialised_sff_never_gets_a_gradient_until_sff_init_std_draws_it():
    model = _trained_like_micro()
    feeding, fused = _sff_gradients(model)
    assert all(g > 0 for g in fused)  # the rest of the SG network learns
    assert feeding == [0.0, 0.0, 0.0]  # zero SFF convs pass no gradient back, and zero inputs give them none
    n = train.init_sff(model, 0.01, torch.Generator().manual_seed(5))
    assert n == 9
    feeding, _ = _sff_gradients(model)
    assert all(g > 0 for g in feeding)
    assert train.init_sff(model, 0.01, torch.Generator().manual_seed(5)) == 0  # drawn convs are left alone


def test_init_from_continues_the_diad_stage_of_a_finished_model(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    first = tmp_path / "first"
    base = ["--data", str(data), "--config", "micro", "--seed", "3", "--batch", "2", "--log-every", "1"]
    train.main(base + ["--out", str(first), "--ae-steps", "2", "--unet-steps", "2", "--diad-steps", "2"])
    capsys.readouterr()
    before, _ = C.load(str(first / "model.pt"))
    second = tmp_path / "second"
    train.main(base + ["--out", str(second), "--diad-steps", "3", "--sff-init-std", "0.02",
                       "--init-from", str(first / "model.pt")])  # fmt: skip
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [(r["stage"], r["step"]) for r in lines if "loss" in r] == [("diad", 1), ("diad", 2), ("diad", 3)]
    assert not any("sg_init_from_unet_tensors" in r for r in lines)  # the trained SG network is kept
    assert any(r.get("sff_convs_initialised") == 9 for r in lines)
    after, ckpt = C.load(str(second / "model.pt"))
    assert ckpt["training"]["initFrom"]["checkpoint"] == str(first / "model.pt")
    assert ckpt["training"]["sffInitStd"] == 0.02
    a, b = before.state_dict(), after.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("first_stage_model."))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model.diffusion_model.input_blocks."))
    assert not torch.equal(a["control_model.down11.0.weight"], b["control_model.down11.0.weight"])
    with pytest.raises(SystemExit, match="expected a finished checkpoint"):
        ckpt_mid = C.new_checkpoint(ckpt["config"])
        ckpt_mid.update(model=after.state_dict(), stage="unet")
        C.save(str(tmp_path / "mid.pt"), ckpt_mid)
        train.main(base + ["--out", str(tmp_path / "third"), "--init-from", str(tmp_path / "mid.pt")])
