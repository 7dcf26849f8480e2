"""Compiles a bundle's graphs into TensorRT engines embedded in ONNX "EP context" graphs: a bundle variant for one
GPU architecture and TensorRT version, so an agent starts without building engines (the Node API of ONNX Runtime
cannot pass TensorRT options such as fp16 or an engine cache; an EP-context graph carries the built engine).

    python3 -m tools.diad.compile --bundle <dir> [--precision fp16|fp32] [--graphs denoiser encoder decoder features]
        [--device-id 0] [--max-batch 4] [--name <variant>]

Runs on the target GPU box with ONNX Runtime's Python GPU package (`onnxruntime-gpu`, TensorRT execution provider)
and TensorRT 10 libraries. Elsewhere it refuses and names what is missing. Writes
<bundle>/variants/<name>/<graph>.onnx and adds to manifest.json (both additive: agents without variant support
ignore them):
  variants[]: {name, provider: "tensorrt", precision, computeCapability "8.7", tensorrtVersion,
               onnxruntimeVersion, graphs: {<graph>: <the plain graph's entry with the engine graph's file>}}
               (docs/bundle.md, "Variants"; packages/pipeline chooses the variant that fits the device)
  files[<variants/name/graph.onnx>]: {sha256, bytes}    (so a signature over the manifest covers the engines)
Agents load the variant whose compute capability and TensorRT version match their device, else the plain graphs.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys

from . import bundle as B

GRAPHS = ("encoder", "denoiser", "decoder", "features")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Missing(Exception):
    pass


def tensorrt_version():
    """TensorRT version from the Python package or libnvinfer's getInferLibVersion()."""
    try:
        import tensorrt  # noqa: F401

        return tensorrt.__version__
    except ImportError:
        pass
    for lib in ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"):
        try:
            v = ctypes.CDLL(lib).getInferLibVersion()
        except (OSError, AttributeError):
            continue
        major, minor, patch = (v // 10000, (v // 100) % 100, v % 100) if v >= 10000 else (v // 1000, (v // 100) % 10, v % 100)
        return f"{major}.{minor}.{patch}"
    raise Missing("TensorRT libraries (libnvinfer.so.10 or the `tensorrt` Python package); install TensorRT 10")


def compute_capability(device_id=0):
    try:
        import torch

        if torch.cuda.is_available():
            return "%d.%d" % torch.cuda.get_device_capability(device_id)
    except ImportError:
        pass
    exe = shutil.which("nvidia-smi")
    if exe:
        res = subprocess.run([exe, "--query-gpu=compute_cap", "--format=csv,noheader", f"--id={device_id}"],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        if res.returncode == 0 and re.match(r"^\d+\.\d+$", res.stdout.strip()):
            return res.stdout.strip()
    raise Missing(f"an NVIDIA GPU {device_id} (no CUDA device seen by torch, no nvidia-smi answer)")


def environment(device_id=0):
    """{onnxruntime, tensorrt, computeCapability} or SystemExit naming everything that is missing."""
    missing, env = [], {}
    try:
        import onnxruntime as ort

        env["onnxruntimeVersion"] = ort.__version__
        if "TensorrtExecutionProvider" not in ort.get_available_providers():
            missing.append(f"ONNX Runtime's TensorRT execution provider (onnxruntime {ort.__version__} offers "
                           f"{', '.join(ort.get_available_providers())}; install onnxruntime-gpu)")  # fmt: skip
    except ImportError:
        missing.append("the Python module onnxruntime with the TensorRT execution provider (pip install onnxruntime-gpu)")
    for key, fn in (("tensorrtVersion", tensorrt_version), ("computeCapability", lambda: compute_capability(device_id))):
        try:
            env[key] = fn()
        except Missing as e:
            missing.append(str(e))
    if missing:
        raise SystemExit("compile: cannot build TensorRT engines here; missing: " + "; ".join(missing))
    return env


def variant_name(env, precision):
    cc = env["computeCapability"].replace(".", "")
    trt = ".".join(env["tensorrtVersion"].split(".")[:2])
    return f"trt-sm{cc}-trt{trt}-{precision}"


def profile_shapes(spec, batch):
    """TensorRT profile strings for a graph's inputs: batch 1 .. max, fixed other dimensions."""
    def one(b):
        return ",".join(f"{t['name']}:{'x'.join(str(b if d == 'batch' else d) for d in t['shape'])}" for t in spec["inputs"])

    return one(1), one(1), one(batch)


def compile_graph(src, dst, spec, precision, device_id, max_batch, cache_dir):
    import onnxruntime as ort

    lo, opt, hi = profile_shapes(spec, max_batch)
    trt = {"device_id": device_id, "trt_fp16_enable": precision == "fp16", "trt_engine_cache_enable": True,
           "trt_engine_cache_path": cache_dir, "trt_dump_ep_context_model": True, "trt_ep_context_file_path": dst,
           "trt_ep_context_embed_mode": 1, "trt_profile_min_shapes": lo, "trt_profile_opt_shapes": opt,
           "trt_profile_max_shapes": hi}  # fmt: skip
    so = ort.SessionOptions()
    ort.InferenceSession(src, so, providers=[("TensorrtExecutionProvider", trt)])
    if not os.path.exists(dst):
        raise SystemExit(f"compile: ONNX Runtime wrote no EP-context graph for {src} (an onnxruntime-gpu before 1.17?)")


def add_variant(manifest, name, env, precision, max_batch, bundle_dir, graph_files):
    """Adds (or replaces) variant `name` in the manifest and its files with sha256 and size; returns the entry."""
    if not NAME_RE.match(name):
        raise SystemExit(f"--name: expected lowercase letters, digits, '.', '_' or '-', got {name!r}")
    entry = {"name": name, "provider": "tensorrt", "precision": precision, "computeCapability": env["computeCapability"],
             "tensorrtVersion": env["tensorrtVersion"], "graphs": {}}  # fmt: skip
    if env.get("onnxruntimeVersion"):
        entry["onnxruntimeVersion"] = env["onnxruntimeVersion"]
    old = [v for v in manifest.get("variants", []) if v["name"] == name]
    for v in old:
        for g in v["graphs"].values():
            manifest["files"].pop(g["file"], None)
    for graph, rel in graph_files.items():
        path = os.path.join(bundle_dir, rel)
        manifest["files"][rel] = {"sha256": B.sha256_file(path), "bytes": os.path.getsize(path)}
        # the plain graph's entry (same inputs and outputs, batch up to max_batch) with the engine graph's file
        entry["graphs"][graph] = {**manifest["graphs"][graph], "file": rel, "precision": precision}
    manifest["variants"] = [v for v in manifest.get("variants", []) if v["name"] != name] + [entry]
    return entry


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", required=True)
    p.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    p.add_argument("--graphs", nargs="+", choices=GRAPHS, default=list(GRAPHS))
    p.add_argument("--device-id", type=int, default=0)
    p.add_argument("--max-batch", type=int, default=4)
    p.add_argument("--name", help="variant name (default trt-sm<cc>-trt<major.minor>-<precision>)")
    args = p.parse_args(argv)
    man_path = os.path.join(args.bundle, "manifest.json")
    if not os.path.isfile(man_path):
        raise SystemExit(f"--bundle: no manifest.json in {args.bundle}")
    with open(man_path) as f:
        manifest = json.load(f)
    env = environment(args.device_id)
    name = args.name or variant_name(env, args.precision)
    out_dir = os.path.join(args.bundle, "variants", name)
    os.makedirs(out_dir, exist_ok=True)
    cache = os.path.join(out_dir, ".cache")
    os.makedirs(cache, exist_ok=True)
    graph_files = {}
    for g in args.graphs:
        spec = manifest["graphs"][g]
        rel = f"variants/{name}/{g}.onnx"
        print(f"compiling {g} for sm{env['computeCapability']} TensorRT {env['tensorrtVersion']} {args.precision} ...",
              file=sys.stderr)  # fmt: skip
        compile_graph(os.path.join(args.bundle, spec["file"]), os.path.join(args.bundle, rel), spec, args.precision,
                      args.device_id, args.max_batch, cache)  # fmt: skip
        graph_files[g] = rel
    shutil.rmtree(cache, ignore_errors=True)
    entry = add_variant(manifest, name, env, args.precision, args.max_batch, args.bundle, graph_files)
    with open(man_path, "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(entry))


if __name__ == "__main__":
    main()
