"""DRN (Guo et al.), the primal network of dual regression, and its dual models.

The primal network is a U-Net on the *bicubic-upsampled* input: a head conv, ``log2(s)``
stride-2 down blocks (widths F, 2F, 4F(, 8F)), then ``log2(s)`` up blocks, each B RCABs
(channel attention, reduction 16) -> x2 pixel-shuffle upsampler -> 1x1 conv, concatenated with
the down-path feature of the same resolution. A tail conv after the bottleneck and after every
up block gives an image at 1x, 2x, 4x(, 8x) of the LR size: the intermediate outputs are
supervised too (see :mod:`sr_lib.dual`).

``widths`` gives every internal width in the order of
:func:`sr_lib.pruning.internal_pairs` (down blocks, then each up block's RCABs and upsampler),
the format of the released searched configurations: a pruned DRN is then an ordinary
``build("drn", ..., widths=...)`` whose weights load with ``load_state_dict``.

Sizes (paper App. C.2): DRN-S B = 30, F = 16 at x4 and F = 8 at x8; DRN-L B = 40, F = 20 at
x4 and B = 36, F = 10 at x8. DRN-S x4 has 4,804,041 parameters (the paper's 4.8M).

The released code upsamples the input with PyTorch's bicubic (a = -0.75, no antialiasing),
not MATLAB's; ``upsample="matlab"`` uses :func:`sr_lib.resize.imresize` instead (at
upsampling the two differ only in the kernel constant and border handling).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SRLibError
from ..resize import imresize
from .common import MeanShift, Upsampler, check_scale, default_conv
from .rcan import RCAB


class DownBlock(nn.Sequential):
    """conv3x3 stride 2 (no bias) -> LeakyReLU(0.2) -> conv3x3 (no bias): halves the size.

    The primal network's down path uses it with ``out_ch = 2 * in_ch``; a dual model is one
    such block from RGB to RGB with ``feats`` hidden maps.
    """

    def __init__(self, in_ch: int, hidden: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, hidden, 3, stride=2, padding=1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden, out_ch, 3, padding=1, bias=False),
        )


class UpBlock(nn.Module):
    """B RCABs at ``width`` -> x2 upsampler -> 1x1 conv to ``out_ch`` (before the skip concat)."""

    def __init__(self, width: int, out_ch: int, n_blocks: int, reduction: int = 16,
                 inner: list[int] | None = None) -> None:
        super().__init__()
        inner = inner or [width] * (n_blocks + 1)  # each RCAB's, then the upsampler's width
        self.body = nn.Sequential(*[RCAB(width, reduction, inner=inner[i])
                                    for i in range(n_blocks)])
        self.up = Upsampler(2, inner[-1], default_conv, in_feats=width)
        self.reduce = nn.Conv2d(inner[-1], out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.up(self.body(x)))


class DRN(nn.Module):
    """The DRN primal network; ``forward(lr)`` returns the full-scale SR image and
    ``forward(lr, return_all=True)`` the list of outputs at 1x, 2x, ..., s x the LR size."""

    multi_output = True

    def __init__(self, scale: int = 4, n_blocks: int = 30, n_feats: int = 16,
                 in_channels: int = 3, reduction: int = 16, upsample: str = "torch",
                 widths: list[int] | None = None) -> None:
        super().__init__()
        self.scale = check_scale(scale, (2, 4, 8), "DRN")
        if upsample not in ("torch", "matlab"):
            raise SRLibError(f"upsample must be 'torch' or 'matlab', got {upsample!r}")
        self.upsample, self.in_channels = upsample, in_channels
        self.phases = p = int(math.log2(self.scale))
        f = n_feats
        self.sub_mean, self.add_mean = MeanShift(sign=-1), MeanShift(sign=1)
        self.head = nn.Conv2d(in_channels, f, 3, padding=1)
        trunk = [f * 2**p] + [2 * f * 2 ** (p - i) for i in range(1, p)]
        n_internal = p + p * (n_blocks + 1)
        if widths is not None and len(widths) != n_internal:
            raise SRLibError(f"widths lists one internal width per searched layer: {n_internal} "
                             f"for this DRN (down blocks, then each up block's RCABs and "
                             f"upsampler), got {len(widths)}")
        w = list(widths) if widths is not None else (
            [f * 2**i for i in range(p)]
            + [c for i in range(p) for c in [trunk[i]] * (n_blocks + 1)])
        self.down = nn.ModuleList(DownBlock(f * 2**i, w[i], f * 2 ** (i + 1)) for i in range(p))
        per_up = n_blocks + 1
        self.up_blocks = nn.ModuleList(
            UpBlock(trunk[i], f * 2 ** (p - i - 1), n_blocks, reduction,
                    inner=w[p + i * per_up: p + (i + 1) * per_up])
            for i in range(p)
        )
        # tail[0] reads the bottleneck, tail[i + 1] the concatenation after up block i
        tail_in = [f * 2**p] + [2 * f * 2 ** (p - i - 1) for i in range(p)]
        self.tail = nn.ModuleList(nn.Conv2d(c, in_channels, 3, padding=1) for c in tail_in)

    def _upsample(self, lr: torch.Tensor) -> torch.Tensor:
        if self.upsample == "matlab":
            return imresize(lr, self.scale)
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)

    def forward(self, lr: torch.Tensor, return_all: bool = False):
        x = self.head(self.sub_mean(self._upsample(lr)))
        skips = []
        for block in self.down:
            skips.append(x)
            x = block(x)
        outputs = [self.add_mean(self.tail[0](x))]
        for i, block in enumerate(self.up_blocks):
            x = torch.cat([block(x), skips[-1 - i]], dim=1)
            outputs.append(self.add_mean(self.tail[i + 1](x)))
        return outputs if return_all else outputs[-1]


_SIZES = {("s", 4): (30, 16), ("s", 8): (30, 8), ("l", 4): (40, 20), ("l", 8): (36, 10)}


def drn_s(scale: int = 4, n_blocks: int | None = None, n_feats: int | None = None,
          upsample: str = "torch", widths: list[int] | None = None) -> DRN:
    """DRN-S: B = 30 and F = 16 (x4) or 8 (x8); ``n_blocks`` / ``n_feats`` override them."""
    b, f = _SIZES["s", check_scale(scale, (4, 8), "DRN-S")]
    return DRN(scale, n_blocks or b, n_feats or f, upsample=upsample, widths=widths)


def drn_l(scale: int = 4, n_blocks: int | None = None, n_feats: int | None = None,
          upsample: str = "torch", widths: list[int] | None = None) -> DRN:
    """DRN-L: B = 40, F = 20 (x4) or B = 36, F = 10 (x8)."""
    b, f = _SIZES["l", check_scale(scale, (4, 8), "DRN-L")]
    return DRN(scale, n_blocks or b, n_feats or f, upsample=upsample, widths=widths)
