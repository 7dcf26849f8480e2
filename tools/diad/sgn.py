"""Semantic-Guided (SG) network with the Spatial-aware Feature Fusion (SFF) block (official sgn/sgn.py)."""

from torch import nn

from .layers import conv, timestep_embedding, zero_module
from .unet import build_encoder, build_middle, build_time_embed

SFF_NAMES = [f"down{a}{b}" for a in (1, 2, 3) for b in (1, 2, 3)]


class SemanticGuidedNetwork(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        mc = cfg["model_channels"]
        self.model_channels = mc
        self.time_embed = build_time_embed(mc)
        self.input_blocks, chans, ch = build_encoder(cfg, cfg["in_channels"])
        if len(chans) != 12:
            raise ValueError("the SFF block needs channel_mult of length 4 and num_res_blocks 2 (12 encoder outputs)")
        self.zero_convs = nn.ModuleList([nn.Sequential(zero_module(conv(c, c, 1))) for c in chans])
        h = cfg["hint_channels"]
        self.input_hint_block = nn.Sequential(
            conv(3, h[0], 3, padding=1), nn.SiLU(),
            conv(h[0], h[1], 3, padding=1), nn.SiLU(),
            conv(h[1], h[2], 3, padding=1, stride=2), nn.SiLU(),
            conv(h[2], h[3], 3, padding=1), nn.SiLU(),
            conv(h[3], h[4], 3, padding=1, stride=2), nn.SiLU(),
            conv(h[4], h[5], 3, padding=1), nn.SiLU(),
            conv(h[5], h[6], 3, padding=1, stride=2), nn.SiLU(),
            zero_module(conv(h[6], mc, 3, padding=1)),
        )  # fmt: skip
        self.middle_block = build_middle(cfg, ch)
        self.middle_block_out = nn.Sequential(zero_module(conv(ch, ch, 1)))
        # SFF: down{a}{b} takes encoder output 5+a (the three outputs one level above the lowest) to the
        # resolution of output 8+b; zero-initialised so the block starts as the identity.
        for a in (1, 2, 3):
            for b in (1, 2, 3):
                cin, cout = chans[5 + a], chans[8 + b]
                setattr(
                    self,
                    f"down{a}{b}",
                    nn.Sequential(
                        zero_module(conv(cin, cout, 3, stride=2, padding=1, bias=False)),
                        nn.InstanceNorm2d(cout),
                        nn.SiLU(),
                    ),
                )
        self.silu = nn.SiLU()

    def forward(self, x, hint, timesteps, context):
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels))
        guided_hint = self.input_hint_block(hint)
        outs = []
        h = x
        for i, (module, zero_conv) in enumerate(zip(self.input_blocks, self.zero_convs)):
            h = module(h, emb, context)
            if i == 0:
                h = h + guided_hint
            outs.append(zero_conv(h))
        fused = []
        for b in (1, 2, 3):
            s = outs[8 + b]
            for a in (1, 2, 3):
                s = s + getattr(self, f"down{a}{b}")(outs[5 + a])
            fused.append(self.silu(s))
        outs[9:12] = fused
        h = self.middle_block(h, emb, context)
        outs.append(self.middle_block_out(h))
        return outs
