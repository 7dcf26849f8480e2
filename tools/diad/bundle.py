"""Writes the model bundle of docs/bundle.md: ONNX graphs, manifest.json with sha256, and the .tar."""

import datetime
import hashlib
import os
import tarfile
import tempfile

import onnx
import torch
from torch import nn

OPSET = 17
TWO_GB = 2 * 1024**3


class EncoderGraph(nn.Module):
    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, image):
        return self.ae.encode(image)


class DecoderGraph(nn.Module):
    def __init__(self, ae):
        super().__init__()
        self.ae = ae

    def forward(self, z):
        return self.ae.decode(z)


def _spec(name, shape, dtype="float32"):
    return {"name": name, "shape": list(shape), "dtype": dtype}


def export_graph(module, args, path, input_names, output_names, external="auto"):
    """torch.onnx.export with a dynamic "batch" axis, then onnx.checker; big graphs get one external data file.

    Exports into a scratch folder first: for models over 2 GB torch writes one file per tensor next to the
    graph; those are gathered into `<graph>.onnx.data` here. Returns the bundle files written.
    """
    dynamic = {n: {0: "batch"} for n in input_names + output_names}
    size = sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers()
    )
    big = external == "always" or (external == "auto" and size > TWO_GB * 0.9)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(path))) as scratch:
        tmp = os.path.join(scratch, os.path.basename(path))
        with torch.no_grad():
            torch.onnx.export(
                module, args, tmp, opset_version=OPSET, input_names=input_names, output_names=output_names,
                dynamic_axes=dynamic, do_constant_folding=True,
            )  # fmt: skip
        files = [os.path.basename(path)]
        if big:
            model = onnx.load(tmp, load_external_data=True)
            data_name = os.path.basename(path) + ".data"
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)  # fmt: skip
            files.append(data_name)
        else:
            os.replace(tmp, path)
    onnx.checker.check_model(path)
    return files


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_tar(bundle_dir, tar_path):
    """Uncompressed ustar of the bundle's files at the top level of the archive, sorted, fixed mtime."""
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for root, _, files in sorted(os.walk(bundle_dir)):
            for f in sorted(files):
                full = os.path.join(root, f)
                rel = os.path.relpath(full, bundle_dir)
                if os.path.abspath(full) == os.path.abspath(tar_path):
                    continue
                info = tar.gettarinfo(full, arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                with open(full, "rb") as fh:
                    tar.addfile(info, fh)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
