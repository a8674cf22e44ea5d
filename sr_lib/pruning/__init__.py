"""Structure-regularised pruning (SRP, seed 002) of residual SR networks, reused by DRN.

The workflow: :func:`analyze` finds free and constrained convolutions; :func:`plan_srp` (or the
:func:`plan_l1` baseline) picks the filters to keep; :class:`GrowingRegularizer`, a trainer
hook, drives the others towards zero; :func:`prune` removes them and returns a plain dense
model to fine-tune.
"""

from .graph import Structure, analyze
from .regularize import GrowingRegularizer, schedule_length
from .select import filter_scores, n_pruned, plan_l1, plan_srp, pruned_indices
from .surgery import mask, prune

__all__ = [
    "GrowingRegularizer", "Structure", "analyze", "filter_scores", "mask", "n_pruned",
    "plan_l1", "plan_srp", "prune", "pruned_indices", "schedule_length",
]
