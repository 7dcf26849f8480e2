"""Frozen ImageNet feature CNNs for scoring. Input: ImageNet mean/std normalised RGB (the bundle's input)."""

import os

import torch
from torch import nn

from .keras_graph import KerasGraph

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_MOBILENET_WEIGHTS = os.path.join(os.path.dirname(__file__), "weights", "mobilenet_v2_nsfwjs.pt")
DEFAULT_MOBILENET_LAYERS = ("block_2_add", "block_5_add", "block_9_add")
RESNET_LAYERS = ("layer1", "layer2", "layer3")
FEATURE_NETWORKS = ("mobilenet_v2", "resnet50", "wide_resnet50_2")


class MobileNetV2Features(nn.Module):
    """Keras MobileNetV2 (expects [-1, 1]); converts the ImageNet-normalised input internally."""

    def __init__(self, converted, layers=DEFAULT_MOBILENET_LAYERS):
        super().__init__()
        self.network = "mobilenet_v2"
        self.layer_names = list(layers)
        self.weights_source = converted.get("source", "")
        self.graph = KerasGraph(converted["layers"], layers)
        self.graph.params.load_state_dict(
            {k[len("params.") :]: v for k, v in converted["state_dict"].items()}, strict=True
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def forward(self, x):
        return self.graph((x * self.std + self.mean) * 2.0 - 1.0)


class ResNetFeatures(nn.Module):
    """ResNet50 / WideResNet50-2 layers 1-3 (the official DiAD code: timm resnet50, features 1-3); input used as is.

    The state dict may be torchvision's or timm's (same key names); layer4 and fc are not used and may be absent."""

    def __init__(self, arch, state_dict=None, layers=RESNET_LAYERS):
        super().__init__()
        import torchvision

        ctor = {"resnet50": torchvision.models.resnet50, "wide_resnet50_2": torchvision.models.wide_resnet50_2}
        if arch not in ctor:
            raise ValueError(f"features: expected one of {sorted(ctor)}, got {arch!r}")
        net = ctor[arch](weights=None)
        if state_dict is not None:
            state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(("fc.", "layer4."))}
            try:
                missing, unexpected = net.load_state_dict(state_dict, strict=False)
            except RuntimeError as e:
                detail = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
                raise ValueError(f"--features-weights: not an ImageNet {arch} state_dict ({detail})") from e
            missing = [k for k in missing if not k.startswith(("fc.", "layer4."))]
            if missing or unexpected:
                raise ValueError(f"--features-weights: missing {missing[:5]}, unexpected {unexpected[:5]}")
        self.network = arch
        self.layer_names = list(layers)
        self.weights_source = "user-supplied ImageNet state_dict"
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.eval()
        self.requires_grad_(False)

    def forward(self, x):
        f1 = self.layer1(self.stem(x))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        return [f1, f2, f3]


def build_features(network="mobilenet_v2", weights=None, layers=None):
    if network == "mobilenet_v2":
        converted = torch.load(weights or DEFAULT_MOBILENET_WEIGHTS)
        return MobileNetV2Features(converted, layers or DEFAULT_MOBILENET_LAYERS).eval()
    if network not in FEATURE_NETWORKS:
        raise ValueError(f"features: expected one of {', '.join(FEATURE_NETWORKS)}, got {network!r}")
    if layers is not None and list(layers) != list(RESNET_LAYERS):
        raise ValueError(f"{network} features are {' '.join(RESNET_LAYERS)}, got {' '.join(layers)}")
    state = torch.load(weights, map_location="cpu") if weights else None
    if isinstance(state, dict) and "state_dict" in state and not any(k.startswith("conv1") for k in state):
        state = state["state_dict"]
    if weights is not None and not isinstance(state, dict):
        raise ValueError(f"--features-weights {weights}: expected a state_dict, got {type(state).__name__}")
    return ResNetFeatures(network, state).eval()
