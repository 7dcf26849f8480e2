"""Exports a micro-config model once and checks the bundle: onnx.checker, manifest contract, tar, sha256,
and ONNX Runtime (onnxruntime-node, the agents' runtime) against torch."""

import hashlib
import json
import os
import tarfile

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from tools.diad import checkpoint as C
from tools.diad import export, golden
from tools.diad.scoring import blur, image_score, raw_map

from .helpers import check_manifest, ort_available, ort_run

needs_ort = pytest.mark.skipif(not ort_available(), reason="node + onnxruntime-node not installed")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        a = np.clip(128 + 30 * rng.standard_normal((140, 150, 3)), 0, 255).astype(np.uint8)
        path = root / f"img{i}.png"
        Image.fromarray(a).save(path)
        images.append(str(path))
    out = root / "micro-random"
    ckpt = root / "random.pt"
    manifest = export.main(["--random", "micro", "--out", str(out), "--tar", "--save-checkpoint", str(ckpt),
                            "--calib-images", *images[:2], "--steps", "3", "--draws", "2",
                            "--sigma", "3", "--pool-kernel", "4", "--pool-rounds", "6"])  # fmt: skip
    model, _ = C.load(str(ckpt))
    from tools.diad.features import build_features

    features = build_features("mobilenet_v2", None, manifest["features"]["layers"])
    index = golden.write_golden(model, features, manifest, images[2:], str(out / "golden"), seed=5)
    return {"dir": out, "manifest": manifest, "model": model, "index": index}


def test_every_graph_passes_the_onnx_checker_with_opset_17_and_a_dynamic_batch(bundle):
    for name, g in bundle["manifest"]["graphs"].items():
        model = onnx.load(str(bundle["dir"] / g["file"]))
        onnx.checker.check_model(model)
        assert model.opset_import[0].version == 17
        assert [i.name for i in model.graph.input] == [i["name"] for i in g["inputs"]], name
        assert [o.name for o in model.graph.output] == [o["name"] for o in g["outputs"]], name
        assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch", name


def test_manifest_records_the_scoring_the_export_was_asked_for(bundle):
    sc = bundle["manifest"]["scoring"]
    assert (sc["sigma"], sc["poolKernel"], sc["poolRounds"], sc["truncate"]) == (3, 4, 6, 4)


def test_manifest_records_the_draws_and_golden_holds_one_draw(bundle):
    assert bundle["manifest"]["sampler"]["draws"] == 2
    assert bundle["index"]["draws"] == 1


def test_export_rejects_draws_out_of_range(tmp_path):
    for bad in ("0", "65"):
        with pytest.raises(SystemExit, match=r"--draws: expected an integer in \[1, 64\]"):
            export.main(["--random", "micro", "--out", str(tmp_path / "b"), "--draws", bad])


def test_unbundle_rebuilds_the_exact_weights_from_the_onnx_graphs(bundle):
    from tools.diad import unbundle

    model, ckpt = unbundle.rebuild(str(bundle["dir"]))
    want = bundle["model"].state_dict()
    got = model.state_dict()
    assert set(got) == set(want)
    # The random export perturbs every SG zero conv, but DiAD connects only some SG outputs: the exporter drops the
    # others, and the rebuild leaves them at their initial zeros.
    unused = unbundle.unused_parameters(bundle["model"], unbundle.graph_wrappers(bundle["model"]))
    assert unused and all(".zero_convs." in k for k in unused)
    for k in want:
        if k in unused:
            assert not got[k].any(), k
        else:
            assert torch.equal(got[k], want[k]), k
    assert ckpt["features"]["layers"] == bundle["manifest"]["features"]["layers"]
    assert ckpt["calibration"] == bundle["manifest"]["calibration"]
    diffs = unbundle.check_against_golden(model, str(bundle["dir"]))
    assert {"mean", "z0", "recon", "eps_0"} <= set(diffs)
    assert max(diffs.values()) <= 1e-5


