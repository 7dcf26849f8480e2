"""Official DiAD checkpoints (lewandofskee/DiAD, models/diad.yaml) load by key name."""

import numpy as np
import pytest
import torch

from tools.diad import checkpoint as C
from tools.diad import clip_text
from tools.diad.config import get_config
from tools.diad.layers import meta_device
from tools.diad.model import DiAD, perturb_zero_inits

# Keys of the official checkpoint, from its model definitions (SD-1.5 UNet, ControlNet-style SG with SFF,
# KL-f8 autoencoder); spot checks of each part.
OFFICIAL_KEYS = [
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight",
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
    "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight",
    "model.diffusion_model.middle_block.1.proj_in.weight",
    "model.diffusion_model.output_blocks.2.1.conv.weight",
    "model.diffusion_model.output_blocks.11.1.proj_out.weight",
    "model.diffusion_model.out.2.weight",
    "model.diffusion_model.time_embed.2.weight",
    "control_model.input_hint_block.14.weight",
    "control_model.zero_convs.11.0.weight",
    "control_model.middle_block_out.0.weight",
    "control_model.down11.0.weight",
    "control_model.down33.0.weight",
    "first_stage_model.encoder.down.0.block.0.norm1.weight",
    "first_stage_model.encoder.mid.attn_1.q.weight",
    "first_stage_model.decoder.up.3.upsample.conv.weight",
    "first_stage_model.quant_conv.weight",
    "first_stage_model.post_quant_conv.weight",
]


def test_paper_model_uses_the_official_state_dict_names():
    with meta_device():
        sd = DiAD(get_config("paper"), context=torch.zeros(1, 77, 768)).state_dict()
    for key in OFFICIAL_KEYS:
        assert key in sd, key
    # SD-1.5: 686 UNet tensors and 248 autoencoder tensors; ControlNet's 340 + the 9 SFF convs
    assert sum(k.startswith("model.diffusion_model.") for k in sd) == 686
    assert sum(k.startswith("first_stage_model.") for k in sd) == 248
    assert sum(k.startswith("control_model.") for k in sd) == 349


def fake_clip(width=24, layers=2, vocab=49408, length=77, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = clip_text.PREFIX
    sd = {p + "embeddings.token_embedding.weight": torch.randn(vocab, width, generator=g),
          p + "embeddings.position_embedding.weight": torch.randn(length, width, generator=g),
          p + "final_layer_norm.weight": torch.ones(width), p + "final_layer_norm.bias": torch.zeros(width)}  # fmt: skip
    for i in range(layers):
        q = f"{p}encoder.layers.{i}."
        for n in ("q", "k", "v", "out"):
            sd[q + f"self_attn.{n}_proj.weight"] = torch.randn(width, width, generator=g) * 0.1
            sd[q + f"self_attn.{n}_proj.bias"] = torch.zeros(width)
        for n in ("layer_norm1", "layer_norm2"):
            sd[q + n + ".weight"], sd[q + n + ".bias"] = torch.ones(width), torch.zeros(width)
        sd[q + "mlp.fc1.weight"], sd[q + "mlp.fc1.bias"] = torch.randn(4 * width, width, generator=g) * 0.1, torch.zeros(4 * width)
        sd[q + "mlp.fc2.weight"], sd[q + "mlp.fc2.bias"] = torch.randn(width, 4 * width, generator=g) * 0.1, torch.zeros(width)
    return sd


def test_empty_prompt_context_is_causal_and_layer_normed():
    sd = fake_clip()
    ctx = clip_text.empty_prompt_context(sd)
    assert tuple(ctx.shape) == (1, 77, 24)
    np.testing.assert_allclose(ctx.mean(-1).numpy(), 0, atol=1e-5)
    # position 0 sees only BOS: changing the EOS embedding must not change it
    sd2 = dict(sd)
    emb = sd[clip_text.PREFIX + "embeddings.token_embedding.weight"].clone()
    emb[49407] += torch.randn(24, generator=torch.Generator().manual_seed(9))
    sd2[clip_text.PREFIX + "embeddings.token_embedding.weight"] = emb
    ctx2 = clip_text.empty_prompt_context(sd2)
    assert torch.allclose(ctx[0, 0], ctx2[0, 0], atol=1e-6) and not torch.allclose(ctx[0, 5], ctx2[0, 5])


def official_style_checkpoint(tmp_path, with_clip=True):
    cfg = get_config("micro")
    cfg["unet"]["context_dim"] = 24  # the fake CLIP width
    model = DiAD(cfg)
    perturb_zero_inits(model, 1)
    sd = {k: v for k, v in model.state_dict().items() if k != "context"}
    sd["betas"] = torch.zeros(1000)  # the official LatentDiffusion buffers are ignored
    if with_clip:
        sd.update(fake_clip())
    path = tmp_path / "official.ckpt"
    torch.save({"state_dict": sd, "global_step": 1}, path)
    return path, model


def test_official_checkpoint_maps_onto_our_modules(tmp_path):
    path, src = official_style_checkpoint(tmp_path)
    model, ckpt = C.load(str(path), official_config="micro")
    assert ckpt["stage"] == "official" and model.cfg["source"] == "official"
    for k, v in src.state_dict().items():
        if k != "context":
            assert torch.equal(model.state_dict()[k], v), k
    assert tuple(model.context.shape) == (1, 77, 24)


def test_official_checkpoint_without_clip_needs_a_context_file(tmp_path):
    path, _ = official_style_checkpoint(tmp_path, with_clip=False)
    with pytest.raises(ValueError, match="--context"):
        C.load(str(path), official_config="micro")
    ctx = tmp_path / "ctx.npy"
    np.save(ctx, np.zeros((1, 77, 24), np.float32))
    model, _ = C.load(str(path), str(ctx), official_config="micro")
    assert float(model.context.abs().sum()) == 0.0
