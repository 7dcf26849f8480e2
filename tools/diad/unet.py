"""SD-style UNet (ldm openaimodel.UNetModel with SpatialTransformer), official module names kept.

`ControlledUnet.forward` follows the official `ControlledUnetModel` with `only_mid_control=True`, the setting
of the official train.py/test.py: the SG middle output is added after the middle block and the last three SG
outputs (the SFF-fused ones) are added to the skips of the first three decoder blocks.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .layers import conv, group_norm, layer_norm, linear, timestep_embedding, zero_module


class TimestepEmbedSequential(nn.Sequential):
    def forward(self, x, emb=None, context=None):
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            else:
                x = layer(x)
        return x


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = conv(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = conv(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResBlock(nn.Module):
    def __init__(self, cin, emb_ch, cout, groups):
        super().__init__()
        self.in_layers = nn.Sequential(group_norm(cin, groups), nn.SiLU(), conv(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), linear(emb_ch, cout))
        self.out_layers = nn.Sequential(
            group_norm(cout, groups), nn.SiLU(), nn.Dropout(0.0), zero_module(conv(cout, cout, 3, padding=1))
        )
        self.skip_connection = nn.Identity() if cin == cout else conv(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class CrossAttention(nn.Module):
    def __init__(self, query_dim, context_dim, heads, dim_head):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_q = linear(query_dim, inner, bias=False)
        self.to_k = linear(context_dim, inner, bias=False)
        self.to_v = linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x, context=None):
        context = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)
        b, n, _ = q.shape
        m = k.shape[1]
        h = self.heads
        q = q.reshape(b, n, h, -1).transpose(1, 2)
        k = k.reshape(b, m, h, -1).transpose(1, 2)
        v = v.reshape(b, m, h, -1).transpose(1, 2)
        sim = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        out = torch.matmul(sim.softmax(dim=-1), v)
        return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


class GEGLU(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = linear(dim_in, dim_out * 2)

    def forward(self, x):
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), linear(dim * mult, dim))

    def forward(self, x):
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, context_dim):
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head)
        self.norm1 = layer_norm(dim)
        self.norm2 = layer_norm(dim)
        self.norm3 = layer_norm(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    def __init__(self, ch, heads, dim_head, context_dim, groups, depth=1):
        super().__init__()
        inner = heads * dim_head
        self.norm = group_norm(ch, groups, eps=1e-6)
        self.proj_in = conv(ch, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, dim_head, context_dim) for _ in range(depth)]
        )
        self.proj_out = zero_module(conv(inner, ch, 1))

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x))
        y = y.reshape(b, y.shape[1], h * w).transpose(1, 2)
        for block in self.transformer_blocks:
            y = block(y, context)
        y = y.transpose(1, 2).reshape(b, -1, h, w)
        return self.proj_out(y) + x


def build_encoder(cfg, in_channels):
    """The UNet encoder (input blocks) as in openaimodel; returns blocks and per-block channels."""
    mc, groups = cfg["model_channels"], cfg["groups"]
    emb_ch = mc * 4
    blocks = nn.ModuleList([TimestepEmbedSequential(conv(in_channels, mc, 3, padding=1))])
    chans = [mc]
    ch, ds = mc, 1
    for level, mult in enumerate(cfg["channel_mult"]):
        for _ in range(cfg["num_res_blocks"]):
            layers = [ResBlock(ch, emb_ch, mult * mc, groups)]
            ch = mult * mc
            if ds in cfg["attention_resolutions"]:
                heads = cfg["num_heads"]
                layers.append(SpatialTransformer(ch, heads, ch // heads, cfg["context_dim"], groups))
            blocks.append(TimestepEmbedSequential(*layers))
            chans.append(ch)
        if level != len(cfg["channel_mult"]) - 1:
            blocks.append(TimestepEmbedSequential(Downsample(ch)))
            chans.append(ch)
            ds *= 2
    return blocks, chans, ch


def build_middle(cfg, ch):
    emb_ch, groups, heads = cfg["model_channels"] * 4, cfg["groups"], cfg["num_heads"]
    return TimestepEmbedSequential(
        ResBlock(ch, emb_ch, ch, groups),
        SpatialTransformer(ch, heads, ch // heads, cfg["context_dim"], groups),
        ResBlock(ch, emb_ch, ch, groups),
    )


def build_time_embed(mc):
    return nn.Sequential(linear(mc, mc * 4), nn.SiLU(), linear(mc * 4, mc * 4))


class ControlledUnet(nn.Module):
    """UNetModel; `forward` takes the SG outputs as `control` (a list, last entry = middle)."""

    def __init__(self, cfg):
        super().__init__()
        mc, groups = cfg["model_channels"], cfg["groups"]
        self.model_channels = mc
        emb_ch = mc * 4
        self.time_embed = build_time_embed(mc)
        self.input_blocks, chans, ch = build_encoder(cfg, cfg["in_channels"])
        self.middle_block = build_middle(cfg, ch)
        self.output_blocks = nn.ModuleList()
        n_levels = len(cfg["channel_mult"])
        ds = 2 ** (n_levels - 1)
        for level, mult in list(enumerate(cfg["channel_mult"]))[::-1]:
            for i in range(cfg["num_res_blocks"] + 1):
                ich = chans.pop()
                layers = [ResBlock(ch + ich, emb_ch, mc * mult, groups)]
                ch = mc * mult
                if ds in cfg["attention_resolutions"]:
                    heads = cfg["num_heads"]
                    layers.append(SpatialTransformer(ch, heads, ch // heads, cfg["context_dim"], groups))
                if level and i == cfg["num_res_blocks"]:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))
        self.out = nn.Sequential(
            group_norm(ch, groups), nn.SiLU(), zero_module(conv(mc, cfg["out_channels"], 3, padding=1))
        )

    def encode(self, x, timesteps, context):
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels))
        hs = []
        h = x
        for module in self.input_blocks:
            h = module(h, emb, context)
            hs.append(h)
        return self.middle_block(h, emb, context), hs, emb

    def decode(self, h, hs, emb, context, control=None):
        hs = list(hs)
        control = list(control) if control is not None else None
        if control is not None:
            h = h + control.pop()
        for i, module in enumerate(self.output_blocks):
            skip = hs.pop()
            if control is not None and i < 3:
                skip = skip + control.pop()
            h = module(torch.cat([h, skip], dim=1), emb, context)
        return self.out(h)

    def forward(self, x, timesteps, context, control=None):
        h, hs, emb = self.encode(x, timesteps, context)
        return self.decode(h, hs, emb, context, control)
