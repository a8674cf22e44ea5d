"""RCAN (Zhang et al. 2018), with a switch for channel attention.

Residual groups of RCABs (conv -> ReLU -> conv -> channel attention, + input), each group closed
by a conv and a group skip, then a conv and a long skip. With ``attention=False`` the RCAB is a
plain EDSR ResBlock: the backbone SRP prunes (its SRPN, with 96 maps).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import ChannelAttention, ConvFactory, MeanShift, Upsampler, default_conv


class RCAB(nn.Module):
    """Residual channel-attention block (attention optional)."""

    def __init__(
        self, n_feats: int, reduction: int = 16, attention: bool = True,
        conv: ConvFactory = default_conv,
    ) -> None:
        super().__init__()
        layers = [conv(n_feats, n_feats, 3), nn.ReLU(inplace=True), conv(n_feats, n_feats, 3)]
        if attention:
            layers.append(ChannelAttention(n_feats, reduction))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    def __init__(
        self, n_feats: int, n_resblocks: int, reduction: int, attention: bool,
        conv: ConvFactory = default_conv,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = [
            RCAB(n_feats, reduction, attention, conv) for _ in range(n_resblocks)
        ]
        blocks.append(conv(n_feats, n_feats, 3))
        self.body = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class RCAN(nn.Module):
    """RCAN: 10 groups x 20 RCABs x 64 maps by default (~15.4M parameters at x2)."""

    def __init__(
        self, scale: int = 2, n_resgroups: int = 10, n_resblocks: int = 20, n_feats: int = 64,
        reduction: int = 16, attention: bool = True, in_channels: int = 3,
        conv: ConvFactory = default_conv,
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = int(scale), in_channels
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = nn.Sequential(conv(in_channels, n_feats, 3))
        groups: list[nn.Module] = [
            ResidualGroup(n_feats, n_resblocks, reduction, attention, conv)
            for _ in range(n_resgroups)
        ]
        groups.append(conv(n_feats, n_feats, 3))
        self.body = nn.Sequential(*groups)
        self.tail = nn.Sequential(
            Upsampler(self.scale, n_feats, conv), conv(n_feats, in_channels, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(x))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))