def test_unbundle_names_what_it_cannot_rebuild(bundle, tmp_path):
    import shutil

    from tools.diad import unbundle

    broken = tmp_path / "broken"
    shutil.copytree(bundle["dir"], broken)
    m = json.loads((broken / "manifest.json").read_text())
    m["source"]["config"] = "no-such-config"
    (broken / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="source.config 'no-such-config'"):
        unbundle.rebuild(str(broken))
    g = onnx.load(str(broken / "decoder.onnx"))
    keep = [i for i in g.graph.initializer if not i.name.endswith("conv_out.weight")]
    del g.graph.initializer[:]
    g.graph.initializer.extend(keep)
    onnx.save(g, str(broken / "decoder.onnx"))
    m["source"]["config"] = bundle["manifest"]["source"]["config"]
    (broken / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=r"weights missing \(\['first_stage_model.decoder.conv_out.weight'\]\)"):
        unbundle.rebuild(str(broken))
    with pytest.raises(SystemExit, match="no manifest.json"):
        unbundle.main(["--bundle", str(tmp_path), "--out", str(tmp_path / "x.pt")])


def test_export_rejects_a_scoring_out_of_range(tmp_path):
    with pytest.raises(SystemExit, match="--sigma"):
        export.main(["--random", "micro", "--out", str(tmp_path / "b"), "--sigma", "0"])
    with pytest.raises(SystemExit, match="--pool-kernel"):
        export.main(["--random", "micro", "--out", str(tmp_path / "b"), "--pool-kernel", "0"])


def test_manifest_lists_every_file_with_its_sha256(bundle):
    files = bundle["manifest"]["files"]
    assert set(files) == {"encoder.onnx", "denoiser.onnx", "decoder.onnx", "features.onnx"}
    for f, info in files.items():
        data = (bundle["dir"] / f).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    cal = bundle["manifest"]["calibration"]
    assert cal["normalScores"]["count"] == 2 and cal["imageThreshold"] >= cal["normalScores"]["max"] - 1e-12


def test_manifest_passes_the_protocol_schema(bundle):
    ok, out = check_manifest(str(bundle["dir"] / "manifest.json"))
    assert ok, out


def test_tar_holds_the_bundle_files_at_top_level(bundle):
    with tarfile.open(str(bundle["dir"]) + ".tar") as tar:
        names = set(tar.getnames())
        assert tar.getmember("manifest.json").isfile()
    assert {"manifest.json", "encoder.onnx", "denoiser.onnx", "decoder.onnx", "features.onnx"} <= names


def test_golden_index_points_to_raw_float32_files_of_the_stated_shapes(bundle):
    idx = bundle["index"]
    case = idx["cases"][0]
    assert idx["timesteps"] == [667, 334, 1]
    for name, t in case["tensors"].items():
        size = os.path.getsize(bundle["dir"] / "golden" / t["file"])
        assert size == 4 * int(np.prod(t["shape"])), name
    assert {"x", "n1", "n2", "z0", "zS", "eps_2", "z_0", "recon", "map_raw", "map", "score"} <= set(case["tensors"])


def _load(bundle, case, key):
    t = case["tensors"][key]
    return np.fromfile(bundle["dir"] / "golden" / t["file"], dtype="<f4").reshape(t["shape"])


@needs_ort
def test_onnx_denoiser_eps_equals_torch(bundle):
    model = bundle["model"]
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 4, 16, 16, generator=g)
    x = torch.randn(2, 3, 128, 128, generator=g)
    t = torch.tensor([901, 17])
    with torch.no_grad():
        ref = model.eps(z, t, x).numpy()
    got = ort_run(str(bundle["dir"] / "denoiser.onnx"), {"z_t": z.numpy(), "t": t.numpy(), "hint": x.numpy()})
    assert np.abs(got["eps"] - ref).max() <= 1e-4


