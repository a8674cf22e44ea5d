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
        conv: ConvFactory = default_conv, inner: int | None = None,
    ) -> None:
        super().__init__()
        k = n_feats if inner is None else inner  # the internal width (pruned by DRN)
        layers = [conv(n_feats, k, 3), nn.ReLU(inplace=True), conv(k, n_feats, 3)]
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
        tail_feats: int | None = None, conv: ConvFactory = default_conv,
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
        t = n_feats if tail_feats is None else tail_feats  # an unpruned tail after a pruned body
        self.tail = nn.Sequential(
            Upsampler(self.scale, t, conv, in_feats=n_feats), conv(t, in_channels, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.sub_mean(x))
        x = x + self.body(x)
        return self.add_mean(self.tail(x))


def srpn(scale: int = 2, width: int = 96, n_resgroups: int = 10, n_resblocks: int = 20,
         tail_feats: int | None = None) -> RCAN:
    """SRP's SRPN backbone: RCAN without channel attention, 10 groups of 20 blocks.
    ``width=96`` is the unpruned network (34.5M at x2); pruned to 64 maps it has 15.3M, the
    paper's SRPN (``tail_feats=96`` keeps an unpruned tail, as the released code does)."""
    return RCAN(scale, n_resgroups, n_resblocks, width, attention=False,
                tail_feats=tail_feats)
