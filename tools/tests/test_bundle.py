import os

import onnx
import torch

from tools.diad import bundle as B
from tools.diad.config import get_config
from tools.diad.model import DiAD


def test_external_data_gathers_all_tensors_into_one_file(tmp_path):
    model = DiAD(get_config("micro")).eval()
    path = tmp_path / "decoder.onnx"
    z = torch.randn(2, 4, 16, 16)
    files = B.export_graph(B.DecoderGraph(model.first_stage_model).eval(), (z,), str(path), ["z"], ["image"], "always")
    assert files == ["decoder.onnx", "decoder.onnx.data"]
    assert sorted(os.listdir(tmp_path)) == ["decoder.onnx", "decoder.onnx.data"]  # no stray per-tensor files
    assert os.path.getsize(tmp_path / "decoder.onnx.data") > os.path.getsize(path)
    loaded = onnx.load(str(path))  # resolves the external file
    assert any(init.data_location == onnx.TensorProto.EXTERNAL for init in onnx.load(str(path), load_external_data=False).graph.initializer)
    assert len(loaded.graph.initializer) > 0


def test_tar_is_ustar_with_sorted_top_level_members(tmp_path):
    import tarfile

    d = tmp_path / "b"
    (d / "golden").mkdir(parents=True)
    (d / "manifest.json").write_text("{}")
    (d / "a.onnx").write_bytes(b"x" * 10)
    (d / "golden" / "index.json").write_text("{}")
    B.write_tar(str(d), str(tmp_path / "b.tar"))
    with tarfile.open(tmp_path / "b.tar") as tar:
        assert tar.getnames() == ["a.onnx", "manifest.json", "golden/index.json"]
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
    assert B.sha256_file(str(d / "a.onnx")) == __import__("hashlib").sha256(b"x" * 10).hexdigest()
