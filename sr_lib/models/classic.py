"""Interpolation and pre-upsampling baselines: bicubic, SRCNN and VDSR.

SRCNN and VDSR work on the upsampled Y channel (``in_channels=1``), as in their papers.
"""

from __future__ import annotations

import torch
from torch import nn

from ..resize import imresize
from .common import ScaleView


class Bicubic(nn.Module):
    """MATLAB bicubic upsampling as a model with no parameters (the baseline row of every table)."""

    any_channels = True  # works per channel: RGB, Y or anything else

    def __init__(self, scale: int = 4, in_channels: int = 3) -> None:
        super().__init__()
        self.scale, self.in_channels = int(scale), in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x, self.scale)


class SRCNN(nn.Module):
    """Dong et al. 2014, 9-1-5 with 64 / 32 maps on the bicubic-upsampled input ('same' padding)."""

    def __init__(
        self, scale: int = 3, in_channels: int = 1, n1: int = 64, n2: int = 32,
        kernels: tuple[int, int, int] = (9, 1, 5),
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = int(scale), in_channels
        k1, k2, k3 = kernels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, n1, k1, padding=k1 // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, k2, padding=k2 // 2), nn.ReLU(inplace=True),
            nn.Conv2d(n2, in_channels, k3, padding=k3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(imresize(x, self.scale))


class VDSR(nn.Module):
    """Kim et al. 2016: 20 bias-free 3x3 convs with ReLU, a global residual on the bicubic input.

    ``width`` is the number of maps (64 in the paper; AIL's students use 13, 16, 22, 32).
    """

    def __init__(
        self, scale: int = 2, in_channels: int = 1, width: int = 64, depth: int = 20
    ) -> None:
        super().__init__()
        self.scale, self.in_channels = int(scale), in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False)]
        for _ in range(depth - 2):
            layers += [nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1, bias=False)]
        layers += [nn.ReLU(inplace=True), nn.Conv2d(width, in_channels, 3, padding=1, bias=False)]
        self.body = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    takes_scale = True  # one network for x2, x3, x4 (VDSR's mixed-scale training)

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        return self.refine(imresize(x, scale or self.scale))

    def refine(self, up: torch.Tensor) -> torch.Tensor:
        """The network on an already upsampled image (the released VDSR code's input)."""
        return up + self.body(up)

    def at_scale(self, scale: int) -> ScaleView:
        """This network evaluated at ``scale`` (e.g. ``evaluate(model.at_scale(3), set5_x3)``)."""
        return ScaleView(self, scale)