@needs_ort
def test_onnx_pipeline_reproduces_the_golden_anomaly_map(bundle):
    """Runs docs/bundle.md step by step on the ONNX graphs with the golden noise."""
    m = bundle["manifest"]
    case = bundle["index"]["cases"][0]
    d = bundle["dir"]
    x = _load(bundle, case, "x")
    enc = ort_run(str(d / "encoder.onnx"), {"image": x})
    np.testing.assert_allclose(enc["mean"], _load(bundle, case, "mean"), atol=1e-4)
    scale = m["latent"]["scale"]
    ac = bundle["model"].alphas_cumprod.double().numpy()
    z0 = scale * (enc["mean"] + np.exp(0.5 * enc["logvar"]) * _load(bundle, case, "n1"))
    s = m["sampler"]["startStep"]
    z = (np.sqrt(ac[s]) * z0 + np.sqrt(1 - ac[s]) * _load(bundle, case, "n2")).astype(np.float32)
    taus = bundle["index"]["timesteps"]
    for i, tau in enumerate(taus):
        eps = ort_run(str(d / "denoiser.onnx"), {"z_t": z, "t": np.array([tau], np.int64), "hint": x})["eps"]
        k = len(taus) - 1 - i
        np.testing.assert_allclose(eps, _load(bundle, case, f"eps_{k}"), atol=1e-4)
        a_prev = ac[taus[i + 1]] if i + 1 < len(taus) else ac[0]
        x0 = (z - np.sqrt(1 - ac[tau]) * eps) / np.sqrt(ac[tau])
        z = (np.sqrt(a_prev) * x0 + np.sqrt(1 - a_prev) * eps).astype(np.float32)
    recon = ort_run(str(d / "decoder.onnx"), {"z": (z / scale).astype(np.float32)})["image"]
    np.testing.assert_allclose(recon, _load(bundle, case, "recon"), atol=1e-3)
    fi = ort_run(str(d / "features.onnx"), {"image": x})
    fr = ort_run(str(d / "features.onnx"), {"image": recon})
    names = sorted(fi)
    raw = raw_map([torch.from_numpy(fi[n]) for n in names], [torch.from_numpy(fr[n]) for n in names], 128).numpy()
    amap = blur(raw, m["scoring"]["sigma"], m["scoring"]["truncate"])
    assert np.abs(amap - _load(bundle, case, "map")).max() <= 1e-3
    score = image_score(amap[0], m["scoring"]["poolKernel"], m["scoring"]["poolRounds"])
    assert abs(score - float(_load(bundle, case, "score")[0])) <= 1e-3


def test_export_rejects_a_missing_checkpoint(tmp_path):
    with pytest.raises(SystemExit, match="--checkpoint"):
        export.main(["--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "b")])


def test_export_rejects_a_file_that_is_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(1)}, bad)
    with pytest.raises(SystemExit, match="neither"):
        export.main(["--checkpoint", str(bad), "--out", str(tmp_path / "b")])


def test_resnet_features_need_weights(tmp_path):
    with pytest.raises(SystemExit, match="features-weights"):
        export.main(["--random", "micro", "--features", "resnet50", "--out", str(tmp_path / "b")])


def test_manifest_training_summary_gives_the_steps_each_stage_really_ran():
    ckpt = {"training": {"steps": {"ae": 100, "unet": 100, "diad": 100}}, "stopped": {"ae": 40},
            "seconds": {"ae": 60.0, "unet": 30.0, "diad": 90.0}}  # fmt: skip
    summary = export.training_summary(ckpt)
    assert summary["stepsRun"] == {"ae": 40, "unet": 100, "diad": 100}
    assert summary["seconds"] == {"ae": 60.0, "unet": 30.0, "diad": 90.0}
    assert ckpt["training"] == {"steps": {"ae": 100, "unet": 100, "diad": 100}}  # the checkpoint is not changed


def test_training_summary_of_a_continued_run_adds_the_earlier_runs_steps_and_time():
    earlier = {"dataset": "d", "steps": {"ae": 9, "unet": 9, "diad": 9}, "lr": {"ae": 1, "unet": 2, "diad": 3},
               "stepsRun": {"ae": 5, "unet": 6, "diad": 7}, "seconds": {"ae": 10.0, "unet": 20.0, "diad": 30.0}}  # fmt: skip
    ckpt = {"training": {"dataset": "d", "steps": {"ae": 600, "unet": 800, "diad": 100}, "lr": {"ae": 1, "unet": 1, "diad": 4},
                         "initFrom": {"checkpoint": "/x.pt", "training": earlier}},
            "stopped": {"diad": 40}, "seconds": {"diad": 12.5}}  # fmt: skip
    t = export.training_summary(ckpt)
    assert t["stepsRun"] == {"ae": 5, "unet": 6, "diad": 47}
    assert t["seconds"] == {"ae": 10.0, "unet": 20.0, "diad": 42.5}
    assert t["stepsThisRun"] == {"diad": 40} and t["lr"] == {"diad": 4} and "steps" not in t
    assert t["continuedFrom"]["lr"] == {"ae": 1, "unet": 2, "diad": 3} and "stepsRun" not in t["continuedFrom"]
