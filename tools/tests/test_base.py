"""Base models: corpus tiles, pretraining (autoencoder then UNet), the compact int8 form, and `train --init-base`
from our base or from a Stable Diffusion 1.5 checkpoint in its published key layout."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tools.diad import checkpoint as C
from tools.diad import corpus, pretrain, train
from tools.diad.config import get_config
from tools.diad.model import DiAD

from .helpers import REPO
from .test_official import fake_clip


def make_tiles(root, n=3, size=64):
    rng = np.random.default_rng(0)
    for cat in ("a", "b"):
        d = root / cat / "train" / "good"
        d.mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(d / f"{i}.png")
    return root


def test_corpus_cuts_tiles_from_folders_and_archives_and_refuses_gimp(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8)).save(src / "photo.jpg")
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(src / "flat.png")  # no contrast: no tiles
    Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(src / "icon.png")  # too small
    import zipfile

    with zipfile.ZipFile(tmp_path / "pak.pk3", "w") as z:
        z.write(src / "photo.jpg", "textures/metal.jpg")
    sources = [{"name": "folder", "package": "p", "dirs": [str(src)], "licence": "CC0-1.0", "role": "train"},
               {"name": "pak", "package": "q", "dirs": [str(tmp_path / "pak.pk3")], "licence": "GPL-2+", "role": "train"},
               {"name": "other", "package": "r", "dirs": [str(src)], "licence": "CC0-1.0", "role": "heldout"}]  # fmt: skip
    monkeypatch.setattr(corpus, "SOURCES", sources)
    rec = corpus.build(str(tmp_path / "out"), tile=64, per_image=3, max_tiles=8, seed=1, log=open(os.devnull, "w"))
    by = {s["name"]: s for s in rec["sources"]}
    assert set(by) == {"folder", "pak"}  # the held-out source stays out of the training corpus
    assert by["folder"]["images"] == 1 and by["folder"]["imagesFound"] == 3
    assert by["folder"]["tiles"] == 3 and by["pak"]["tiles"] == 4 and rec["tiles"] == 7
    tile = Image.open(tmp_path / "out" / "pak" / "train" / "good" / "00000.png")
    assert tile.size == (64, 64)
    assert json.load(open(tmp_path / "out" / "corpus.json"))["tiles"] == 7
    assert corpus.RESERVED == ("/usr/share/gimp",)  # gimp-data's patterns: reserved for outside checks
    monkeypatch.setattr(corpus, "RESERVED", (os.path.realpath(src),))
    assert corpus.find_images(sources[0]) == [] and len(corpus.find_images(sources[1])) == 1


def test_pretrain_resumes_and_a_line_starts_from_the_base_or_its_int8_form(tmp_path, capsys):
    tiles = make_tiles(tmp_path / "corpus")
    out = tmp_path / "base"
    argv = ["--corpus", str(tiles), "--out", str(out), "--config", "micro", "--image-size", "64", "--ae-crop", "32",
            "--ae-steps", "2", "--unet-steps", "2", "--batch", "2", "--log-every", "1"]  # fmt: skip
    pretrain.main(argv)
    pretrain.main(argv[:-6] + ["--unet-steps", "3", "--batch", "2", "--log-every", "1"])  # resume: one more step
    hist = open(out / "history.csv").read().splitlines()
    assert hist[0] == "stage,step,loss,seconds" and [r.split(",")[:2] for r in hist[1:]] == [
        ["ae", "1"], ["ae", "2"], ["unet", "1"], ["unet", "2"], ["unet", "3"]]  # fmt: skip
    base = torch.load(out / "base.pt")
    assert base["stage"] == "base" and base["steps"] == {"ae": 2, "unet": 3}
    assert not any(k.startswith("control_model.") for k in base["model"]) and "optim" not in base
    assert base["config"]["scale_factor"] != get_config("micro")["scale_factor"]  # set from the corpus latents

    pretrain.main(["--out", str(out), "--compact-to", str(tmp_path / "committed")])
    rec = json.load(open(tmp_path / "committed" / "training.json"))
    assert rec["steps"] == {"ae": 2, "unet": 3} and (tmp_path / "committed" / "loss.png").exists()
    # another machine goes on from the committed form: the UNet stage continues, the autoencoder is final
    pretrain.main(["--corpus", str(tiles), "--out", str(tmp_path / "more"), "--init-base",
                   str(tmp_path / "committed" / "base.pt8"), "--unet-steps", "4", "--batch", "2"])  # fmt: skip
    assert torch.load(tmp_path / "more" / "base.pt")["steps"] == {"ae": 2, "unet": 4}
    C.save_compact(str(tmp_path / "base.pt8"), base)
    assert os.path.getsize(tmp_path / "base.pt8") < 0.5 * os.path.getsize(out / "base.pt")  # micro: mostly per-tensor overhead
    for path in (out / "base.pt", tmp_path / "base.pt8"):
        model, ckpt = train.from_base(str(path), "micro", 128)
        assert ckpt["config"]["image_size"] == 128 and ckpt["config"]["scale_factor"] == base["config"]["scale_factor"]
        got = model.state_dict()
        for k, v in base["model"].items():
            tol = 0.0 if path.name == "base.pt" else float(v.abs().max()) / 127 * 0.51 + 1e-3
            assert torch.allclose(got[k], v.float(), atol=tol), k
        # the SG network is not in a base: it starts as the UNet encoder in the DiAD stage
        assert ckpt["initBase"]["tensors"] == len(base["model"]) - 1  # all but the context buffer

    data = make_tiles(tmp_path / "line", n=2, size=128)
    run = tmp_path / "run"
    train.main(["--data", str(data), "--config", "micro", "--out", str(run), "--init-base", str(tmp_path / "base.pt8"),
                "--ae-steps", "0", "--unet-steps", "0", "--diad-steps", "1", "--batch", "2", "--holdout", "0", "--image-size", "128"])  # fmt: skip
    model, ckpt = C.load(str(run / "model.pt"))
    assert ckpt["training"]["initBase"]["kind"] == "tools.diad base (int8)"
    assert ckpt["config"]["scale_factor"] == base["config"]["scale_factor"]
    assert ckpt["completed"] == ["diad"]


def sd_layout_checkpoint(path, seed=0):
    """A tiny checkpoint laid out as SD 1.5's v1-5-pruned.ckpt: {'state_dict': first_stage_model.*,
    model.diffusion_model.*, cond_stage_model.transformer.text_model.*, plus schedule buffers and EMA keys}."""
    cfg = get_config("micro")
    cfg["unet"]["context_dim"], cfg["context_tokens"] = 24, 77
    torch.manual_seed(seed)
    sd = {k: v for k, v in DiAD(cfg).state_dict().items() if k.startswith(C.BASE_PREFIXES)}
    sd.update(fake_clip(width=24, layers=1))
    sd.update({"betas": torch.zeros(1000), "alphas_cumprod": torch.ones(1000), "model_ema.decay": torch.tensor(0.999)})
    torch.save({"state_dict": sd, "global_step": 840000}, path)
    return sd


def test_init_base_reads_a_stable_diffusion_checkpoint_by_its_key_names(tmp_path):
    sd = sd_layout_checkpoint(tmp_path / "sd.ckpt")
    model, ckpt = train.from_base(str(tmp_path / "sd.ckpt"), "micro")
    assert ckpt["initBase"]["kind"] == "stable-diffusion"
    assert ckpt["config"]["scale_factor"] == 0.18215 and ckpt["config"]["unet"]["context_dim"] == 24
    got = model.state_dict()
    n = 0
    for k, v in sd.items():
        if k.startswith(C.BASE_PREFIXES):
            assert torch.equal(got[k], v), k
            n += 1
    assert n == ckpt["initBase"]["tensors"] > 300
    from tools.diad import clip_text

    assert torch.allclose(model.context, clip_text.empty_prompt_context(sd).reshape(1, 77, 24))
    # a config that does not match the checkpoint is refused with the reason
    cfg_bad = tmp_path / "bad.ckpt"
    torch.save({"state_dict": {k: v for k, v in sd.items() if not k.endswith("out.2.weight")}}, cfg_bad)
    with pytest.raises(ValueError, match="missing"):
        train.from_base(str(cfg_bad), "micro")
    with pytest.raises(ValueError, match="neither"):
        torch.save({"state_dict": {"x": torch.zeros(1)}}, tmp_path / "x.ckpt")
        train.from_base(str(tmp_path / "x.ckpt"), "micro")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_data_parallel_training_on_gloo_keeps_the_replicas_identical(tmp_path):
    """Two processes with the environment torchrun gives them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_*). Started by
    hand: Debian's torch 1.13 launcher fails on Python 3.11 (`to_map`: 'NoneType' object has no attribute 'get')."""
    data = make_tiles(tmp_path / "data", n=2, size=128)
    out = tmp_path / "run"
    port = str(free_port())
    cmd = [sys.executable, "-m", "tools.diad.train", "--data", str(data), "--config", "micro", "--out", str(out),
           "--threads", "1", "--ae-steps", "1", "--unet-steps", "1", "--diad-steps", "1", "--batch", "1",
           "--holdout", "0", "--log-every", "1"]  # fmt: skip
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": REPO, "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}  # fmt: skip
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        results = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], results[0][1][-2000:] + results[1][1][-2000:]
    lines = [json.loads(x) for x in results[0][0].splitlines() if x.startswith("{")]
    assert not results[1][0].strip()  # rank 1 neither logs nor saves
    assert {"processes": 2, "device": "cpu", "amp": False} in lines
    same = [r for r in lines if "replicas_identical" in r]
    assert len(same) == 1 and same[0]["replicas_identical"] and len(same[0]["replica_checksums"]) == 2
    _, ckpt = C.load(str(out / "model.pt"))
    assert ckpt["training"]["parallel"]["processes"] == 2 and ckpt["completed"] == ["ae", "unet", "diad"]


def test_amp_chooses_bf16_on_cpu_and_device_cuda_refuses_without_a_gpu(tmp_path):
    args = train.parse_args(["--data", "x", "--out", "y", "--amp"])
    ctx = train.autocast(args, train.Dist("cpu"))
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    # the normalisations stay fp32 under autocast (bf16 group/layer norm is what torch's CPU autocast lacks)
    from tools.diad.layers import group_norm, layer_norm

    with ctx:
        x = torch.randn(1, 8, 4, 4).bfloat16()
        assert group_norm(8, 4)(x).dtype == torch.bfloat16
        assert layer_norm(4)(x).dtype == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA device"):
            train.Dist("cuda")
