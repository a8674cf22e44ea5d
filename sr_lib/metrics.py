"""PSNR and SSIM as the SR literature's MATLAB scripts compute them.

Protocol (the one every table in the seed papers uses):

1. the SR output is quantised to 8 bits (``imageio.quantize``);
2. both images are converted to the BT.601 Y channel (``color.rgb_to_y``), in 0-255 units,
   without rounding Y; a one-channel image is scored on that channel;
3. ``shave`` pixels (normally the scale) are removed from every border;
4. PSNR = 10 log10(255^2 / MSE); SSIM uses an 11x11 Gaussian window (sigma 1.5),
   K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering and no downsampling (Wang et al. 2004).

Agreement with the literature (bicubic, MATLAB-bicubic LR made from the RGB image, grayscale
images scored on their own channel; ``tests/test_metrics_eval.py::test_standard_bicubic_table``
enforces 0.03 dB / 0.002 on all nine cells):

======  =====  ================  ================
set     scale  sr_lib            literature
======  =====  ================  ================
Set5    x2     33.68 / 0.9305    33.66 / 0.9299
Set5    x3     30.40 / 0.8690    30.39 / 0.8682
Set5    x4     28.43 / 0.8113    28.42 / 0.8104
Set14   x2     30.24 / 0.8692    30.24 / 0.8688
Set14   x3     27.54 / 0.7746    27.55 / 0.7742
Set14   x4     26.00 / 0.7031    26.00 / 0.7027
B100    x2     29.57 / 0.8436    29.56 / 0.8431
B100    x3     27.21 / 0.7392    27.21 / 0.7385
B100    x4     25.96 / 0.6682    25.96 / 0.6675
======  =====  ================  ================

Degrading only the Y channel, as the SRCNN / VDSR MATLAB scripts did, gives 33.65, 30.39 and
28.42 dB on Set5: the small remaining gap is that choice, not the metric (Chapter 0 measures
it). Scoring Set14's grayscale ``bridge`` on the Y of a replicated RGB copy instead (what some
PyTorch code bases do) adds 1.32 dB to that image and about 0.09 dB to the Set14 mean: the
26.10 dB that seed 003 prints for Set14 x4 bicubic.
"""

from __future__ import annotations

import math

import torch

from .color import rgb_to_y
from .errors import SRLibError
from .imageio import quantize


def _check(x: torch.Tensor, which: str, range_check: bool = True) -> None:
    """Refuse input that would give a silently wrong number."""
    if not torch.is_tensor(x):
        raise SRLibError(f"{which} must be a torch tensor in [0, 1], got {type(x).__name__}")
    if not x.is_floating_point():
        raise SRLibError(f"{which} has dtype {x.dtype}; the metrics take float images in [0, 1] "
                         "(use sr_lib.imageio.uint8_to_tensor or x.float() / 255)")
    if not bool(torch.isfinite(x).all()):
        raise SRLibError(f"{which} holds NaN or infinite values; the model or data is broken")
    top = float(x.max()) if x.numel() else 0.0
    if range_check and top > 1.0 + 1e-6:  # a ground truth above 1 is in another range
        raise SRLibError(f"{which} has values up to {top:g}: the metrics take [0, 1] images; "
                         "divide [0, 255] data by 255")


def _on_8bit_grid(x: torch.Tensor) -> bool:
    v = x * 255.0
    return bool(((v - v.round()).abs() < 1e-3).all())


def _prepare(sr: torch.Tensor, hr: torch.Tensor, shave: int, y_channel: bool, do_quantize: bool):
    _check(sr, "the SR image", range_check=False)  # outputs saturate when quantised
    _check(hr, "the HR image")
    if sr.shape != hr.shape:
        raise SRLibError(
            f"SR and HR shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}; "
            "modcrop the HR image to a multiple of the scale"
        )
    _check_shave(shave)
    dtype = score_dtype(sr.device)
    sr = sr.to(dtype)
    hr = hr.to(sr.device, dtype)  # scored where the SR image is (on the GPU: no copy back)
    if do_quantize:
        sr = quantize(sr)
        if _on_8bit_grid(hr):  # snap float32 k/255 back to the grid: identical gives MSE 0
            hr = quantize(hr)  # (an unrounded Y ground truth is left as it is)
    if y_channel:  # one memory layout for both: equal pixels give bit-equal Y on any CPU
        sr, hr = rgb_to_y(sr.contiguous()), rgb_to_y(hr.contiguous())
    if shave:
        if 2 * shave >= min(sr.shape[-2:]):
            raise SRLibError(f"shave={shave} removes the whole {tuple(sr.shape[-2:])} image")
        sr = sr[..., shave:-shave, shave:-shave]
        hr = hr[..., shave:-shave, shave:-shave]
    return sr * 255.0, hr * 255.0


