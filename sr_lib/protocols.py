"""Published training protocols as ready-made data and configs, so that a chapter, a test and a
user reproducing a paper start from the same settings.

VDSR's protocol (Kim et al. 2016, as in the released code of AIL, seed 004): the 291 images at
three sizes, Y channel, 41x41 HR patches, every scale in one model, SGD at 0.1 with momentum 0.9
and weight decay 1e-4, the summed squared error, the gradient's total norm clipped to 0.4, and
the rate divided by 10 every 10 of 50 epochs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .datasets import MultiScaleData, SRDataset, downsized_copies, epoch_iterations
from .errors import SRLibError
from .train import TrainConfig

VDSR_PATCH = 41  # HR patch side; the LR side at scale s is round(41 / s)
VDSR_FLIPS_ROTATIONS = 12  # 3 flip options x 4 rotations in VDSR's patch generation


def vdsr_lr_patch(scale: int) -> int:
    """The LR patch side that corresponds to VDSR's 41x41 HR patches at ``scale``."""
    return round(VDSR_PATCH / scale)


def vdsr_data(images: Sequence[str | Path | np.ndarray], scales: Sequence[int] = (2, 3, 4),
              downsize: Sequence[float] = (1.0, 0.7, 0.5)
              ) -> tuple[SRDataset | MultiScaleData, dict[int, SRDataset]]:
    """VDSR's training data: every image at each ``downsize`` factor, Y channel, at each scale.

    Returns ``(train, per_scale)``: ``train`` is the single-scale set when one scale is given,
    otherwise the mixed-scale batches VDSR trains on (one random scale per batch, with its own
    LR patch side); ``per_scale`` maps each scale to its own :class:`SRDataset` (AIL trains one
    model per scale on those).
    """
    if not images:
        raise SRLibError("vdsr_data needs at least one training image")
    if not scales:
        raise SRLibError("vdsr_data needs at least one scale, e.g. scales=(2, 3, 4)")
    copies = downsized_copies(images, downsize)
    per_scale = {s: SRDataset(copies, s, channels="y") for s in sorted(set(scales))}
    if len(per_scale) == 1:
        return next(iter(per_scale.values())), per_scale
    return MultiScaleData(per_scale, {s: vdsr_lr_patch(s) for s in per_scale}), per_scale


def vdsr_epoch(per_scale: dict[int, SRDataset], batch_size: int = 128,
               scales: Sequence[int] | None = None) -> int:
    """Iterations in one VDSR epoch: every non-overlapping 41x41 patch of every listed scale,
    under each of the 12 flips and rotations, in batches of ``batch_size``."""
    chosen = list(scales) if scales is not None else list(per_scale)
    missing = [s for s in chosen if s not in per_scale]
    if missing:
        raise SRLibError(f"no data for scales {missing}; have {sorted(per_scale)}")
    patches = sum(per_scale[s].patches_per_epoch(vdsr_lr_patch(s)) for s in chosen)
    return epoch_iterations(VDSR_FLIPS_ROTATIONS * patches, batch_size)


def vdsr_config(iterations: int, scale: int = 2, batch_size: int = 128, decay_every: float = 0.2,
                **overrides) -> TrainConfig:
    """The VDSR / AIL training config for ``iterations`` steps at ``scale``.

    The rate is divided by 10 every ``decay_every`` of the run (0.2: every 10 of 50 epochs). Pass
    ``scheduler=None`` when a hook such as :class:`~sr_lib.importance.AdaptiveImportance` drives
    the rate; any other :class:`TrainConfig` field can be overridden by keyword.
    """
    if not 0 < decay_every <= 1:
        raise SRLibError(f"decay_every is a fraction of the run in (0, 1], got {decay_every}")
    settings = dict(
        iterations=iterations, batch_size=batch_size, lr_patch=vdsr_lr_patch(scale), loss="l2",
        reduction="sum", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
        grad_clip=0.4, scheduler="step", step_size=max(1, int(decay_every * iterations)),
        gamma=0.1)
    settings.update(overrides)
    return TrainConfig(**settings)


def ail_test_data(mat_dir: str | Path, scale: int) -> list[dict]:
    """The AIL authors' MATLAB-prepared test images (``<mat_dir>/<scale>/<name>_GT.mat`` and
    ``<name>_x<scale>.mat``, as in pytorch-vdsr's test data): per image, the ground-truth Y and
    the MATLAB bicubic down-then-up Y, both unrounded floats in [0, 1], (H, W) tensors. Images
    whose input file is missing are left out (``baby`` in the stored copy)."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise SRLibError("reading .mat files needs scipy: pip install scipy") from None
    folder = Path(mat_dir) / str(scale)
    gts = sorted(folder.glob("*_GT.mat"))
    if not gts:
        raise SRLibError(f"no *_GT.mat files in {folder}; expected the AIL release's Set5_mat")
    items = []
    for gt in gts:
        name = gt.name[: -len("_GT.mat")]
        inp = folder / f"{name}_x{scale}.mat"
        if not inp.is_file():
            continue
        y_gt = loadmat(gt)["im_gt_ycbcr"][:, :, 0]
        y_in = loadmat(inp)["im_b_ycbcr"][:, :, 0]
        items.append({"name": name, "gt": torch.from_numpy(np.array(y_gt, dtype=np.float64)),
                      "input": torch.from_numpy(np.array(y_in, dtype=np.float64))})
    return items


@torch.no_grad()
def score_like_ail_test(model: torch.nn.Module, items: list[dict], scale: int) -> dict[str, float]:
    """PSNR per image as the AIL / pytorch-vdsr test script computes it: the network on the
    MATLAB-upsampled Y (``model.refine``), output clipped to [0, 1] but not rounded to 8 bits,
    Y against unrounded ground-truth Y, ``shave = scale``. Compare with :func:`sr_lib.evaluate`
    (LR rounded to 8 bits, output quantised) to see what the protocol alone changes."""
    from .metrics import psnr

    if not hasattr(model, "refine"):
        raise SRLibError("score_like_ail_test needs a pre-upsampling model with .refine (VDSR)")
    device = next(model.parameters()).device
    model.eval()
    out = {}
    for item in items:
        x = item["input"].float()[None, None].to(device)
        sr = model.refine(x).clamp(0, 1).double().cpu()[0]
        out[item["name"]] = psnr(sr, item["gt"][None], shave=scale, y_channel=False,
                                 do_quantize=False)
    return out
