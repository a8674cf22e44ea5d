"""Running a model on whole images (tiled, optionally self-ensembled) and scoring it.

``evaluate`` follows the literature's protocol (see :mod:`sr_lib.metrics`): PSNR/SSIM on Y with
``shave = scale``, output quantised to 8 bits. A one-channel (Y) model evaluated on RGB data
is run on the Y channel of the LR image and scored against the Y channel of the HR image. A
grayscale image is always scored on its own single channel (never on the Y of a replicated
RGB copy, which would shrink its errors by 219/255): a three-channel model sees it replicated
and its output is reduced back to one channel (:func:`~sr_lib.color.rgb_to_gray`).
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .color import rgb_to_gray, rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from .datasets import SRDataset, dihedral, dihedral_inverse
from .device import pick_device
from .errors import SRLibError
from .imageio import quantize
from .metrics import psnr, scores_uint8, ssim
from .progress import bar as progress_bar
from .receptive import receptive_field
from .resize import imresize


def forward_tiled(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int,
    tile: int = 128, overlap: int | None = None,
) -> torch.Tensor:
    """Run ``model`` on overlapping LR tiles and stitch the centres ("chop" in EDSR).

    The result equals the untiled output whenever the model's receptive field radius (in LR
    pixels) is at most ``overlap``; memory grows with ``tile`` instead of the image size.
    ``overlap=None`` uses that radius (:func:`tile_overlap`), which makes tiling exact.
    """
    if overlap is None:
        overlap = tile_overlap(model)
    if tile <= 0 or overlap < 0:
        raise SRLibError(f"tile must be > 0 and overlap >= 0, got {tile}, {overlap}")
    h, w = x.shape[-2:]
    out = None
    for (y0, y1, x0, x1), (ya, yb, xa, xb) in _tiles(h, w, tile, overlap):
        piece = model(x[..., ya:yb, xa:xb])
        if out is None:
            out = piece.new_zeros(*x.shape[:-3], piece.shape[-3], h * scale, w * scale)
        out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = piece[
            ..., (y0 - ya) * scale : (y1 - ya) * scale, (x0 - xa) * scale : (x1 - xa) * scale
        ]
    return out


_WARNED: weakref.WeakSet = weakref.WeakSet()  # models already warned about


def tile_overlap(model, fallback: int = 16) -> int:
    """The overlap that makes tiling exact: the model's receptive-field radius in LR pixels
    (:func:`sr_lib.receptive.receptive_field`). A model with global operations has none; it
    gets ``fallback`` and one warning that its tiled output only approximates the whole one."""
    if not isinstance(model, nn.Module):
        return fallback
    radius = receptive_field(model)
    if radius is not None:
        return radius
    if model not in _WARNED:
        _WARNED.add(model)
        warnings.warn(f"{type(model).__name__} pools over the whole image, so tiled output is "
                      f"close to but not equal to whole-image output (overlap {fallback} LR "
                      "pixels); run whole images where memory allows", stacklevel=3)
    return fallback


def _tiles(h: int, w: int, tile: int, overlap: int):
    """Each LR tile as (y0, y1, x0, x1), with the same tile widened by ``overlap`` pixels of
    context on every side that has them (ya, yb, xa, xb)."""
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            yield (y0, y1, x0, x1), (max(y0 - overlap, 0), min(y1 + overlap, h),
                                     max(x0 - overlap, 0), min(x1 + overlap, w))


def self_ensemble(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batched: bool | None = None
) -> torch.Tensor:
    """The x8 geometric ensemble: average of ``T_k^-1(fn(T_k(x)))`` over the 8 dihedral T_k.

    ``x`` is (..., N, C, H, W) and ``fn`` keeps that layout. With ``batched`` the transforms
    that give the same shape (all 8 for a square image, else two groups of 4) go through ``fn``
    as one batch, so a GPU runs 1-2 passes instead of 8; when that batch does not fit in memory
    the passes run one by one. The result is the same up to float rounding. ``None`` batches
    on accelerators only: a CPU gains nothing from it (``benchmarks/throughput.py``).
    """
    if batched is None:
        batched = x.device.type != "cpu"
    if not batched:
        return torch.stack([dihedral_inverse(fn(dihedral(x, k)), k) for k in range(8)]).mean(0)
    n = x.shape[-4]
    groups = [range(8)] if x.shape[-1] == x.shape[-2] else [(0, 2, 5, 7), (1, 3, 4, 6)]
    total = None
    try:
        for ks in groups:
            out = fn(torch.cat([dihedral(x, k) for k in ks], dim=-4))
            for j, k in enumerate(ks):
                part = dihedral_inverse(out.narrow(-4, j * n, n), k)
                total = part.clone() if total is None else total.add_(part)
    except torch.OutOfMemoryError:
        if x.device.type == "cuda":
            torch.cuda.empty_cache()
        return self_ensemble(fn, x, batched=False)
    return total / 8


@torch.no_grad()
def super_resolve(
    model: nn.Module, lr: torch.Tensor, tile: int | None = None, overlap: int | None = None,
    ensemble: bool = False,
) -> torch.Tensor:
    """Upscale a [0, 1] image (C, H, W) or batch (N, C, H, W) with ``model``.

    RGB images given to a one-channel model are upscaled on Y, with Cb/Cr upscaled bicubically.
    A grayscale (one-channel) image given to a three-channel model is replicated to RGB and the
    output is reduced back to one channel with :func:`~sr_lib.color.rgb_to_gray`, so a grey
    image comes back grey and is scored on its own channel, as in the literature.
    ``tile`` runs LR tiles widened by ``overlap`` pixels (default: the model's receptive-field
    radius, which makes the result equal the whole-image one; see :func:`tile_overlap`).
    """
    single = lr.dim() == 3
    x = lr[None] if single else lr
    scale = int(model.scale)
    device = next((p.device for p in model.parameters()), x.device)
    x = x.to(device)
    in_ch = getattr(model, "in_channels", x.shape[1])
    if getattr(model, "any_channels", False):  # interpolation works on any channel count
        in_ch = x.shape[1]
    ycc, gray = None, False
    if in_ch == 1 and x.shape[1] == 3:
        ycc = rgb_to_ycbcr(x)
        x = ycc[:, :1]
    elif in_ch == 3 and x.shape[1] == 1:
        x, gray = x.expand(-1, 3, -1, -1), True
    elif in_ch != x.shape[1]:
        raise SRLibError(f"model takes {in_ch} channels, image has {x.shape[1]}")

    def run(t: torch.Tensor) -> torch.Tensor:
        return forward_tiled(model, t, scale, tile, overlap) if tile else model(t)

    out = self_ensemble(run, x) if ensemble else run(x)
    if not bool(torch.isfinite(out).all()):
        raise SRLibError("the model produced NaN or infinite values: its weights are broken "
                         "(a diverged run?) or the input is far outside [0, 1]")
    if ycc is not None:
        out = ycbcr_to_rgb(torch.cat([out, imresize(ycc[:, 1:], scale)], 1))
    elif gray:
        out = rgb_to_gray(out)
    return out[0] if single else out


@torch.no_grad()
def super_resolve_uint8(
    model: nn.Module, lr: torch.Tensor, tile: int | None = None, overlap: int | None = None,
    ensemble: bool = False, y_only: bool = False,
) -> torch.Tensor:
    """Upscale an 8-bit image (C, H, W) uint8 to an 8-bit result, one LR tile at a time.

    Each tile (with ``overlap`` LR pixels of context) goes through :func:`super_resolve`, is
    quantised and written into the uint8 output, so peak memory is one tile's float work plus
    the uint8 output, whatever the image size. The result equals the untiled one when the
    model's receptive-field radius is at most ``overlap`` (the default overlap is that radius).
    ``y_only`` runs a one-channel model on
    the Y of an RGB image and returns that Y (what :func:`evaluate` scores). ``tile=None`` runs
    the whole image at once. A uint16 image works the same way at 16 bits
    (:func:`super_resolve_integer`).
    """
    if lr.dtype != torch.uint8 or lr.dim() != 3:
        raise SRLibError(f"super_resolve_uint8 takes a (C, H, W) uint8 image, got "
                         f"{tuple(lr.shape)} {lr.dtype}")
    return super_resolve_integer(model, lr, tile, overlap, ensemble, y_only)


def super_resolve_integer(
    model: nn.Module, lr: torch.Tensor, tile: int | None = None, overlap: int | None = None,
    ensemble: bool = False, y_only: bool = False,
) -> torch.Tensor:
    """:func:`super_resolve_uint8` for a uint8 or a uint16 image: the result has the input's
    bit depth (a 16-bit photograph keeps its 65,536 levels)."""
    if lr.dtype not in (torch.uint8, torch.uint16) or lr.dim() != 3:
        raise SRLibError(f"super_resolve_integer takes a (C, H, W) uint8 or uint16 image, got "
                         f"{tuple(lr.shape)} {lr.dtype}")
    top = 255.0 if lr.dtype == torch.uint8 else 65535.0
    s = int(model.scale)
    _, h, w = lr.shape
    step = int(tile) if tile else max(h, w)
    if step < 1:
        raise SRLibError(f"tile must be at least 1, got {tile}")
    if overlap is None:
        overlap = tile_overlap(model) if tile else 0
    out = None
    for (y0, y1, x0, x1), (ya, yb, xa, xb) in _tiles(h, w, step, overlap):
        piece = lr[:, ya:yb, xa:xb].float().div_(top)
        if y_only and piece.shape[0] == 3:
            piece = rgb_to_y(piece)
        piece = super_resolve(model, piece, ensemble=ensemble)
        piece = piece[:, (y0 - ya) * s:(y1 - ya) * s, (x0 - xa) * s:(x1 - xa) * s]
        q = quantize(piece.float(), top).mul_(top).round_().to(lr.dtype).cpu()
        if out is None:  # stored (H, W, C): a file writer can read it without a copy
            out = torch.empty((h * s, w * s, q.shape[0]), dtype=lr.dtype)
        out[y0 * s:y1 * s, x0 * s:x1 * s] = q.permute(1, 2, 0)
    return out.permute(2, 0, 1)


@dataclass
class EvalResult:
    """Per-image and mean scores of one evaluation."""

    scale: int
    names: list[str] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)

    @property
    def mean_psnr(self) -> float:
        """Mean per-image PSNR, as the literature averages it, over the images that are not
        reproduced exactly; those have infinite PSNR and are listed in :attr:`perfect` (if every
        image is perfect the mean is infinite)."""
        finite = [p for p in self.psnr if math.isfinite(p)]
        if not finite:
            return math.inf if self.psnr else math.nan
        return sum(finite) / len(finite)

    @property
    def perfect(self) -> list[str]:
        """Images reproduced exactly (infinite PSNR), left out of :attr:`mean_psnr`."""
        return [n for n, p in zip(self.names, self.psnr) if math.isinf(p)]

    @property
    def mean_ssim(self) -> float:
        return sum(self.ssim) / len(self.ssim)

    def add(self, name: str, sr: torch.Tensor, hr: torch.Tensor, shave: int) -> None:
        """Score one SR image against its HR image and record it (uint8 pairs are scored in
        row blocks by :func:`sr_lib.metrics.scores_uint8`, with the same numbers)."""
        self.names.append(name)
        if sr.dtype == torch.uint8 and hr.dtype == torch.uint8:
            p, q = scores_uint8(sr, hr, shave)
        else:
            p, q = psnr(sr, hr, shave), ssim(sr, hr, shave)
        self.psnr.append(p)
        self.ssim.append(q)

    def as_dict(self) -> dict:
        """Plain JSON-safe values: an infinite PSNR (a perfect image) is written as ``null``
        and named under ``"perfect"``."""
        def num(v: float):
            return round(v, 4) if math.isfinite(v) else None

        return {
            "psnr": num(self.mean_psnr), "ssim": num(self.mean_ssim),
            "n_images": len(self.names), "scale": self.scale, "perfect": self.perfect,
            "per_image": [
                {"name": n, "psnr": num(p), "ssim": num(s)}
                for n, p, s in zip(self.names, self.psnr, self.ssim)
            ],
        }

    def __repr__(self) -> str:
        flag = f", {len(self.perfect)} perfect (not in the mean)" if self.perfect else ""
        return (f"EvalResult(x{self.scale}, {len(self.names)} images, "
                f"PSNR {self.mean_psnr:.2f} dB, SSIM {self.mean_ssim:.4f}{flag})")


def evaluate(
    model: nn.Module,
    data: SRDataset | str | Path,
    scale: int | None = None,
    shave: int | None = None,
    tile: int | None = None,
    ensemble: bool = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    outputs: dict | None = None,
) -> EvalResult:
    """Mean and per-image PSNR/SSIM (Y, shave = scale) of ``model`` on ``data``.

    ``data`` is an :class:`SRDataset` or a folder of HR images (degraded with MATLAB bicubic).
    ``tile`` enables tiled inference; ``ensemble`` the x8 self-ensemble. Pass a dict as
    ``outputs`` to receive the SR images by name.
    """
    scale = int(scale or model.scale)
    if int(getattr(model, "scale", scale)) != scale:
        raise SRLibError(f"model is x{model.scale} but evaluation asks for x{scale}")
    if not isinstance(data, SRDataset):
        data = SRDataset(data, scale)
    if data.scale != scale:
        raise SRLibError(f"dataset is x{data.scale} but evaluation asks for x{scale}")
    if len(data) == 0:
        raise SRLibError("the evaluation dataset holds no images")
    shave = scale if shave is None else shave
    with _scoring(model, device) as device:
        result = EvalResult(scale)
        in_ch = getattr(model, "in_channels", 3)
        for i in progress_bar(range(len(data)), desc=f"eval x{scale}", show=progress, leave=False):
            if tile:  # 8-bit all the way: memory stays at a tile plus the uint8 images
                try:
                    sr8 = super_resolve_uint8(model, data.lr[i].to(device), tile=tile,
                                              ensemble=ensemble, y_only=in_ch == 1)
                    result.add(data.names[i], sr8, data.hr[i], shave)
                except SRLibError as exc:
                    raise SRLibError(f"image {data.names[i]!r}: {exc}") from None
                if outputs is not None:
                    outputs[data.names[i]] = sr8.float().div(255.0)
                continue
            item = data[i]
            lr, hr = item["lr"], item["hr"]
            if in_ch == 1 and lr.shape[0] == 3:
                lr, hr = rgb_to_y(lr), rgb_to_y(hr)
            try:
                sr = super_resolve(model, lr.to(device), tile=tile, ensemble=ensemble)
                result.add(item["name"], sr, hr, shave)  # scored on sr's device (metrics)
            except SRLibError as exc:
                raise SRLibError(f"image {item['name']!r} (HR {tuple(hr.shape[-2:])}): {exc}"
                                 ) from None
            if outputs is not None:
                outputs[item["name"]] = sr.cpu()
    return result


@contextmanager
def _scoring(model: nn.Module, device):
    """``model`` in eval mode on the picked device (yielded) while scoring; afterwards, even
    on error, it leaves as it came, in its mode and on its device (cells feed it their own
    tensors)."""
    device = pick_device(device)
    was_training = model.training
    home = next((p.device for p in model.parameters()), None)
    model.eval().to(device)
    try:
        yield device
    finally:
        model.train(was_training)
        if home is not None:
            model.to(home)


def _unrolled_inputs(model: nn.Module, data: SRDataset, device, progress: bool, desc: str):
    """Yield ``(item, lr, gray)`` for every image, with ``model`` in eval mode on ``device``
    (mode and device restored afterwards). A grayscale image given to an RGB model is
    replicated to RGB; ``gray`` says so, and the caller reduces the outputs back (as
    super_resolve does)."""
    with _scoring(model, device) as device:
        for i in progress_bar(range(len(data)), desc=desc, show=progress, leave=False):
            item = data[i]
            lr = item["lr"][None].to(device)
            gray = lr.shape[1] == 1 and getattr(model, "in_channels", 1) == 3
            yield item, (lr.expand(-1, 3, -1, -1) if gray else lr), gray


@torch.no_grad()
def evaluate_iterations(
    model: nn.Module, data: SRDataset, ensemble: bool = False,
    device: str | torch.device | None = None, progress: bool = True,
) -> list[EvalResult]:
    """Scores of every intermediate estimate x(1), ..., x(K) of an unrolled model (one whose
    ``forward(lr, return_all=True)`` returns the list), as in ISRResCNet's Fig. 3.

    With ``ensemble`` each x(k) is the x8 self-ensemble average of the k-th estimates.
    """
    scale = int(model.scale)
    results: list[EvalResult] | None = None

    def all_estimates(t: torch.Tensor) -> torch.Tensor:
        return torch.stack(model(t, return_all=True))  # (K, 1, C, H, W)

    for item, lr, gray in _unrolled_inputs(model, data, device, progress, "eval x(k)"):
        per_k = self_ensemble(all_estimates, lr) if ensemble else all_estimates(lr)
        if gray:
            per_k = rgb_to_gray(per_k)
        if results is None:
            results = [EvalResult(scale) for _ in per_k]
        for res, out in zip(results, per_k):
            res.add(item["name"], out[0], item["hr"], scale)
    return results or []


@torch.no_grad()
def trace_iterations(
    model: nn.Module, data: SRDataset, device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Where an unrolled model gains or loses PSNR, iteration by iteration (ISRResCNet).

    For a model with ``trace(lr)`` (see :meth:`~sr_lib.models.isrrescnet.ISRResCNet.trace`),
    returns the mean Y-PSNR over ``data`` of ``x_psnr``: x(0) (the start), x(1), ..., x(K)
    (after each denoiser step and projection); ``z_psnr``: z(1), ..., z(K) (after each
    extrapolation and data step, clipped to [0, 1] for scoring); and ``binding``, per k the
    share of images whose ERD residual was longer than the ball's radius, so that the
    projection shrank it. Iteration k's change splits into a data part, z(k) - x(k-1), and a
    denoiser part, x(k) - z(k).
    """
    if not hasattr(model, "trace"):
        raise SRLibError(f"{type(model).__name__} has no trace(lr); trace_iterations needs an "
                         "unrolled model such as ISRResCNet")
    scale = int(model.scale)
    sums: dict[str, list[float]] | None = None
    for item, lr, gray in _unrolled_inputs(model, data, device, progress, "trace x(k)"):
        steps = model.trace(lr)
        if sums is None:
            sums = {"x_psnr": [0.0] * (len(steps) + 1), "z_psnr": [0.0] * len(steps),
                    "binding": [0.0] * len(steps)}

        def score(img: torch.Tensor, hr: torch.Tensor = item["hr"], gray: bool = gray) -> float:
            return psnr((rgb_to_gray(img) if gray else img)[0].cpu(), hr, scale)

        sums["x_psnr"][0] += score(model.start(lr))
        for k, step in enumerate(steps):
            sums["z_psnr"][k] += score(step["z"].clamp(0, 1))
            sums["x_psnr"][k + 1] += score(step["x"])
            sums["binding"][k] += float((step["residual_norm"] > step["radius"]).float().mean())
    return {key: [v / len(data) for v in values] for key, values in (sums or {}).items()}
