"""Which filters to remove: SRP's selection and the L1-norm baseline.

Convention of the released SRP code: a pruning ratio ``pr`` removes ``ceil(pr * N)`` of a
layer's N filters (at most N - 1), so pr = 0.5 of 64 keeps 32 and pr = 0.1 of 64 keeps 57. A
filter's score is its mean absolute weight (the L1 norm up to a constant).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import SRLibError
from .graph import Structure

Plan = dict[str, torch.Tensor]  # conv name -> sorted indices of the filters it keeps


def n_pruned(n: int, ratio: float) -> int:
    """Filters removed from a layer of ``n`` filters at pruning ratio ``ratio`` (ceil, < n)."""
    if not 0 <= ratio < 1:
        raise SRLibError(f"the pruning ratio must be in [0, 1), got {ratio}")
    return min(math.ceil(ratio * n - 1e-9), n - 1)


def n_kept(n: int, ratio: float, multiple: int = 1) -> int:
    """Filters kept of ``n`` at ``ratio``; with ``multiple`` > 1 the count is rounded to the
    nearest multiple (a tie goes to the smaller width), within [``multiple``, ``n``]. A CPU's or
    GPU's vector units work on 4, 8 or 16 channels at a time, so a width of 9 can cost as much
    as one of 16 (see the benchmarks page): the rounded width is the one worth shipping."""
    keep = n - n_pruned(n, ratio)
    if multiple < 1:
        raise SRLibError(f"multiple must be a positive integer, got {multiple}")
    if multiple > 1:
        keep = math.ceil(keep / multiple - 0.5) * multiple
        keep = min(max(keep, min(multiple, n)), n)
    return keep


def filter_scores(conv: nn.Conv2d) -> torch.Tensor:
    """Mean |w| of each output filter."""
    return conv.weight.detach().abs().flatten(1).mean(dim=1)


def _keep_largest(conv: nn.Conv2d, ratio: float, multiple: int = 1) -> torch.Tensor:
    """Sorted indices of the filters with the largest L1 scores after pruning ``ratio``."""
    keep = n_kept(conv.out_channels, ratio, multiple)
    return torch.sort(torch.topk(filter_scores(conv), keep).indices).values


def plan_srp(model: nn.Module, structure: Structure, ratio: float, seed: int = 0,
             multiple: int = 1) -> Plan:
    """SRP's choice: free layers keep their largest-L1 filters; all constrained layers share one
    random index set (drawn once, fixed for the whole run), so residual additions stay aligned.
    ``multiple``: kept widths rounded to a multiple of it (:func:`n_kept`)."""
    modules = dict(model.named_modules())
    plan: Plan = {}
    for name in structure.free:
        plan[name] = _keep_largest(modules[name], ratio, multiple)
    gen = torch.Generator().manual_seed(seed)
    for group in structure.groups:
        widths = {modules[n].out_channels for n in group}
        if len(widths) != 1:
            raise SRLibError(f"constrained layers {group} have different widths {widths}")
        n = widths.pop()
        pruned = torch.randperm(n, generator=gen)[: n - n_kept(n, ratio, multiple)]
        kept = torch.tensor(sorted(set(range(n)) - set(pruned.tolist())))
        for name in group:
            plan[name] = kept
    return plan


def plan_l1(model: nn.Module, structure: Structure, ratio: float, multiple: int = 1) -> Plan:
    """The L1-norm baseline (Li et al. 2017): every prunable layer keeps its own largest-L1
    filters, constrained or not, so the channels meeting at a residual addition no longer
    correspond (SRP's "mismatch")."""
    modules = dict(model.named_modules())
    return {name: _keep_largest(modules[name], ratio, multiple)
            for name in structure.free + structure.constrained}


def l1_agreement(model: nn.Module, structure: Structure, ratio: float
                 ) -> tuple[int, float]:
    """Why SRP draws one random set: how many filters the constrained layers' own L1 rankings
    all agree to prune at ``ratio``, against the number that independent uniform choices of
    as many filters would share on average (``N (k / N) ** L`` for ``L`` layers of ``N``)."""
    modules = dict(model.named_modules())
    chosen = []
    for name in structure.constrained:
        scores = filter_scores(modules[name])
        k = n_pruned(len(scores), ratio)
        chosen.append(set(torch.topk(-scores, k).indices.tolist()))
    if not chosen:
        raise SRLibError("the model has no constrained layers (no residual additions)")
    n = len(filter_scores(modules[structure.constrained[0]]))
    return len(set.intersection(*chosen)), n * (n_pruned(n, ratio) / n) ** len(chosen)


def pruned_indices(conv: nn.Conv2d, kept: torch.Tensor) -> torch.Tensor:
    """The complement of ``kept`` among the filters of ``conv``."""
    mask = torch.ones(conv.out_channels, dtype=torch.bool)
    mask[kept] = False
    return torch.nonzero(mask).flatten()


@torch.no_grad()
def plan_norms(model: nn.Module, plan: Plan) -> dict[str, tuple[float, float]]:
    """Per layer of ``plan``: the mean |w| of its kept and of its pruned filters.

    The readiness check before the cut: cutting is harmless only where the pruned mean is small
    next to the kept one (the quantity of SRP's Fig. 3, for any layer). Biases are not counted;
    scoring ``mask(model, plan)`` measures the cut's whole effect.
    """
    modules = dict(model.named_modules())
    return {name: kept_pruned_norms(modules[name], kept) for name, kept in plan.items()}


def kept_pruned_norms(conv: nn.Conv2d, kept: torch.Tensor) -> tuple[float, float]:
    """Mean |w| of the kept and of the pruned filters of one layer (0 when none is pruned)."""
    w, idx = filter_scores(conv), pruned_indices(conv, kept)
    return float(w[kept].mean()), float(w[idx].mean()) if len(idx) else 0.0
