"""Noise schedule and the DDIM timesteps of docs/bundle.md."""

import numpy as np
import torch


def betas(kind, beta_start, beta_end, steps):
    if kind == "scaled_linear":
        b = np.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=np.float64) ** 2
    elif kind == "linear":
        b = np.linspace(beta_start, beta_end, steps, dtype=np.float64)
    else:
        raise ValueError(f"schedule.type: expected scaled_linear or linear, got {kind!r}")
    return b


def alphas_cumprod(cfg_schedule):
    s = cfg_schedule
    return np.cumprod(1.0 - betas(s["type"], s["beta_start"], s["beta_end"], s["steps"]))


def ddim_timesteps(start_step, steps):
    """tau_k = k*c + 1, c = floor((S+1)/N); returned in visiting order (descending)."""
    if steps < 1 or steps > start_step + 1:
        raise ValueError(f"steps: expected 1..{start_step + 1}, got {steps}")
    c = (start_step + 1) // steps
    return [k * c + 1 for k in range(steps)][::-1]


def as_tensor(a):
    return torch.tensor(a, dtype=torch.float32)
