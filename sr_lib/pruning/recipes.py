"""The pruning methods as recipes: each paper's steps, in its order, on the shared trainer.

A recipe never builds its own training loop. It takes a ``fit`` callable and calls it once per
training phase::

    fit(model, name, iterations, hooks=(), phase="finetune", **options) -> None

``name`` tells the caller which checkpoint the phase is (the harness's ``Chapter.train`` keeps
one per name and seed), ``phase`` which schedule to use ("regularise", "finetune", "search"),
and ``options`` are trainer settings the method fixes itself (the search's optimiser, say). So
the same recipe runs in a notebook, in a test on a toy network and in a script.

* SRP (seed 002): :func:`srp` = plan, regularise with a growing penalty, cut, fine-tune;
  :func:`l1_prune` is its L1-norm baseline (cut at once, fine-tune as long);
  :func:`cut_report` says how ready the regularised network was for the cut.
* DRN (seed 003): :func:`drn_search` picks each layer's width, :func:`drn_prune` selects the
  channels greedily under the dual-regression loss, cuts and fine-tunes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import nn

from ..train import Hook
from .channels import internal_pairs
from .graph import Structure, analyze
from .greedy import LossFn, greedy_select
from .regularize import GrowingRegularizer, schedule_length
from .search import ArchitectureStep, ChannelSearch
from .select import Plan, plan_l1, plan_norms, plan_srp
from .surgery import mask, prune

Fit = Callable[..., object]


@dataclass
class SRPRun:
    """What SRP leaves behind: the plan, the penalty hook (with its history), the dense network
    after regularisation (before the cut) and the pruned, fine-tuned network."""

    plan: Plan
    regularizer: GrowingRegularizer
    regularised: nn.Module
    pruned: nn.Module


def srp_regularise(dense: nn.Module, ratio: float, fit: Fit, *, delta: float, interval: int,
                   ceiling: float, stabilize: int, seed: int = 0,
                   structure: Structure | None = None, record_every: int = 0,
                   bias_factor: float = 1.0, name: str = "srp_reg", multiple: int = 1
                   ) -> tuple[nn.Module, Plan, GrowingRegularizer]:
    """SRP's first two steps on a copy of ``dense``: the plan (random shared filters in the
    constrained layers, largest-L1 elsewhere; ``seed`` draws them; kept widths rounded to a
    ``multiple``) and the regularisation phase, as long as the penalty's schedule
    (:func:`schedule_length`)."""
    structure = structure or analyze(dense)
    model = copy.deepcopy(dense)
    plan = plan_srp(model, structure, ratio, seed=seed, multiple=multiple)
    reg = GrowingRegularizer(model, plan, delta, interval, ceiling, stabilize,
                             record_every=record_every, bias_factor=bias_factor)
    fit(model, name, schedule_length(delta, interval, ceiling, stabilize), [reg],
        phase="regularise")
    return model, plan, reg


def srp(dense: nn.Module, ratio: float, fit: Fit, *, delta: float, interval: int,
        ceiling: float, stabilize: int, finetune: int, seed: int = 0,
        structure: Structure | None = None, record_every: int = 0, bias_factor: float = 1.0,
        name: str = "srp", multiple: int = 1) -> SRPRun:
    """Structure-regularised pruning of ``dense`` (left unchanged) at ``ratio``: plan,
    regularise, cut, then fine-tune the cut network for ``finetune`` iterations (``multiple``:
    kept widths rounded to a multiple of it, :func:`~sr_lib.pruning.select.n_kept`)."""
    structure = structure or analyze(dense)
    model, plan, reg = srp_regularise(dense, ratio, fit, delta=delta, interval=interval,
                                      ceiling=ceiling, stabilize=stabilize, seed=seed,
                                      structure=structure, record_every=record_every,
                                      bias_factor=bias_factor, name=f"{name}_reg",
                                      multiple=multiple)
    cut = prune(model, structure, plan)
    fit(cut, name, finetune, [], phase="finetune")
    return SRPRun(plan, reg, model, cut)


@dataclass
class CutReport:
    """How ready a regularised network was for SRP's cut, and where the cut's loss comes from
    (``score``: higher is better, e.g. a test set's PSNR)."""

    before: float  # the regularised network, every filter in
    after: float  # right after the cut, before any fine-tuning
    spared: float  # cut everywhere but in the ``spare`` layers
    spare_shrink: float  # pruned / kept mean |w|, largest over the spare layers
    other_shrink: float  # the same, largest over every other pruned layer


def cut_report(run: SRPRun, structure: Structure, score: Callable[[nn.Module], float],
               spare: Sequence[str] = ("head.0",)) -> CutReport:
    """The readiness check of :func:`srp`'s cut: ``score`` before and right after the cut and
    with the ``spare`` layers' pruned filters left in, and the pruned-to-kept filter sizes
    (:func:`~sr_lib.pruning.select.plan_norms`). A penalty that did its work leaves a shrink
    near 0 and a cut that costs little; the head convolution, whose weights are the largest,
    is the usual exception, hence the default ``spare``."""
    missing = [n for n in spare if n not in run.plan]
    if missing or len(spare) == len(run.plan):
        raise ValueError(f"spare must name some, not all, of the plan's layers; {missing} are "
                         f"not in it (its layers: {', '.join(run.plan)})")
    shrink = {n: (p / k if k else 0.0) for n, (k, p) in plan_norms(run.regularised,
                                                                     run.plan).items()}
    others = {n: kept for n, kept in run.plan.items() if n not in spare}
    return CutReport(before=score(run.regularised),
                     after=score(prune(run.regularised, structure, run.plan)),
                     spared=score(mask(run.regularised, others)),
                     spare_shrink=max(shrink[n] for n in spare),
                     other_shrink=max(shrink[n] for n in others))


def l1_prune(dense: nn.Module, ratio: float, fit: Fit, finetune: int,
             structure: Structure | None = None, name: str = "l1", multiple: int = 1
             ) -> nn.Module:
    """The L1-norm baseline: every layer keeps its own largest-L1 filters (the residual stream
    takes the head's), cut at once, then fine-tuned for ``finetune`` iterations (give it SRP's
    regularisation plus fine-tuning for an equal budget)."""
    structure = structure or analyze(dense)
    cut = prune(dense, structure, plan_l1(dense, structure, ratio, multiple))
    fit(cut, name, finetune, [], phase="finetune")
    return cut


def drn_search(base: nn.Module, ratio: float, fit: Fit, val_data, *, iterations: int,
               hooks: Sequence[Hook] = (), multiple: int = 4, alpha_lr: float = 3e-3,
               alpha_decay: float = 1e-3, record_every: int = 0, name: str = "search",
               **options) -> tuple[dict[str, int], ChannelSearch]:
    """DRN's channel-number search on a copy of ``base``: the weights train on ``fit``'s data
    (with ``hooks``, e.g. the dual-regression loss, and the search's own ``options``) while
    :class:`ArchitectureStep` moves the width logits on ``val_data``. Returns each searched
    layer's chosen width and the search (its logits and history)."""
    model = copy.deepcopy(base)
    search = ChannelSearch(model, internal_pairs(model), ratio, multiple=multiple)
    step = ArchitectureStep(search, val_data, lr=alpha_lr, weight_decay=alpha_decay,
                            record_every=record_every)
    try:
        fit(model, name, iterations, [*hooks, step], phase="search", **options)
    finally:
        search.remove()
    return search.widths(), search


def drn_prune(base: nn.Module, widths: Mapping[str, int], data, fit: Fit, *, finetune: int,
              loss_fn: LossFn | None = None, gamma: float = 1.0,
              hooks: Sequence[Hook] = (), name: str = "drn", **select) -> nn.Module:
    """Dual-regression channel pruning of ``base`` (left unchanged) to ``widths``: greedy
    selection under feature reconstruction plus ``gamma`` times ``loss_fn`` (the dual loss;
    ``gamma = 0`` or no loss is DCP-style selection), the cut, and ``finetune`` iterations with
    ``hooks``. ``select``: :func:`greedy_select`'s settings (batches, per_step, lr ...)."""
    pruned, _ = greedy_select(base, internal_pairs(base), widths, data, loss_fn=loss_fn,
                              gamma=gamma, **{"progress": False, **select})
    fit(pruned, name, finetune, list(hooks), phase="finetune")
    return pruned
