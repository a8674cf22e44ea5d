"""Colour conversion exactly as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb`` (ITU-R BT.601).

Y lies in [16, 235] (in 0-255 units) and Cb, Cr in [16, 240]. Every seed paper reports PSNR
and SSIM on this Y channel; OpenCV's full-range YCrCb gives different numbers.
"""

from __future__ import annotations

import torch

# Rows give Y, Cb, Cr from R, G, B in [0, 1]; the result is in 0-255 units before the offset.
_RGB2YCBCR = torch.tensor(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=torch.float64,
)
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> YCbCr in [0, 1] (i.e. MATLAB's output divided by 255)."""
    _check_rgb(x)
    m = _RGB2YCBCR.to(x.device, x.dtype) / 255.0
    out = torch.einsum("ij,...jhw->...ihw", m, x)
    return out + (_OFFSET.to(x.device, x.dtype) / 255.0)[:, None, None]


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr` (no clamping: the caller decides about saturation)."""
    _check_rgb(x)
    m = torch.linalg.inv(_RGB2YCBCR / 255.0).to(x.device, x.dtype)
    shifted = x - (_OFFSET.to(x.device, x.dtype) / 255.0)[:, None, None]
    return torch.einsum("ij,...jhw->...ihw", m, shifted)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Y channel (..., 1, H, W) in [0, 1]; a one-channel input is returned unchanged.

    Grayscale images (e.g. Set14 ``bridge``) are scored on their single channel, as the
    literature's scripts do when ``size(im, 3) == 1``.
    """
    if x.shape[-3] == 1:
        return x
    return rgb_to_ycbcr(x)[..., :1, :, :]


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W): the grey level whose BT.601 Y equals the input's Y.

    This is how a 3-channel model's output on a grayscale image is reduced back to one channel
    before scoring (``super_resolve``): a grey image g has Y = 16 + 219 g / 255, so
    ``(Y - 16) * 255 / 219`` recovers g at full scale. Scoring the replicated image's Y instead
    shrinks every error by 219/255 and adds 20 log10(255/219) = 1.32 dB (the Set14 ``bridge``
    discrepancy in some papers). For an output with R = G = B it returns that channel exactly.
    """
    _check_rgb(x)
    w = _RGB2YCBCR[0].to(x.device, x.dtype)
    return torch.einsum("j,...jhw->...hw", w / w.sum(), x).unsqueeze(-3)


def _check_rgb(x: torch.Tensor) -> None:
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected an RGB tensor (..., 3, H, W), got shape {tuple(x.shape)}")
