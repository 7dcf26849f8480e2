import json
import os

import numpy as np
import pytest
import torch

from tools.diad.features import DEFAULT_MOBILENET_WEIGHTS, IMAGENET_MEAN, IMAGENET_STD, build_features

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "mobilenet_v2_tfjs.json")


def keras_input(size):
    h = np.arange(size, dtype=np.float64)[:, None, None]
    w = np.arange(size, dtype=np.float64)[None, :, None]
    c = np.arange(3, dtype=np.float64)[None, None, :]
    x = np.sin(0.1 * h * (c + 1) + 0.07 * w) * np.cos(0.05 * w * (c + 2))
    return torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1)[None]


def test_converted_mobilenet_matches_tfjs_activations():
    ref = json.load(open(FIXTURE))
    layers = list(ref["layers"])
    net = build_features("mobilenet_v2", DEFAULT_MOBILENET_WEIGHTS, layers)
    x = keras_input(ref["size"])  # in [-1, 1], what Keras expects
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    x_imagenet = ((x + 1) / 2 - mean) / std  # the bundle's input convention
    with torch.no_grad():
        outs = net(x_imagenet)
    for name, out in zip(layers, outs):
        r = ref["layers"][name]
        assert list(out.shape) == r["shape"], name
        got = out[0, :8, :6, :6].reshape(-1).numpy()
        np.testing.assert_allclose(got, np.array(r["slice_c8_h6_w6"]), atol=1e-3, rtol=0, err_msg=name)
        assert abs(out.mean().item() - r["mean"]) < 1e-3, name
        assert abs(out.std(unbiased=False).item() - r["std"]) < 1e-3, name
        if r.get("full"):
            np.testing.assert_allclose(out.reshape(-1).numpy(), np.array(r["full"]), atol=1e-3, rtol=0)


def test_unknown_feature_layer_is_rejected():
    with pytest.raises(ValueError, match="block_99_add"):
        build_features("mobilenet_v2", DEFAULT_MOBILENET_WEIGHTS, ["block_99_add"])


def test_resnet50_accepts_a_torchvision_state_dict(tmp_path):
    import torchvision

    sd = torchvision.models.resnet50(weights=None).state_dict()
    path = tmp_path / "r50.pth"
    torch.save(sd, path)
    net = build_features("resnet50", str(path))
    with torch.no_grad():
        outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(256, 16, 16), (512, 8, 8), (1024, 4, 4)]
    for key, value in net.layer1.state_dict().items():
        assert torch.equal(value, sd["layer1." + key])


def test_resnet_rejects_a_wrong_state_dict(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises((ValueError, RuntimeError)):
        build_features("resnet50", str(path))
