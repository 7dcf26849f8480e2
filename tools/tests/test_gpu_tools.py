"""GPU-path tools that can be checked on a CPU: fp16 graphs (export --precision fp16) against fp32 in ONNX Runtime
CPU, and tools.diad.compile (TensorRT EP-context variants): its refusal without a GPU stack and its manifest entry."""

import json
import os
import shutil

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from tools.diad import compile as K
from tools.diad import export, fp16

from .helpers import check_manifest, ort_available, ort_run

needs_ort = pytest.mark.skipif(not ort_available(), reason="node + onnxruntime-node not installed")

# Parity limits of fp16 graphs against fp32 (largest |difference| over the largest |fp32 output|), met by the micro
# test model and by models/diad-synth-tiny (tools/README.md lists the measured values).
FP16_LIMITS = {"encoder": 0.01, "denoiser": 0.01, "decoder": 0.01}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp16")
    rng = np.random.default_rng(0)
    img = root / "img.png"
    Image.fromarray(np.clip(128 + 30 * rng.standard_normal((128, 128, 3)), 0, 255).astype(np.uint8)).save(img)
    ckpt = root / "r.pt"
    base = ["--out", str(root / "b32"), "--calib-images", str(img), "--steps", "2"]
    export.main(["--random", "micro", "--save-checkpoint", str(ckpt), *base])
    # the same graphs again through `export --precision fp16`, without a second (slow) torch.onnx.export
    real = export.export_graphs

    def copy_graphs(model, features, out, external="auto"):
        for f in ("encoder", "denoiser", "decoder", "features"):
            shutil.copy(root / "b32" / f"{f}.onnx", os.path.join(out, f"{f}.onnx"))
        with torch.no_grad():
            shapes = [tuple(f.shape[1:]) for f in features(torch.zeros(1, 3, 128, 128))]
        return [f"{g}.onnx" for g in ("encoder", "denoiser", "decoder", "features")], shapes

    export.export_graphs = copy_graphs
    try:
        m16 = export.main(["--checkpoint", str(ckpt), "--out", str(root / "b16"), "--calib-images", str(img),
                           "--steps", "2", "--precision", "fp16"])  # fmt: skip
    finally:
        export.export_graphs = real
    return root / "b32", root / "b16", m16


def test_fp16_export_keeps_io_fp32_and_sensitive_ops_fp32(bundles):
    b32, b16, m16 = bundles
    assert [g for g, s in m16["graphs"].items() if s.get("precision") == "fp16"] == ["encoder", "denoiser", "decoder"]
    assert open(b16 / "features.onnx", "rb").read() == open(b32 / "features.onnx", "rb").read()  # stays fp32
    ok, out = check_manifest(str(b16 / "manifest.json"))
    assert ok, out
    for g in ("encoder", "denoiser", "decoder"):
        m = onnx.load(str(b16 / f"{g}.onnx"))
        io = list(m.graph.input) + list(m.graph.output)
        assert all(v.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64) for v in io)
        big = [t for t in m.graph.initializer if len(t.dims) >= 2]
        assert big and all(t.data_type == onnx.TensorProto.FLOAT16 for t in big), g
        inferred = onnx.shape_inference.infer_shapes(m)
        types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
        norms = [n for n in m.graph.node if n.op_type in ("InstanceNormalization", "Softmax", "Sin", "Cos")]
        assert all(types.get(n.output[0]) == onnx.TensorProto.FLOAT for n in norms), g
        assert fp16.stats(m)["fp16Ops"] > fp16.stats(m)["fp32Ops"]
    # the weights take half the bytes (the micro graphs' files are mostly graph structure)
    def weight_bytes(b):
        return sum(len(t.raw_data) for g in ("encoder", "denoiser", "decoder")
                   for t in onnx.load(str(b / f"{g}.onnx")).graph.initializer)  # fmt: skip

    assert weight_bytes(b16) < 0.55 * weight_bytes(b32)


@needs_ort
def test_fp16_graphs_match_fp32_within_the_stated_limits_in_onnxruntime_cpu(bundles):
    b32, b16, _ = bundles
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 128, 128)).astype(np.float32)
    z = rng.standard_normal((2, 4, 16, 16)).astype(np.float32)
    feeds = {"encoder": {"image": x}, "decoder": {"z": z},
             "denoiser": {"z_t": z, "t": np.array([901, 1], np.int64), "hint": x}}  # fmt: skip
    for g, inputs in feeds.items():
        a, b = ort_run(str(b32 / f"{g}.onnx"), inputs), ort_run(str(b16 / f"{g}.onnx"), inputs)
        for k in a:
            rel = float(np.abs(a[k] - b[k]).max() / np.abs(a[k]).max())
            assert 0 < rel <= FP16_LIMITS[g], (g, k, rel)


def test_compile_refuses_without_the_gpu_stack_and_names_what_is_missing(bundles, monkeypatch):
    b32, _, _ = bundles
    monkeypatch.setattr(K, "tensorrt_version", lambda: (_ for _ in ()).throw(K.Missing("TensorRT libraries (x)")))
    try:
        import onnxruntime  # noqa: F401

        has_ort = True
    except ImportError:
        has_ort = False
    with pytest.raises(SystemExit) as e:
        K.main(["--bundle", str(b32)])
    msg = str(e.value)
    assert msg.startswith("compile: cannot build TensorRT engines here; missing:") and "TensorRT libraries" in msg
    if not has_ort:
        assert "onnxruntime-gpu" in msg
    assert not (b32 / "variants").exists()
    with pytest.raises(SystemExit, match="no manifest.json"):
        K.main(["--bundle", str(b32 / "nope")])


def test_a_compiled_variant_is_listed_with_its_device_and_checksum_and_passes_the_contract(bundles, tmp_path):
    b32, _, _ = bundles
    b = tmp_path / "b"
    shutil.copytree(b32, b)
    manifest = json.load(open(b / "manifest.json"))
    env = {"computeCapability": "8.7", "tensorrtVersion": "10.3.0", "onnxruntimeVersion": "1.20.1"}
    name = K.variant_name(env, "fp16")
    assert name == "trt-sm87-trt10.3-fp16"
    (b / "variants" / name).mkdir(parents=True)
    shutil.copy(b / "denoiser.onnx", b / "variants" / name / "denoiser.onnx")  # stands in for the engine graph
    entry = K.add_variant(manifest, name, env, "fp16", 4, str(b), {"denoiser": f"variants/{name}/denoiser.onnx"})
    K.add_variant(manifest, name, env, "fp16", 4, str(b), {"denoiser": f"variants/{name}/denoiser.onnx"})  # again
    assert len(manifest["variants"]) == 1 and entry["provider"] == "tensorrt" and entry["computeCapability"] == "8.7"
    assert entry["graphs"]["denoiser"]["inputs"] == manifest["graphs"]["denoiser"]["inputs"]
    assert manifest["files"][f"variants/{name}/denoiser.onnx"]["sha256"] == manifest["files"]["denoiser.onnx"]["sha256"]
    json.dump(manifest, open(b / "manifest.json", "w"))
    ok, out = check_manifest(str(b / "manifest.json"))
    assert ok and f"variants/{name}/denoiser.onnx" in out, out
    lo, opt, hi = K.profile_shapes(manifest["graphs"]["denoiser"], 4)
    assert lo == "z_t:1x4x16x16,t:1,hint:1x3x128x128" and hi == "z_t:4x4x16x16,t:4,hint:4x3x128x128"
