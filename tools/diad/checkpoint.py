"""Checkpoints of tools/diad, and loading of official DiAD checkpoints (lewandofskee/DiAD, models/diad.yaml)."""

import numpy as np
import torch

from . import clip_text
from .config import get_config
from .features import DEFAULT_MOBILENET_LAYERS
from .model import DiAD

FORMAT = "diad-tools-checkpoint"
OFFICIAL_PREFIXES = ("first_stage_model.", "model.diffusion_model.", "control_model.")


def new_checkpoint(cfg, features=None):
    return {
        "format": FORMAT,
        "version": 1,
        "config": cfg,
        "model": None,
        "features": features or {"network": "mobilenet_v2", "layers": list(DEFAULT_MOBILENET_LAYERS)},
        "stage": "init",
        "step": 0,
        "history": {},
        "training": {},
    }


def is_official(raw):
    sd = raw.get("state_dict", raw) if isinstance(raw, dict) else {}
    return isinstance(sd, dict) and any(k.startswith("control_model.") for k in sd) and "format" not in raw


def official_to_model(raw, context=None, base_config="paper"):
    """Maps an official DiAD state dict (keys kept by design) onto the paper config; returns (model, cfg)."""
    sd = raw.get("state_dict", raw)
    cfg = get_config(base_config)
    w = sd.get("model.diffusion_model.input_blocks.0.0.weight")
    if w is None:
        raise ValueError("--checkpoint: no model.diffusion_model.input_blocks.0.0.weight; not a DiAD checkpoint")
    cfg["unet"]["model_channels"] = int(w.shape[0])
    if context is None:
        if not clip_text.has_clip(sd):
            raise ValueError("--checkpoint: no CLIP text weights (cond_stage_model.*); pass --context <npy>")
        with torch.no_grad():
            context = clip_text.empty_prompt_context(sd)
    cfg["context_tokens"] = int(context.shape[-2])
    cfg["unet"]["context_dim"] = int(context.shape[-1])
    cfg["source"] = "official"
    model = DiAD(cfg, context=torch.as_tensor(context).float())
    ours = {k: v for k, v in sd.items() if k.startswith(OFFICIAL_PREFIXES)}
    missing, unexpected = model.load_state_dict(ours, strict=False)
    missing = [k for k in missing if k != "context"]
    if missing or unexpected:
        raise ValueError(f"--checkpoint: official keys do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model, cfg


def load(path, context_path=None, official_config="paper"):
    """Returns (model, checkpoint dict). Accepts our checkpoints and official DiAD ones."""
    raw = torch.load(path, map_location="cpu")
    if not isinstance(raw, dict):
        raise ValueError(f"--checkpoint {path}: expected a dict, got {type(raw).__name__}")
    if is_official(raw):
        context = torch.from_numpy(np.load(context_path)) if context_path else None
        model, cfg = official_to_model(raw, context, official_config)
        ckpt = new_checkpoint(cfg)
        ckpt.update(stage="official", training={"source": "official DiAD checkpoint"})
        return model.eval(), ckpt
    if raw.get("format") != FORMAT:
        raise ValueError(f"--checkpoint {path}: neither a tools/diad checkpoint nor an official DiAD checkpoint")
    model = DiAD(raw["config"])
    if raw.get("model") is not None:
        model.load_state_dict(raw["model"], strict=True)
    return model.eval(), raw


def save(path, ckpt):
    tmp = str(path) + ".tmp"
    torch.save(ckpt, tmp)
    import os

    os.replace(tmp, path)
