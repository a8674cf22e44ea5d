"""Dual regression (DRN, seed 003): close the loop LR -> HR -> LR.

Besides the primal loss on the SR output, a small *dual* model maps each output one octave
down and is compared with the LR image of that octave (Eq. 1):

    L = sum_k L1(P_k(x), y_k)  +  lam * sum_k L1(D_k(P_k(x)), y_{k-1})

where ``P_k`` is the primal output at ``2^k`` times the LR size and ``y_k`` the bicubic
downscaling of the HR image to that size (``y_0`` is the LR input itself). For DRN every
octave has an output; for a single-output backbone (EDSR, SRResNet) only the last one exists,
and its dual chain ``D_1 o ... o D_p`` maps the SR image back to the input LR.

* :class:`DualRegression`: the trainer hook (the dual models train with the primal network,
  in the same Adam: Adam is per-parameter, so that equals the released code's separate Adams
  with equal settings);
* :class:`BicubicDual`: the fixed-degradation control of the paper's Table C;
* :class:`MixedBatches`: unpaired LR images mixed with paired data in the ratio ``rho``
  (DRN-Adapt, Algorithm 2): unpaired samples get only the dual loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .errors import SRLibError
from .models.drn import DownBlock
from .resize import imresize
from .train import Hook, Trainer


class BicubicDual(nn.Module):
    """A fixed x1/2 MATLAB-bicubic downscaling: a dual model with nothing to learn."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x, 0.5)


def make_duals(scale: int, feats: int = 16, fixed: bool = False,
               channels: int = 3) -> nn.ModuleList:
    """One dual model per x2 step: ``duals[k]`` maps an image at ``2^(k+1)`` times the LR size
    to ``2^k`` times. Each is conv3x3 stride 2 -> LeakyReLU(0.2) -> conv3x3 with ``feats``
    hidden maps (the primal network's ``n_feats``), or :class:`BicubicDual` if ``fixed``."""
    if scale < 2 or scale & (scale - 1):
        raise SRLibError(f"dual regression needs a power-of-two scale, got x{scale}")
    n = int(math.log2(scale))
    if fixed:
        return nn.ModuleList(BicubicDual() for _ in range(n))
    return nn.ModuleList(DownBlock(channels, feats, channels) for _ in range(n))


def lr_pyramid(hr: torch.Tensor, lr: torch.Tensor, scale: int) -> list[torch.Tensor]:
    """Targets at 1x, 2x, ..., s x the LR size: the LR input, bicubic downscalings of the HR
    patch in between, and the HR patch itself."""
    n = int(math.log2(scale))
    mids = [imresize(hr, size=(lr.shape[-2] * 2**k, lr.shape[-1] * 2**k)) for k in range(1, n)]
    return [lr, *mids, hr]


def dual_loss(outputs: Sequence[torch.Tensor], duals: nn.ModuleList,
              targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_k L1(D_k(P_k), y_{k-1})`` over the octaves that have an output.

    ``outputs`` is either every octave's output (``len == len(duals) + 1``, DRN) or only the
    final one (a single-output backbone: the whole dual chain maps it back to ``targets[0]``).
    """
    n = len(duals)
    if len(outputs) == n + 1:
        return sum(F.l1_loss(duals[k](outputs[k + 1]), targets[k]) for k in range(n))
    if len(outputs) == 1:
        x = outputs[0]
        for k in reversed(range(n)):
            x = duals[k](x)
        return F.l1_loss(x, targets[0])
    raise SRLibError(f"expected {n + 1} outputs (one per octave) or 1, got {len(outputs)}")


def primal_outputs(model: nn.Module, lr: torch.Tensor) -> list[torch.Tensor]:
    """Every octave's output of a multi-output model (DRN), or ``[final]`` for any other."""
    return model(lr, return_all=True) if getattr(model, "multi_output", False) else [model(lr)]


def _intermediate_l1(outputs: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]
                     ) -> torch.Tensor:
    """L1 of the outputs below full scale against their pyramid targets (weight 1 each)."""
    return sum((F.l1_loss(o, t) for o, t in zip(outputs[:-1], targets[:-1])),
               outputs[-1].new_zeros(()))


