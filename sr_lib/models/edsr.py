"""EDSR and EDSR-baseline (Lim et al. 2017), with a configurable tail (SRP's SRPN-Lite uses
the 'lite' one-conv pixel-shuffle tail)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SRLibError
from .common import ConvFactory, LiteUpsampler, MeanShift, ResBlock, Upsampler, default_conv


class EDSR(nn.Module):
    """head conv -> ``n_resblocks`` ResBlocks -> conv (+ global skip) -> tail.

    ``tail='standard'``: EDSR upsampler + conv(F -> C); ``tail='lite'``: conv(F -> C s^2) +
    pixel shuffle. ``tail_feats`` (default ``n_feats``) is the standard tail's own width, for a
    pruned body with an unpruned tail. Inputs and outputs are RGB in [0, 1]; the DIV2K mean is
    removed inside.
    """

    def __init__(
        self, scale: int = 2, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0,
        in_channels: int = 3, tail: str = "standard", tail_feats: int | None = None,
        conv: ConvFactory = default_conv,
    ) -> None:
        super().__init__()
        if tail not in ("standard", "lite"):
            raise SRLibError(f"EDSR tail must be 'standard' or 'lite', got {tail!r}")
        self.scale, self.in_channels = int(scale), in_channels
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = nn.Sequential(conv(in_channels, n_feats, 3))
        body: list[nn.Module] = [
            ResBlock(n_feats, 3, res_scale, conv) for _ in range(n_resblocks)
        ]
        body.append(conv(n_feats, n_feats, 3))
        self.body = nn.Sequential(*body)
        if tail == "standard":
            t = n_feats if tail_feats is None else tail_feats
            self.tail = nn.Sequential(
                Upsampler(self.scale, t, conv, in_feats=n_feats), conv(t, in_channels, 3)
            )
        else:
            self.tail = LiteUpsampler(self.scale, n_feats, in_channels, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(x))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))


def edsr(scale: int = 2, n_resblocks: int = 32, n_feats: int = 256, res_scale: float = 0.1,
         **kw) -> EDSR:
    """The full EDSR: 32 blocks, 256 maps, residual scaling 0.1 (~40.7M parameters at x2)."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, **kw)


def edsr_baseline(scale: int = 2, n_resblocks: int = 16, n_feats: int = 64,
                  res_scale: float = 1.0, **kw) -> EDSR:
    """EDSR-baseline: 16 blocks, 64 maps (1,369,859 parameters at x2)."""
    return EDSR(scale, n_resblocks, n_feats, res_scale, **kw)


def srpn_lite(scale: int = 2, width: int = 256, n_resblocks: int = 16) -> EDSR:
    """SRP's SRPN-Lite backbone: EDSR with 16 blocks, residual scale 1 and the one-conv
    pixel-shuffle tail. ``width=256`` is the unpruned network (19.5M at x2); SRP prunes it to
    ``width=45`` (609K), the released SRPN-Lite."""
    return EDSR(scale, n_resblocks, width, 1.0, tail="lite")
