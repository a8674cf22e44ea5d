"""The degradation models of the SR literature, applied to batched [0, 1] tensors.

* ``BI``: MATLAB bicubic downscaling (the standard benchmark setting);
* ``BD``: 7x7 Gaussian blur (sigma 1.6, replicate border) then keeping one pixel in ``s``
  (the same pixel MATLAB's ``imresize(..., 'nearest')`` keeps);
* ``DN``: bicubic downscaling plus white Gaussian noise (sigma in 0-255 units, default 30);
* ``nearest``: MATLAB nearest-neighbour downscaling.

Each returns unrounded floats; ``quantize=True`` rounds to 8 bits, as LR files on disk are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import SRLibError
from .imageio import quantize as _quantize
from .resize import imresize

DEGRADATIONS = ("BI", "BD", "DN", "nearest")


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop (..., H, W) at the bottom/right so both sides are multiples of ``scale``."""
    h, w = x.shape[-2] - x.shape[-2] % scale, x.shape[-1] - x.shape[-1] % scale
    if h == 0 or w == 0:
        raise SRLibError(f"image {tuple(x.shape[-2:])} is smaller than the scale {scale}")
    return x[..., :h, :w]


def gaussian_kernel(size: int = 7, sigma: float = 1.6) -> torch.Tensor:
    """Normalised 2-D Gaussian like MATLAB's ``fspecial('gaussian', size, sigma)``."""
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return k / k.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Depthwise 2-D correlation with replicate padding, like ``imfilter(..., 'replicate')``."""
    c = x.shape[-3]
    flat = x.reshape(-1, c, *x.shape[-2:])
    k = kernel.to(x.device, x.dtype)[None, None].expand(c, 1, *kernel.shape)
    ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = F.pad(flat, (pw, kernel.shape[1] - 1 - pw, ph, kernel.shape[0] - 1 - ph), "replicate")
    return F.conv2d(padded, k, groups=c).reshape(x.shape)


@dataclass(frozen=True)
class Degradation:
    """A named LR-from-HR model: ``Degradation('BI', 4)(hr) -> lr``.

    ``noise_sigma`` (0-255 units) is used by ``DN``; ``seed`` makes its noise repeatable.
    """

    kind: str = "BI"
    scale: int = 4
    noise_sigma: float = 30.0
    blur_size: int = 7
    blur_sigma: float = 1.6
    quantize: bool = True

    def __post_init__(self) -> None:
        if self.kind not in DEGRADATIONS:
            raise SRLibError(f"unknown degradation {self.kind!r}; choose one of {DEGRADATIONS}")
        if int(self.scale) != self.scale or self.scale < 1:
            raise SRLibError(f"scale must be a positive integer, got {self.scale}")

    def __call__(self, hr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s = int(self.scale)
        if hr.shape[-2] % s or hr.shape[-1] % s:
            raise SRLibError(
                f"HR size {tuple(hr.shape[-2:])} is not a multiple of scale {s}; modcrop it first"
            )
        if self.kind == "BI":
            lr = imresize(hr, 1 / s)
        elif self.kind == "nearest":
            lr = imresize(hr, 1 / s, kernel="nearest")
        elif self.kind == "BD":
            blurred = blur(hr, gaussian_kernel(self.blur_size, self.blur_sigma))
            lr = imresize(blurred, 1 / s, kernel="nearest")
        else:  # DN
            lr = imresize(hr, 1 / s)
            noise = torch.randn(lr.shape, generator=generator, dtype=lr.dtype)
            lr = lr + noise.to(lr.device) * (self.noise_sigma / 255.0)
        return _quantize(lr) if self.quantize else lr
