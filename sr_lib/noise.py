"""Noise-level estimation from an image: the wavelet median-absolute-deviation (MAD) rule.

Donoho's estimator: the finest diagonal (HH) wavelet band of a natural image is mostly noise,
so sigma ~= median(|HH|) / 0.6745. ISRResCNet estimates sigma this way from the LR input, per
image, with the Daubechies-7 filter, and sizes its projection layer with it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .resize import exporting


@lru_cache(maxsize=16)
def daubechies(n: int) -> np.ndarray:
    """Low-pass reconstruction filter of the Daubechies wavelet with ``n`` vanishing moments
    (2n taps, extremal phase, sum sqrt(2)), computed by spectral factorisation."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    # |m0(w)|^2 = cos^2n(w/2) P(sin^2(w/2)), P(y) = sum_k C(n-1+k, k) y^k
    p = [math.comb(n - 1 + k, k) for k in range(n)]
    roots_y = np.roots(p[::-1]) if n > 1 else np.array([])
    zs = []
    for y in roots_y:
        # y = (2 - z - 1/z) / 4  <=>  z^2 - (2 - 4y) z + 1 = 0; keep the root inside |z| < 1
        pair = np.roots([1.0, -(2 - 4 * y), 1.0])
        zs.append(pair[np.argmin(np.abs(pair))])
    poly = np.array([1.0])
    for _ in range(n):
        poly = np.convolve(poly, [0.5, 0.5])
    for z in zs:
        poly = np.convolve(poly, [1.0, -z])
    h = np.real(poly)
    h = h / h.sum() * math.sqrt(2)
    return h[::-1].copy() if h[0] < h[-1] else h


def highpass_decomposition(n: int = 7) -> np.ndarray:
    """The analysis high-pass filter g[k] = (-1)^k h[k] of db``n``, reversed for correlation."""
    h = daubechies(n)
    g = np.array([(-1) ** k * h[len(h) - 1 - k] for k in range(len(h))])
    return g


def estimate_sigma(x: torch.Tensor, wavelet_order: int = 7) -> torch.Tensor:
    """Noise standard deviation of each image in a [0, 1] batch (N, C, H, W), in 0-255 units.

    The HH band is computed per channel (reflect padding, stride 2 along rows then columns);
    sigma is the channel mean of median(|HH|) / 0.6745. The result is detached: it is a
    measurement, not a learned quantity.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a batch (N, C, H, W), got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    g = torch.from_numpy(highpass_decomposition(wavelet_order)).to(x.device, x.dtype)
    taps = g.numel()
    pad = taps // 2
    flat = x.detach().reshape(n * c, 1, *x.shape[-2:])
    # reflect padding as in the released code; tiny images (< 8 px) fall back to replicate
    mode = "reflect" if min(flat.shape[-2:]) > pad else "replicate"
    rows = F.conv2d(F.pad(flat, (pad, pad - 1, 0, 0), mode=mode), g.view(1, 1, 1, -1),
                    stride=(1, 2))
    mode = "reflect" if rows.shape[-2] > pad else "replicate"
    hh = F.conv2d(F.pad(rows, (0, 0, pad, pad - 1), mode=mode), g.view(1, 1, -1, 1),
                  stride=(2, 1))
    band = hh.abs().reshape(n, c, -1)
    if exporting():
        # ONNX has no median: the lower median (torch's) is the sorted band's middle entry
        middle = (band.shape[-1] - 1) // 2
        mad = band.sort(dim=-1).values[..., middle] / 0.6745
    else:
        mad = band.median(dim=-1).values / 0.6745
    return mad.mean(dim=1) * 255.0
