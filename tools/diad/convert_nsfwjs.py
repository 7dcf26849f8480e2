"""Rebuilds the frozen ImageNet MobileNetV2 layers of nsfwjs (MIT) as torch weights.

nsfwjs 4.3.0 ships Keras MobileNetV2 as a TF.js layers model in browserify bundles: `model.min.js` exports
the topology and weights manifest, `group1-shard*.min.js` export the weight bytes in base64, uint8-quantised
(value = q * scale + min). Layers up to `block_10_project_BN` are `trainable: false`: ImageNet weights.

    python3 -m tools.diad.convert_nsfwjs --model-dir <nsfwjs>/dist/models/mobilenet_v2 --out weights.pt
"""

import argparse
import base64
import glob
import os

import numpy as np
import torch

from .jsliteral import read_export
from .keras_graph import SUPPORTED

LAST_FROZEN = "block_10_project_BN"


def _dequantise(raw, spec):
    n = int(np.prod(spec["shape"])) if spec["shape"] else 1
    q = spec.get("quantization")
    if q is None:
        if spec["dtype"] != "float32":
            raise ValueError(f"weight {spec['name']}: unsupported dtype {spec['dtype']}")
        return np.frombuffer(raw, dtype="<f4", count=n), 4 * n
    qtype = {"uint8": np.uint8, "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}[q["dtype"]]
    size = np.dtype(qtype).itemsize * n
    vals = np.frombuffer(raw, dtype=qtype, count=n)
    if q["dtype"] == "float16":
        return vals.astype(np.float32), size
    return (vals.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32), size


def read_tfjs_model(model_dir):
    with open(os.path.join(model_dir, "model.min.js"), encoding="utf-8") as f:
        model = read_export(f.read())
    weights = {}
    for group in model["weightsManifest"]:
        blob = b""
        for path in group["paths"]:
            with open(os.path.join(model_dir, path + ".min.js"), encoding="utf-8") as f:
                blob += base64.b64decode(read_export(f.read()))
        offset = 0
        for spec in group["weights"]:
            arr, size = _dequantise(blob[offset:], spec)
            weights[spec["name"]] = arr.reshape(spec["shape"])
            offset += size
        if offset != len(blob):
            raise ValueError(f"weights: manifest describes {offset} bytes, shards hold {len(blob)}")
    return model, weights


def convert(model_dir, last=LAST_FROZEN):
    model, w = read_tfjs_model(model_dir)
    layers = model["modelTopology"]["model_config"]["config"]["layers"]
    out_layers, state = [], {}
    channels = {}
    for layer in layers:
        cls, cfg, name = layer["class_name"], dict(layer["config"]), layer["config"]["name"]
        if cls not in SUPPORTED:
            raise ValueError(f"layer {name}: unsupported class {cls}")
        inputs = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        key = name.replace(".", "_")
        if cls == "InputLayer":
            channels[name] = 3
        else:
            cfg["in"] = channels[inputs[0]]
            channels[name] = cfg["in"]
        if cls == "Conv2D":
            state[f"params.{key}__w"] = torch.from_numpy(np.ascontiguousarray(w[f"{name}/kernel"].transpose(3, 2, 0, 1)))
            if cfg["use_bias"]:
                state[f"params.{key}__b"] = torch.from_numpy(w[f"{name}/bias"].copy())
            channels[name] = cfg["filters"]
        elif cls == "DepthwiseConv2D":
            k = w[f"{name}/depthwise_kernel"]  # kh, kw, in, mult
            kh, kw, cin, mult = k.shape
            state[f"params.{key}__w"] = torch.from_numpy(np.ascontiguousarray(k.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)))
            if cfg["use_bias"]:
                state[f"params.{key}__b"] = torch.from_numpy(w[f"{name}/bias"].copy())
            channels[name] = cin * mult
        elif cls == "BatchNormalization":
            gamma = w[f"{name}/gamma"].astype(np.float64)
            beta = w[f"{name}/beta"].astype(np.float64)
            mean = w[f"{name}/moving_mean"].astype(np.float64)
            var = w[f"{name}/moving_variance"].astype(np.float64)
            scale = gamma / np.sqrt(var + cfg["epsilon"])
            state[f"params.{key}__scale"] = torch.from_numpy(scale.astype(np.float32))
            state[f"params.{key}__shift"] = torch.from_numpy((beta - mean * scale).astype(np.float32))
        keep = {k: cfg[k] for k in ("filters", "kernel_size", "strides", "padding", "use_bias", "padding",
                                    "max_value", "depth_multiplier", "in") if k in cfg}  # fmt: skip
        out_layers.append({"name": name, "class_name": cls, "config": keep, "inputs": inputs})
        if name == last:
            break
    else:
        raise ValueError(f"layer {last} not found")
    return {"network": "mobilenet_v2", "source": "nsfwjs 4.3.0 (MIT), frozen ImageNet layers",
            "layers": out_layers, "state_dict": state}  # fmt: skip


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="nsfwjs dist/models/mobilenet_v2 directory")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    if not glob.glob(os.path.join(args.model_dir, "model.min.js")):
        raise SystemExit(f"--model-dir: no model.min.js in {args.model_dir}")
    data = convert(args.model_dir)
    torch.save(data, args.out)
    n = sum(t.numel() for t in data["state_dict"].values())
    print(f"wrote {args.out}: {len(data['layers'])} layers, {n} parameters")


if __name__ == "__main__":
    main()
