"""The DiAD model: autoencoder + SD-style UNet + SG network, DDIM reconstruction as in docs/bundle.md.

Module names follow the official checkpoint (`first_stage_model`, `model.diffusion_model`, `control_model`)
so that an official state dict loads by name.
"""

import torch
import torch.nn.functional as F
from torch import nn

from . import schedule as sched
from .autoencoder import AutoencoderKL
from .sgn import SemanticGuidedNetwork
from .unet import ControlledUnet


class _Holder(nn.Module):
    def __init__(self, diffusion_model):
        super().__init__()
        self.diffusion_model = diffusion_model


class Denoiser(nn.Module):
    """(z_t, t, hint) -> eps: SG network + SFF + UNet with the constant empty-prompt context (one graph)."""

    def __init__(self, control_model, unet, context):
        super().__init__()
        self.control_model = control_model
        self.unet = unet
        self.register_buffer("context", context, persistent=False)

    def forward(self, z_t, t, hint):
        ctx = self.context.expand(z_t.shape[0], -1, -1)
        control = self.control_model(z_t, hint, t, ctx)
        return self.unet(z_t, t, ctx, control)


class DiAD(nn.Module):
    def __init__(self, cfg, context=None, seed_context=1234):
        super().__init__()
        self.cfg = cfg
        a = cfg["autoencoder"]
        self.first_stage_model = AutoencoderKL(
            a["ch"], a["ch_mult"], a["num_res_blocks"], a["z_channels"], a["embed_dim"], a["groups"]
        )
        self.model = _Holder(ControlledUnet(cfg["unet"]))
        self.control_model = SemanticGuidedNetwork(cfg["unet"])
        if context is None:
            # No CLIP text encoder is available for the tiny config: the "empty prompt" is a fixed,
            # seeded constant of the same role (a frozen context every cross-attention sees).
            g = torch.Generator().manual_seed(seed_context)
            context = torch.randn(1, cfg["context_tokens"], cfg["unet"]["context_dim"], generator=g)
        self.register_buffer("context", context.reshape(1, -1, cfg["unet"]["context_dim"]).float())
        ac = sched.alphas_cumprod(cfg["schedule"])
        self.register_buffer("alphas_cumprod", sched.as_tensor(ac), persistent=False)
        self.scale_factor = cfg["scale_factor"]

    @property
    def unet(self):
        return self.model.diffusion_model

    def denoiser(self):
        return Denoiser(self.control_model, self.unet, self.context)

    def eps(self, z_t, t, hint, use_control=True):
        ctx = self.context.expand(z_t.shape[0], -1, -1)
        control = self.control_model(z_t, hint, t, ctx) if use_control else None
        return self.unet(z_t, t, ctx, control)

    def q_sample(self, z0, t, noise):
        a = self.alphas_cumprod[t].reshape(-1, 1, 1, 1)
        return a.sqrt() * z0 + (1 - a).sqrt() * noise

    def diffusion_loss(self, z0, hint, use_control=True, generator=None, frozen_encoder=False, t_max=0):
        """epsilon-prediction MSE; `frozen_encoder` skips autograd through the UNet encoder and middle;
        `t_max` > 0 samples t from [0, t_max) instead of all train steps."""
        b = z0.shape[0]
        steps = self.alphas_cumprod.shape[0]
        if not 0 <= t_max <= steps:
            raise ValueError(f"t_max: expected 0 (all) or 1..{steps}, got {t_max}")
        t = torch.randint(0, t_max or steps, (b,), generator=generator).to(z0.device)
        noise = torch.randn(z0.shape, generator=generator).to(z0.device)  # drawn on the CPU: same on every device
        z_t = self.q_sample(z0, t, noise)
        ctx = self.context.expand(b, -1, -1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen_encoder):
            h, hs, emb = self.unet.encode(z_t, t, ctx)
        control = self.control_model(z_t, hint, t, ctx) if use_control else None
        pred = self.unet.decode(h, hs, emb, ctx, control)
        return F.mse_loss(pred, noise)

    def encode_latent(self, x, n1):
        mean, logvar = self.first_stage_model.encode(x)
        return self.scale_factor * (mean + torch.exp(0.5 * logvar) * n1), mean, logvar

    @torch.no_grad()
    def reconstruct(self, x, n1, n2, start_step=999, steps=10, trace=None):
        """The run of docs/bundle.md steps 1-4; `trace` (a dict) receives every intermediate."""
        z0, mean, logvar = self.encode_latent(x, n1)
        ac = self.alphas_cumprod
        z = ac[start_step].sqrt() * z0 + (1 - ac[start_step]).sqrt() * n2
        if trace is not None:
            trace.update(mean=mean, logvar=logvar, z0=z0, zS=z)
        taus = sched.ddim_timesteps(start_step, steps)
        for i, tau in enumerate(taus):
            t = torch.full((x.shape[0],), tau, dtype=torch.long, device=x.device)
            eps = self.eps(z, t, x)
            a_t = ac[tau]
            a_prev = ac[taus[i + 1]] if i + 1 < len(taus) else ac[0]
            x0_hat = (z - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            z = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps
            if trace is not None:
                k = len(taus) - 1 - i
                trace[f"eps_{k}"] = eps
                trace[f"z_{k}"] = z
        recon = self.first_stage_model.decode(z / self.scale_factor)
        if trace is not None:
            trace["recon"] = recon
        return recon


def perturb_zero_inits(model, seed, std=0.02):
    """Zero-initialised convs (SG zero convs, SFF, UNet output) hide the SG path of an untrained model; give
    them small random weights so random-weight bundles and tests exercise every path."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in list(model.control_model.parameters()) + list(model.unet.parameters()):
            if p.dim() > 1 and float(p.abs().max()) == 0.0:
                p.copy_(torch.randn(p.shape, generator=g) * std)
