"""Model configurations: `paper` (the official DiAD / SD-1.5 sizes) and `tiny` (trainable on a 2-core CPU)."""

import copy

PAPER = {
    "name": "paper",
    "image_size": 256,
    "latent_channels": 4,
    "scale_factor": 0.18215,
    "schedule": {"type": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps": 1000},
    "autoencoder": {"ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "z_channels": 4, "embed_dim": 4,
                    "groups": 32},
    "unet": {"in_channels": 4, "out_channels": 4, "model_channels": 320, "channel_mult": [1, 2, 4, 4],
             "num_res_blocks": 2, "attention_resolutions": [4, 2, 1], "num_heads": 8, "context_dim": 768,
             "groups": 32, "hint_channels": [16, 16, 32, 32, 96, 96, 256]},
    "context_tokens": 77,
}

TINY = {
    "name": "tiny",
    "image_size": 128,
    "latent_channels": 4,
    "scale_factor": 0.18215,
    "schedule": {"type": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps": 1000},
    "autoencoder": {"ch": 16, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 1, "z_channels": 4, "embed_dim": 4,
                    "groups": 8},
    "unet": {"in_channels": 4, "out_channels": 4, "model_channels": 16, "channel_mult": [1, 2, 4, 4],
             "num_res_blocks": 2, "attention_resolutions": [4, 2], "num_heads": 4, "context_dim": 32,
             "groups": 8, "hint_channels": [8, 8, 16, 16, 32, 32, 64]},
    "context_tokens": 8,
}  # fmt: skip

# For the test suite only: every part present, seconds per export.
MICRO = {
    "name": "micro",
    "image_size": 128,
    "latent_channels": 4,
    "scale_factor": 0.18215,
    "schedule": {"type": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps": 1000},
    "autoencoder": {"ch": 8, "ch_mult": [1, 2, 2, 2], "num_res_blocks": 1, "z_channels": 4, "embed_dim": 4,
                    "groups": 4},
    "unet": {"in_channels": 4, "out_channels": 4, "model_channels": 8, "channel_mult": [1, 2, 2, 2],
             "num_res_blocks": 2, "attention_resolutions": [4, 2], "num_heads": 2, "context_dim": 8,
             "groups": 4, "hint_channels": [4, 4, 8, 8, 8, 8, 16]},
    "context_tokens": 4,
}

CONFIGS = {"paper": PAPER, "tiny": TINY, "micro": MICRO}


def get_config(name, **overrides):
    if name not in CONFIGS:
        raise ValueError(f"config: expected one of {sorted(CONFIGS)}, got {name!r}")
    cfg = copy.deepcopy(CONFIGS[name])
    for key, value in overrides.items():
        if value is not None:
            cfg[key] = value
    return cfg
