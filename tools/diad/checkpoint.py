"""Checkpoints of tools/diad, and loading of official DiAD checkpoints (lewandofskee/DiAD, models/diad.yaml)."""

import copy
import os

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
    os.replace(tmp, path)


# ---- bases: what --init-base starts a line from (a tools.diad.pretrain base or Stable Diffusion 1.5) ----

COMPACT_FORMAT = "diad-tools-base-int8"
BASE_PREFIXES = ("first_stage_model.", "model.diffusion_model.")


def quantise(state_dict):
    """Weights (2+ dims) as int8 with one fp32 scale per output channel; other tensors fp16. ~4x smaller than fp32;
    the round-off (<= 0.4% of a channel's largest weight) is far below what fine-tuning moves."""
    out = {}
    for k, v in state_dict.items():
        v = v.detach().float()
        if v.dim() >= 2 and v.numel() >= 64:
            scale = v.reshape(v.shape[0], -1).abs().amax(1).clamp_min(1e-12) / 127.0
            q = torch.round(v / scale.reshape(-1, *([1] * (v.dim() - 1)))).to(torch.int8)
            out[k] = {"q": q, "scale": scale}
        else:
            out[k] = v.half()
    return out


def dequantise(packed):
    out = {}
    for k, v in packed.items():
        if isinstance(v, dict):
            out[k] = v["q"].float() * v["scale"].reshape(-1, *([1] * (v["q"].dim() - 1)))
        else:
            out[k] = v.float()
    return out


def save_compact(path, base):
    """The committed form of a base (tools.diad.pretrain's base.pt): autoencoder + UNet + context, int8."""
    keep = BASE_PREFIXES + ("context",)
    sd = {k: v for k, v in base["model"].items() if k.startswith(keep)}
    small = {"format": COMPACT_FORMAT, "version": 1, "config": base["config"], "model": quantise(sd),
             "features": base.get("features"), "steps": base.get("steps"), "seconds": base.get("seconds"),
             "history": base.get("history", {}), "training": {k: v for k, v in base.get("training", {}).items()
                                                               if k != "sources"}}  # fmt: skip
    save(path, small)


def load_base(path, config_name="tiny"):
    """{config, state_dict, context, kind, training} of a base: ours (full or compact) or an SD-1.5 checkpoint."""
    raw = torch.load(path, map_location="cpu")
    if not isinstance(raw, dict):
        raise ValueError(f"--init-base {path}: expected a dict, got {type(raw).__name__}")
    if raw.get("format") in (FORMAT, COMPACT_FORMAT):
        sd = dequantise(raw["model"]) if raw["format"] == COMPACT_FORMAT else raw["model"]
        if sd is None:
            raise ValueError(f"--init-base {path}: the checkpoint holds no weights yet")
        training = {k: v for k, v in raw.items() if k in ("steps", "seconds")}
        training.update({k: v for k, v in (raw.get("training") or {}).items() if k in ("corpus", "tiles")})
        return {"config": copy.deepcopy(raw["config"]), "state_dict": sd, "context": sd.get("context"),
                "kind": "tools.diad base" + (" (int8)" if raw["format"] == COMPACT_FORMAT else ""),
                "training": training}  # fmt: skip
    sd = raw.get("state_dict", raw)
    if not (isinstance(sd, dict) and all(any(k.startswith(p) for k in sd) for p in BASE_PREFIXES)):
        raise ValueError(f"--init-base {path}: neither a tools/diad base nor a Stable Diffusion checkpoint "
                         "(no first_stage_model.* and model.diffusion_model.* keys)")  # fmt: skip
    cfg = get_config(config_name)
    w = sd.get("model.diffusion_model.input_blocks.0.0.weight")
    cfg["unet"]["model_channels"] = int(w.shape[0])
    context = None
    if clip_text.has_clip(sd):
        with torch.no_grad():
            context = clip_text.empty_prompt_context(sd)
        cfg["context_tokens"], cfg["unet"]["context_dim"] = int(context.shape[-2]), int(context.shape[-1])
    cfg["source"] = "stable-diffusion"
    return {"config": cfg, "state_dict": sd, "context": context, "kind": "stable-diffusion", "training": {}}


def load_parts(model, state_dict, prefixes):
    """Copies every tensor of `model` under `prefixes` from `state_dict` (all must be there, same shapes)."""
    own = {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}
    missing = [k for k in own if k not in state_dict]
    wrong = [k for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        raise ValueError(f"--init-base: missing {missing[:4]} ({len(missing)}), shape mismatch {wrong[:4]} "
                         f"({len(wrong)}); does --config match the base?")  # fmt: skip
    model.load_state_dict({k: state_dict[k].float() for k in own}, strict=False)
    return len(own)