class DualRegression(Hook):
    """Trainer hook for Eq. (1): the primal losses on every output plus ``lam`` times the dual
    losses. The trainer's own pixel loss covers the final output; this hook adds the
    intermediate outputs' L1 (weight 1, as the released code) and the dual term.

    ``duals`` defaults to :func:`make_duals`; pass ``fixed=True`` for the bicubic control and
    ``lam=0`` for "no dual" (the intermediate outputs stay supervised, as in the paper's
    Table 4 baseline). Batches may carry a boolean ``paired`` mask (:class:`MixedBatches`):
    the primal losses then use the paired samples only.
    """

    def __init__(self, scale: int, feats: int = 16, lam: float = 0.1, fixed: bool = False,
                 duals: nn.ModuleList | None = None) -> None:
        self.scale, self.lam = int(scale), float(lam)
        self.duals = duals if duals is not None else make_duals(scale, feats, fixed)
        self.last: dict[str, float] = {}

    def parameters(self):
        return self.duals.parameters()

    def setup(self, trainer: Trainer) -> None:
        self.duals.to(trainer.device)

    def state_dict(self) -> dict:
        return {"duals": self.duals.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.duals.load_state_dict(state["duals"])

    def forward(self, trainer: Trainer, batch: dict) -> dict:
        outputs = primal_outputs(trainer.model, batch["lr"])
        paired = batch.get("paired")  # HR patches exist for the paired samples only
        sel = outputs if paired is None else [o[paired] for o in outputs]
        lr = batch["lr"] if paired is None else batch["lr"][paired]
        return {"sr": sel[-1], "target": batch["hr"], "outputs": outputs, "paired_outputs": sel,
                "targets": lr_pyramid(batch["hr"], lr, self.scale)}

    def extra_loss(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor:
        sel, targets, paired = out["paired_outputs"], out["targets"], batch.get("paired")
        primal = _intermediate_l1(sel, targets)
        dual = sel[-1].new_zeros(())
        if self.lam:
            dual = dual_loss(sel if len(sel) > 1 else sel[-1:], self.duals, targets)
            if paired is not None and not paired.all():
                # unpaired samples have only their LR input: the whole dual chain maps their
                # SR output back to it (Eq. 9), weighted by their share of the batch
                un = ~paired
                frac = float(un.sum()) / len(paired)
                chain = dual_loss([out["outputs"][-1][un]], self.duals, [batch["lr"][un]])
                dual = (1 - frac) * dual + frac * chain
        self.last = {"primal_intermediate": float(primal.detach()), "dual": float(dual.detach())}
        return primal + self.lam * dual


class MixedBatches:
    """Batches of ``round(rho * batch_size)`` unpaired LR patches and the rest paired samples
    (DRN-Adapt's data, Eq. 10: ``rho = m / (m + n)``). The paired samples come first; the
    batch's ``paired`` mask says which ones have an HR patch."""

    def __init__(self, paired, unpaired_lr: Sequence[torch.Tensor], rho: float = 0.3) -> None:
        if not 0 <= rho < 1:
            raise SRLibError(f"rho must be in [0, 1): the batch needs paired samples, got {rho}")
        if rho > 0 and not unpaired_lr:
            raise SRLibError("rho > 0 needs unpaired LR images; pass a non-empty list")
        self.paired, self.rho = paired, float(rho)
        self.unpaired = []
        for u in unpaired_lr:  # (3, H, W) floats in [0, 1], or uint8 as read from disk
            u = u.squeeze(0) if u.dim() == 4 else u
            if u.dim() != 3:
                raise SRLibError(f"unpaired LR images must be (C, H, W), got {tuple(u.shape)}")
            self.unpaired.append(u.float() / 255.0 if u.dtype == torch.uint8 else u.float())

    def batch(self, batch_size: int, lr_patch: int, step: int, seed: int = 0,
              augment: bool = True) -> dict:
        m = round(self.rho * batch_size)
        if m >= batch_size:
            raise SRLibError(f"batch size {batch_size} leaves no paired sample at rho {self.rho}")
        out = self.paired.batch(batch_size - m, lr_patch, step, seed, augment)
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        crops = []
        for _ in range(m):
            img = self.unpaired[int(torch.randint(len(self.unpaired), (1,), generator=g))]
            h, w = img.shape[-2:]
            if h < lr_patch or w < lr_patch:
                raise SRLibError(f"unpaired image {h}x{w} is smaller than the patch {lr_patch}")
            y = int(torch.randint(h - lr_patch + 1, (1,), generator=g))
            x = int(torch.randint(w - lr_patch + 1, (1,), generator=g))
            crop = img[:, y:y + lr_patch, x:x + lr_patch]
            if augment and torch.rand((), generator=g) < 0.5:
                crop = crop.flip(-1)
            crops.append(crop)
        n = out["lr"].shape[0]
        if crops:
            out["lr"] = torch.cat([out["lr"], torch.stack(crops).to(out["lr"])])
        out["paired"] = torch.arange(n + m) < n
        return out


def dual_regression_loss(model: nn.Module, duals: nn.ModuleList, batch: dict, scale: int,
                         lam: float = 0.1) -> torch.Tensor:
    """Eq. (1) for one paired batch, outside the trainer: L1 on every output (weight 1) plus
    ``lam`` times the dual loss (used to score channels in dual-regression pruning)."""
    outputs = primal_outputs(model, batch["lr"])
    targets = lr_pyramid(batch["hr"], batch["lr"], scale)
    primal = F.l1_loss(outputs[-1], batch["hr"]) + _intermediate_l1(outputs, targets)
    return primal + lam * dual_loss(outputs, duals, targets) if lam else primal
