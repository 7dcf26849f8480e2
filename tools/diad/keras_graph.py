"""Runs a Keras functional-model layer list (the subset MobileNetV2 uses) in torch, NCHW."""

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = {"InputLayer", "ZeroPadding2D", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Add"}


def _same_pad(k, stride):
    if stride != 1:
        raise ValueError("'same' padding is only supported with stride 1 here")
    return k // 2


class KerasGraph(nn.Module):
    """`layers`: list of {name, class_name, config, inputs}; weights in `state_dict` keyed `<layer>.<param>`."""

    def __init__(self, layers, outputs):
        super().__init__()
        self.layers = layers
        self.outputs = list(outputs)
        names = {spec["name"] for spec in layers}
        missing = [o for o in self.outputs if o not in names]
        if missing:
            raise ValueError(f"features.layers: {missing} not in the converted graph")
        self.params = nn.ParameterDict()
        for spec in layers:
            if spec["class_name"] not in SUPPORTED:
                raise ValueError(f"layer {spec['name']}: unsupported class {spec['class_name']}")
            cfg = spec["config"]
            key = spec["name"].replace(".", "_")
            if spec["class_name"] == "Conv2D":
                self.params[key + "__w"] = nn.Parameter(torch.zeros(cfg["filters"], cfg["in"], *cfg["kernel_size"]))
                if cfg["use_bias"]:
                    self.params[key + "__b"] = nn.Parameter(torch.zeros(cfg["filters"]))
            elif spec["class_name"] == "DepthwiseConv2D":
                c = cfg["in"] * cfg.get("depth_multiplier", 1)
                self.params[key + "__w"] = nn.Parameter(torch.zeros(c, 1, *cfg["kernel_size"]))
                if cfg["use_bias"]:
                    self.params[key + "__b"] = nn.Parameter(torch.zeros(c))
            elif spec["class_name"] == "BatchNormalization":
                # Frozen BN as an affine map: precomputed scale and shift.
                self.params[key + "__scale"] = nn.Parameter(torch.ones(cfg["in"]))
                self.params[key + "__shift"] = nn.Parameter(torch.zeros(cfg["in"]))
        self._last = max(i for i, s in enumerate(layers) if s["name"] in self.outputs)

    def forward(self, x):
        acts = {}
        for spec in self.layers[: self._last + 1]:
            cls, cfg = spec["class_name"], spec["config"]
            key = spec["name"].replace(".", "_")
            ins = [acts[i] for i in spec["inputs"]]
            if cls == "InputLayer":
                y = x
            elif cls == "ZeroPadding2D":
                (t, b), (l, r) = cfg["padding"]
                y = F.pad(ins[0], (l, r, t, b))
            elif cls in ("Conv2D", "DepthwiseConv2D"):
                k, s = cfg["kernel_size"][0], cfg["strides"][0]
                pad = _same_pad(k, s) if cfg["padding"] == "same" else 0
                groups = ins[0].shape[1] if cls == "DepthwiseConv2D" else 1
                bias = self.params[key + "__b"] if cfg["use_bias"] else None
                y = F.conv2d(ins[0], self.params[key + "__w"], bias, stride=s, padding=pad, groups=groups)
            elif cls == "BatchNormalization":
                y = ins[0] * self.params[key + "__scale"][None, :, None, None] + self.params[key + "__shift"][
                    None, :, None, None
                ]
            elif cls == "ReLU":
                y = torch.clamp(ins[0], min=0.0, max=float(cfg["max_value"])) if cfg.get("max_value") else F.relu(ins[0])
            elif cls == "Add":
                y = ins[0]
                for other in ins[1:]:
                    y = y + other
            acts[spec["name"]] = y
        return [acts[o] for o in self.outputs]
