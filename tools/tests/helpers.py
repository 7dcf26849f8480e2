"""Shared test helpers: run a graph in onnxruntime-node through tools/diad/ort_run.mjs."""

import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ORT_RUN = os.path.join(REPO, "tools", "diad", "ort_run.mjs")


def ort_available():
    return shutil.which("node") is not None and os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node"))


def ort_run(model_path, inputs):
    """inputs: name -> np.ndarray (float32 or int64). Returns name -> np.ndarray float32."""
    with tempfile.TemporaryDirectory() as d:
        spec = {"model": model_path, "inputs": {}, "outDir": d}
        for name, arr in inputs.items():
            arr = np.ascontiguousarray(arr)
            dtype = "int64" if arr.dtype == np.int64 else "float32"
            path = os.path.join(d, f"in_{name}.bin")
            arr.astype("<i8" if dtype == "int64" else "<f4").tofile(path)
            spec["inputs"][name] = {"file": path, "shape": list(arr.shape), "dtype": dtype}
        spec_path = os.path.join(d, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        res = subprocess.run(["node", ORT_RUN, spec_path], capture_output=True, text=True, cwd=REPO, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(res.stderr)
        shapes = json.loads(res.stdout.strip().splitlines()[-1])
        return {n: np.fromfile(os.path.join(d, f"{n}.f32"), dtype="<f4").reshape(s) for n, s in shapes.items()}


def check_manifest(path):
    """Runs parseManifest of @diad/protocol on a manifest; returns (ok, output)."""
    res = subprocess.run(
        ["npx", "tsx", "--conditions=@diad/source", "tools/diad/check_manifest.ts", path],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    return res.returncode == 0, res.stdout + res.stderr


def random_micro_checkpoint(path, seed=0):
    """Saves an untrained micro-config DiAD as a tools/diad checkpoint at `path`; returns the path as str."""
    import torch

    from tools.diad import checkpoint as C
    from tools.diad.config import get_config
    from tools.diad.model import DiAD

    ckpt = C.new_checkpoint(get_config("micro"))
    torch.manual_seed(seed)
    ckpt["model"] = DiAD(get_config("micro")).state_dict()
    C.save(str(path), ckpt)
    return str(path)
