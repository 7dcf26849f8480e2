"""Export of an official-layout DiAD checkpoint (official key names, micro widths, random weights): every missing or
wrong input is refused by name before anything is written, and a complete command writes a bundle scored with the
official ResNet50 layers 1-3 whose manifest records the feature weights' origin and sha256."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tools.diad import export

from .helpers import check_manifest, ort_available
from .test_official import official_style_checkpoint


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    ckpt, _ = official_style_checkpoint(root)
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None)
    # layer4 and fc are never used for scoring: a trimmed state dict keeps the test small
    r50 = root / "resnet50.pth"
    torch.save({k: v for k, v in net.state_dict().items() if not k.startswith(("layer4.", "fc."))}, r50)
    rng = np.random.default_rng(0)
    calib = []
    for i in range(2):
        path = root / f"good{i}.png"
        Image.fromarray(rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)).save(path)
        calib.append(str(path))
    broken = root / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return {"root": root, "ckpt": str(ckpt), "r50": str(r50), "calib": calib, "broken": str(broken)}


def base_args(inputs, out):
    return ["--checkpoint", inputs["ckpt"], "--official-config", "micro", "--out", str(out), "--steps", "1",
            "--start-step", "99"]  # fmt: skip


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--features-weights", "R50"], "no calibration: pass --calib-data"),
        (["--features-weights", "R50", "--calib-images", "MISSING"], "--calib-images: no file"),
        (["--features-weights", "R50", "--calib-images", "BROKEN"], "calibration: image .*broken.png: cannot be read"),
        (["--features-weights", "R50", "--calib-data", "NODIR"], "--calib-data: --data: no directory"),
        (["--features", "mobilenet_v2", "--calib-images", "GOOD"], "official DiAD checkpoint was trained .* resnet50"),
        (["--features", "vgg16", "--calib-images", "GOOD"], "--features: expected one of"),
        (["--calib-images", "GOOD"], "--features resnet50: needs --features-weights"),
        (["--features-weights", "MISSING", "--calib-images", "GOOD"], "--features-weights: no file"),
        (["--features-weights", "NOTR50", "--calib-images", "GOOD"], "--features resnet50: --features-weights"),
        (["--features-weights", "R50", "--feature-layers", "layer2", "layer3", "--calib-images", "GOOD"],
         "--feature-layers: resnet50 features are layer1 layer2 layer3"),
        (["--features-weights", "R50", "--context", "MISSING", "--calib-images", "GOOD"], "--context: no file"),
        (["--features-weights", "R50", "--calib-images", "GOOD", "--start-step", "1000"], "--start-step: expected"),
        (["--features-weights", "R50", "--calib-images", "GOOD", "--steps", "101"], "--steps: expected"),
    ],
)  # fmt: skip
def test_official_export_refuses_each_missing_input_before_writing(inputs, tmp_path, extra, message):
    subst = {"MISSING": str(tmp_path / "absent"), "BROKEN": inputs["broken"], "NODIR": str(tmp_path / "nodir"),
             "GOOD": inputs["calib"][0], "R50": inputs["r50"],
             "NOTR50": str(inputs["root"] / "good0.png")}  # fmt: skip
    if "NOTR50" in extra:
        subst["NOTR50"] = str(tmp_path / "other.pth")
        torch.save({"conv1.weight": torch.zeros(3)}, subst["NOTR50"])
    out = tmp_path / "bundle"
    with pytest.raises(SystemExit, match=message):
        export.main(base_args(inputs, out) + [subst.get(a, a) for a in extra])
    assert not out.exists(), "a refused export must not write anything"


def test_official_export_writes_a_resnet50_bundle_with_the_weights_recorded(inputs, tmp_path):
    out = tmp_path / "official-micro"
    m = export.main(base_args(inputs, out) + ["--features-weights", inputs["r50"], "--features-origin",
                                              "test: random torchvision resnet50", "--calib-images", inputs["calib"][0]])  # fmt: skip
    assert m["source"]["config"] == "official"
    f = m["features"]
    assert (f["network"], f["layers"]) == ("resnet50", ["layer1", "layer2", "layer3"])
    with open(inputs["r50"], "rb") as fh:
        sha = hashlib.sha256(fh.read()).hexdigest()
    assert f["weights"] == {"origin": "test: random torchvision resnet50", "file": "resnet50.pth", "sha256": sha}
    assert [o["shape"][1] for o in m["graphs"]["features"]["outputs"]] == [256, 512, 1024]
    assert json.loads((out / "manifest.json").read_text())["features"] == f
    if ort_available():
        ok, msg = check_manifest(str(out / "manifest.json"))
        assert ok, msg


def test_allow_feature_mismatch_lifts_only_the_network_refusal(inputs, tmp_path):
    out = tmp_path / "mismatch"
    # with the flag the export gets past the network check and stops at the next missing input (no calibration)
    with pytest.raises(SystemExit, match="no calibration"):
        export.main(base_args(inputs, out) + ["--features", "mobilenet_v2", "--allow-feature-mismatch"])
    assert not out.exists()
