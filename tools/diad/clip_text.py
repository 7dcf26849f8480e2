"""CLIP ViT-L/14 text transformer, only to compute the empty-prompt context of an official DiAD checkpoint.

SD-1.5 conditions on FrozenCLIPEmbedder("") = last_hidden_state for the token ids
[BOS=49406] + [EOS=49407] * 76 (padding="max_length" with the EOS token as pad). Keys as stored in an
official checkpoint: cond_stage_model.transformer.text_model.*.
"""

import torch
import torch.nn.functional as F

PREFIX = "cond_stage_model.transformer.text_model."


def has_clip(state_dict):
    return any(k.startswith(PREFIX) for k in state_dict)


def empty_prompt_context(state_dict, heads=12, length=77, bos=49406, eos=49407):
    w = {k[len(PREFIX) :]: v.float() for k, v in state_dict.items() if k.startswith(PREFIX)}
    ids = torch.tensor([bos] + [eos] * (length - 1))
    x = w["embeddings.token_embedding.weight"][ids] + w["embeddings.position_embedding.weight"][:length]
    x = x[None]
    n_layers = 1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layers."))
    mask = torch.full((length, length), float("-inf")).triu(1)
    d = x.shape[-1]
    for i in range(n_layers):
        p = f"encoder.layers.{i}."

        def lin(t, name, p=p):
            return F.linear(t, w[p + name + ".weight"], w[p + name + ".bias"])

        h = F.layer_norm(x, (d,), w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"], 1e-5)
        q, k, v = (lin(h, f"self_attn.{n}_proj").reshape(1, length, heads, -1).transpose(1, 2) for n in "qkv")
        att = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5) + mask
        h = (att.softmax(-1) @ v).transpose(1, 2).reshape(1, length, d)
        x = x + lin(h, "self_attn.out_proj")
        h = F.layer_norm(x, (d,), w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"], 1e-5)
        h = lin(h, "mlp.fc1")
        h = h * torch.sigmoid(1.702 * h)  # quick_gelu
        x = x + lin(h, "mlp.fc2")
    return F.layer_norm(x, (d,), w["final_layer_norm.weight"], w["final_layer_norm.bias"], 1e-5)
