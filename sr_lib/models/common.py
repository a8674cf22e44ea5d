"""Building blocks shared by the EDSR family, with an injectable convolution factory.

Every block takes ``conv`` (a callable ``conv(in_ch, out_ch, kernel_size, bias=True)``) so that
masked, searched or pruned convolutions (SRP, DRN) drop in without rewriting a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..errors import SRLibError

ConvFactory = Callable[..., nn.Module]

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def default_conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """'Same' zero-padded convolution (odd kernels)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)


class MeanShift(nn.Module):
    """Adds ``sign * mean`` per channel; a fixed buffer, not a parameter (it is never trained)."""

    def __init__(self, mean: tuple[float, ...] = DIV2K_RGB_MEAN, sign: int = -1) -> None:
        super().__init__()
        self.register_buffer("shift", sign * torch.tensor(mean).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.shift[:, : x.shape[1]]


class ResBlock(nn.Module):
    """conv -> ReLU -> conv, scaled by ``res_scale`` and added to the input (EDSR, no BN)."""

    def __init__(
        self, n_feats: int, kernel_size: int = 3, res_scale: float = 1.0,
        conv: ConvFactory = default_conv,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv(n_feats, n_feats, kernel_size), nn.ReLU(inplace=True),
            conv(n_feats, n_feats, kernel_size),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class ChannelAttention(nn.Module):
    """RCAN's squeeze-and-excitation: pool -> 1x1 (C/r) -> ReLU -> 1x1 (C) -> sigmoid -> scale."""

    def __init__(self, n_feats: int, reduction: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(n_feats, n_feats // reduction, 1), nn.ReLU(inplace=True),
            nn.Conv2d(n_feats // reduction, n_feats, 1), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.body(x)


def check_scale(scale: int, allowed: tuple[int, ...], model: str) -> int:
    if scale not in allowed:
        raise SRLibError(f"{model} supports scales {allowed}, got {scale}")
    return int(scale)


class Upsampler(nn.Sequential):
    """EDSR's upsampler: log2(s) x [conv(F -> 4F) + PixelShuffle(2)] for powers of two, or
    conv(F -> 9F) + PixelShuffle(3) for x3. No activation.

    ``in_feats`` (default ``n_feats``) is the width arriving from the body: a pruned body with an
    unpruned tail (SRP's Table 1 models) feeds fewer maps into a full-width upsampler.
    """

    def __init__(self, scale: int, n_feats: int, conv: ConvFactory = default_conv,
                 in_feats: int | None = None) -> None:
        layers: list[nn.Module] = []
        cin = n_feats if in_feats is None else in_feats
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [conv(cin, 4 * n_feats, 3), nn.PixelShuffle(2)]
                cin = n_feats
        elif scale == 3:
            layers += [conv(cin, 9 * n_feats, 3), nn.PixelShuffle(3)]
        else:
            raise SRLibError(f"the pixel-shuffle upsampler supports x2, x3, x4, x8; got x{scale}")
        super().__init__(*layers)


class LiteUpsampler(nn.Sequential):
    """One conv(F -> C s^2) + PixelShuffle(s): the tail of SRP's SRPN-Lite."""

    def __init__(self, scale: int, n_feats: int, out_ch: int = 3, conv: ConvFactory = default_conv):
        super().__init__(conv(n_feats, out_ch * scale * scale, 3), nn.PixelShuffle(scale))


class ScaleView(nn.Module):
    """A multi-scale network run at one fixed ``scale`` (what :func:`sr_lib.evaluate` needs);
    the parameters are the network's own."""

    def __init__(self, net: nn.Module, scale: int) -> None:
        super().__init__()
        self.net, self.scale = net, int(scale)
        self.in_channels = getattr(net, "in_channels", 3)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.net(lr, scale=self.scale)
