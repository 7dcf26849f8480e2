"""Layer factories shared by every network.

All parameterised layers are created through these helpers so that a whole model can be built on the
`meta` device (no memory, no init) for parameter counting of the paper-size configuration.
"""

import contextlib
import math

import torch
from torch import nn

_DEVICE: dict = {}


@contextlib.contextmanager
def meta_device():
    """Build modules without allocating weights (torch 1.13 has no `with torch.device('meta')`)."""
    _DEVICE["device"] = "meta"
    try:
        yield
    finally:
        _DEVICE.pop("device", None)


def conv(cin, cout, k, stride=1, padding=0, bias=True):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=bias, **_DEVICE)


def linear(cin, cout, bias=True):
    return nn.Linear(cin, cout, bias=bias, **_DEVICE)


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 (mixed precision keeps normalisation statistics in fp32)."""

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def layer_norm(dim):
    return LayerNorm32(dim, **_DEVICE)


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32, as the official openaimodel `normalization`."""

    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def group_norm(channels, groups, eps=1e-5, cls=GroupNorm32):
    return cls(groups, channels, eps=eps, affine=True, **_DEVICE)


def zero_module(module):
    for p in module.parameters():
        if p.device.type != "meta":
            p.detach().zero_()
    return module


def timestep_embedding(timesteps, dim, max_period=10000):
    """Sinusoidal embedding [cos | sin], as ldm.modules.diffusionmodules.util.timestep_embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half)
    args = timesteps.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def count_params(module):
    return sum(p.numel() for p in module.parameters())