def psnr(
    sr: torch.Tensor,
    hr: torch.Tensor,
    shave: int = 0,
    y_channel: bool = True,
    do_quantize: bool = True,
) -> float:
    """PSNR in dB of one image pair given as [0, 1] tensors (C, H, W) or (1, C, H, W).

    Identical images (after 8-bit quantisation) give ``math.inf``; :class:`EvalResult` leaves
    them out of its mean and lists them (see :mod:`sr_lib.evaluate`)."""
    a, b = _prepare(sr, hr, shave, y_channel, do_quantize)
    mse = float(torch.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian; the 2-D SSIM window is its outer product (separable)."""
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    sr: torch.Tensor,
    hr: torch.Tensor,
    shave: int = 0,
    y_channel: bool = True,
    do_quantize: bool = True,
) -> float:
    """Mean SSIM of one image pair (channels averaged when ``y_channel=False``)."""
    a, b = _prepare(sr, hr, shave, y_channel, do_quantize)
    a = a.reshape(-1, 1, *a.shape[-2:])
    b = b.reshape(-1, 1, *b.shape[-2:])
    if min(a.shape[-2:]) < 11:
        size = tuple(a.shape[-2:])
        raise SRLibError(f"SSIM needs at least 11x11 pixels after shaving, got {size}")
    return float(_ssim_map(a, b).mean())


def score_dtype(device: torch.device) -> torch.dtype:
    """float64 wherever the device has it (the MATLAB scripts score in double); Apple's MPS
    has no float64, so it scores in float32 (``benchmarks/throughput.py`` prints the gap)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def _filter_valid(x: torch.Tensor, taps: list[float]) -> torch.Tensor:
    """Separable 'valid' correlation of (..., H, W) with ``taps`` along W, then along H,
    as sums of shifted slices: on CPU this beats float64 ``conv2d`` about 3x and scipy's
    Gaussian filter (what skimage uses) about 2x, with the same values."""
    n = len(taps)
    w, h = x.shape[-1] - n + 1, x.shape[-2] - n + 1
    rows = x[..., 0:w] * taps[0]
    for i in range(1, n):
        rows.add_(x[..., i:i + w], alpha=taps[i])
    out = rows[..., 0:h, :] * taps[0]
    for i in range(1, n):
        out.add_(rows[..., i:i + h, :], alpha=taps[i])
    return out


_TAPS = _gaussian_window().tolist()


def _ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The 'valid' SSIM map of (N, 1, H, W) images in 0-255 units (float64 where the device
    has it), on the images' own device."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # the five local statistics in one batch, filtered separably (rows, then columns)
    stats = _filter_valid(torch.cat([a, b, a * a, b * b, a * b], dim=1), _TAPS)
    mu_a, mu_b, aa, bb, ab = stats.unbind(dim=1)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return num / den


def _check_shave(shave: int) -> None:
    if int(shave) != shave or shave < 0:
        raise SRLibError(f"shave must be a whole number of pixels >= 0, got {shave}")


def _rows_y(x: torch.Tensor, r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
    """Rows r0:r1, columns c0:c1 of a uint8 (C, H, W) image as Y in 0-255 units (float64 where
    the device has it)."""
    t = x[:, r0:r1, c0:c1].to(score_dtype(x.device)).div_(255.0)
    return (rgb_to_y(t)[0] if t.shape[0] == 3 else t[0]).mul_(255.0)


def scores_uint8(sr: torch.Tensor, hr: torch.Tensor, shave: int = 0,
                 block: int = 64) -> tuple[float, float]:
    """(PSNR, SSIM) of two 8-bit images (C, H, W), computed in blocks of ``block`` rows.

    The numbers are those of :func:`psnr` and :func:`ssim` (same Y, shave and window; only the
    order of the sums differs), but memory stays at a few float64 row blocks, so images far
    larger than the benchmarks can be scored. A one-channel ``sr`` against an RGB ``hr`` is
    taken as the Y channel (what a Y model produces).
    """
    if sr.dtype != torch.uint8 or hr.dtype != torch.uint8:
        raise SRLibError("scores_uint8 takes uint8 images; use psnr / ssim for floats")
    if tuple(sr.shape[-2:]) != tuple(hr.shape[-2:]):
        raise SRLibError(f"SR and HR sizes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    _check_shave(shave)
    hr = hr.to(sr.device)  # the pair is scored where the SR image is
    h, w = hr.shape[-2:]
    r0, r1, c0, c1 = shave, h - shave, shave, w - shave
    if r1 - r0 < 11 or c1 - c0 < 11:
        raise SRLibError(f"shave={shave} leaves less than 11x11 of the {(h, w)} image")
    sse, n = 0.0, 0
    for a in range(r0, r1, block):
        b = min(a + block, r1)
        d = _rows_y(sr, a, b, c0, c1) - _rows_y(hr, a, b, c0, c1)
        sse += float((d * d).sum())
        n += d.numel()
    p = math.inf if sse == 0 else 10 * math.log10(255.0**2 / (sse / n))
    total, count = 0.0, 0
    rows = r1 - r0 - 10  # rows of the 'valid' SSIM map
    for m in range(0, rows, block):
        m1 = min(m + block, rows)
        a = _rows_y(sr, r0 + m, r0 + m1 + 10, c0, c1)[None, None]
        b = _rows_y(hr, r0 + m, r0 + m1 + 10, c0, c1)[None, None]
        smap = _ssim_map(a, b)
        total += float(smap.sum())
        count += smap.numel()
    return p, total / count
