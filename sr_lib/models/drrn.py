"""DRRN (Tai et al. 2017), the recursive teacher / student of AIL (seed 004).

One recursive block of ``units`` residual units that *share* their two convolutions; every
unit's output is added to the block's input features (multi-path local residuals), and a
global residual adds the bicubic-upsampled input. Pre-activation (ReLU before each conv), no
biases, no batch normalisation: the PyTorch port AIL builds on. B1U25 with 128 maps has
297,216 parameters; the AIL student DRRN-f25 (25 maps) has 11,700.

Like :class:`~sr_lib.models.classic.VDSR`, the input is the LR Y channel and the MATLAB-bicubic
upsampling happens inside, so the model maps LR to HR like every other model here.
"""

from __future__ import annotations

import torch
from torch import nn

from ..resize import imresize
from .common import ScaleView


class DRRN(nn.Module):
    def __init__(self, scale: int = 2, in_channels: int = 1, width: int = 128,
                 units: int = 25) -> None:
        super().__init__()
        self.scale, self.in_channels, self.units = int(scale), in_channels, int(units)
        self.input = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.output = nn.Conv2d(width, in_channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    takes_scale = True  # like VDSR, one network serves every scale

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        up = imresize(x, scale or self.scale)
        h0 = self.input(self.relu(up))
        h = h0
        for _ in range(self.units):  # the same two convs, applied ``units`` times
            h = h0 + self.conv2(self.relu(self.conv1(self.relu(h))))
        return up + self.output(self.relu(h))

    def at_scale(self, scale: int) -> ScaleView:
        return ScaleView(self, scale)
