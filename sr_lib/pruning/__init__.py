"""Pruning of residual SR networks: SRP (seed 002) and DRN's channel search and pruning (003).

The workflow: :func:`analyze` finds free and constrained convolutions; :func:`plan_srp` (or the
:func:`plan_l1` baseline) picks the filters to keep; :class:`GrowingRegularizer`, a trainer
hook, drives the others towards zero; :func:`plan_norms` says whether they are small enough to
cut; :func:`prune` removes them and returns a plain dense model to fine-tune.

DRN prunes the *internal* widths of blocks instead (:mod:`.channels`): :class:`ChannelSearch`
with the :class:`ArchitectureStep` hook picks each layer's width, :func:`greedy_select` picks
the channels (dual-regression pruning), :func:`select_l1` is the classic baseline and
:func:`keep_channels` the surgery.

The recipes (:mod:`.recipes`) run these steps in each paper's order on the caller's trainer:
:func:`srp` (and its :func:`cut_report`), :func:`l1_prune`, :func:`drn_search` and
:func:`drn_prune`.
"""

from .channels import (
    ChannelPair,
    internal_pairs,
    keep_channels,
    kept_width,
    select_l1,
    uniform_widths,
    widths_of,
)
from .graph import Structure, analyze
from .greedy import greedy_select
from .recipes import (
    CutReport,
    SRPRun,
    cut_report,
    drn_prune,
    drn_search,
    l1_prune,
    srp,
    srp_regularise,
)
from .regularize import GrowingRegularizer, penalty_balance, schedule_length
from .search import FACTORS, ArchitectureStep, ChannelSearch
from .select import (
    filter_scores,
    l1_agreement,
    n_kept,
    n_pruned,
    plan_l1,
    plan_norms,
    plan_srp,
    pruned_indices,
)
from .surgery import mask, prune

__all__ = [
    "FACTORS", "ArchitectureStep", "ChannelPair", "ChannelSearch", "greedy_select",
    "internal_pairs", "keep_channels", "kept_width", "select_l1", "uniform_widths", "widths_of",
    "GrowingRegularizer", "Structure", "analyze", "filter_scores", "l1_agreement", "mask",
    "n_kept", "n_pruned",
    "penalty_balance", "plan_l1", "plan_norms", "plan_srp", "prune", "pruned_indices",
    "schedule_length", "CutReport", "SRPRun", "cut_report", "drn_prune", "drn_search",
    "l1_prune", "srp", "srp_regularise",
]
