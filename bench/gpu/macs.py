"""Multiply-accumulates per frame of the DiAD run (encoder, N denoiser steps of SG network + UNet, decoder,
ResNet50 layers 1-3), counted from layer shapes on PyTorch's meta device (no memory, no weights):
convolutions, linear layers and attention's two matrix products. Normalisations and activations are left out
(they are memory-bound, not compute-bound). Used for docs/gpu.md's throughput estimates.

    /usr/bin/python3 bench/gpu/macs.py [--config tiny|paper] [--steps 10] [--draws 1]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def count(module, run):
    total = [0]

    def conv(m, inp, out):
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
        total[0] += out.numel() * k

    def lin(m, inp, out):
        total[0] += out.numel() * m.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin))
    real_sdpa = getattr(F, "scaled_dot_product_attention", None)
    real_matmul = torch.Tensor.__matmul__
    real_einsum = torch.einsum

    def einsum(eq, *ops):
        out = real_einsum(eq, *ops)
        # contraction size = product of operand dims not in the output
        a = ops[0]
        ins = eq.split("->")[0].split(",")[0]
        outs = eq.split("->")[1]
        red = 1
        for ch, d in zip(ins, a.shape):
            if ch not in outs:
                red *= d
        total[0] += out.numel() * red
        return out

    def matmul(a, b):
        out = real_matmul(a, b)
        total[0] += out.numel() * a.shape[-1]
        return out

    torch.einsum = einsum
    torch.Tensor.__matmul__ = matmul
    try:
        with torch.no_grad():
            run()
    finally:
        torch.einsum = real_einsum
        torch.Tensor.__matmul__ = real_matmul
        for h in hooks:
            h.remove()
    del real_sdpa
    return total[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["tiny", "paper", "micro"], default="tiny")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--draws", type=int, default=1)
    a = ap.parse_args()
    from diad.config import CONFIGS
    from diad.features import ResNetFeatures
    from diad.model import DiAD

    cfg = CONFIGS[a.config]
    dev = torch.device("meta") if a.config == "paper" else torch.device("cpu")
    if dev.type == "meta":
        from diad.layers import meta_device

        with meta_device():
            model = DiAD(cfg)
        model = model.to(dev).eval()
    else:
        model = DiAD(cfg).eval()
    feats = ResNetFeatures("resnet50").to(dev).eval()
    s = cfg["image_size"]
    lat = s // 8
    x = torch.zeros(1, 3, s, s, device=dev)
    z = torch.zeros(1, cfg["latent_channels"], lat, lat, device=dev)
    t = torch.zeros(1, dtype=torch.long, device=dev)
    enc = count(model.first_stage_model, lambda: model.first_stage_model.encode(x))
    step = count(model, lambda: model.eps(z, t, x))
    dec = count(model.first_stage_model, lambda: model.first_stage_model.decode(z))
    fea = count(feats, lambda: feats(x))
    per_frame = enc + a.draws * (a.steps * step + dec + fea) + fea
    print(json.dumps({
        "config": a.config, "imageSize": s, "steps": a.steps, "draws": a.draws,
        "gmac": {"encoder": round(enc / 1e9, 2), "denoiserStep": round(step / 1e9, 2), "decoder": round(dec / 1e9, 2),
                 "features": round(fea / 1e9, 2), "perFrame": round(per_frame / 1e9, 1)},
    }))


if __name__ == "__main__":
    main()
