"""Physical removal of pruned filters: a smaller, ordinary dense model.

:func:`prune` copies the model and replaces every Conv2d by a smaller one holding only the kept
filters and, on the input side, only the channels its producer kept. The result has no masks
and no pruning code: for the uniform ratios SRP uses it is exactly the same architecture built
with a smaller width (e.g. ``build("srpn-lite", width=45)``), so its weights load there.
:func:`mask` zeroes the pruned filters instead; for an aligned plan (SRP) the two compute the
same function, which is how the surgery is tested.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .graph import Structure
from .select import Plan, pruned_indices


def _input_source(name: str, structure: Structure) -> str | None:
    """The producer whose kept channels a conv's input follows: for an addition of several
    producers, the latest one defined before the conv (the released code's rule, which is what
    makes the unaligned L1-norm baseline sum mismatched channels)."""
    order = {n: i for i, n in enumerate(structure.convs)}
    before = [p for p in structure.inputs.get(name, []) if order[p] < order[name]]
    producers = before or structure.inputs.get(name, [])
    return max(producers, key=order.__getitem__) if producers else None


def _set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, new)


@torch.no_grad()
def prune(model: nn.Module, structure: Structure, plan: Plan) -> nn.Module:
    """A copy of ``model`` with the filters not in ``plan`` physically removed."""
    pruned = copy.deepcopy(model)
    modules = dict(model.named_modules())
    for name in structure.convs:
        conv: nn.Conv2d = modules[name]
        out_idx = plan.get(name, torch.arange(conv.out_channels))
        source = _input_source(name, structure)
        in_idx = plan.get(source, torch.arange(conv.in_channels)) if source else torch.arange(
            conv.in_channels)
        if len(out_idx) == conv.out_channels and len(in_idx) == conv.in_channels:
            continue
        new = nn.Conv2d(len(in_idx), len(out_idx), conv.kernel_size, conv.stride, conv.padding,
                        conv.dilation, 1, conv.bias is not None, conv.padding_mode)
        new = new.to(conv.weight.device, conv.weight.dtype)
        new.weight.copy_(conv.weight[out_idx][:, in_idx])
        if conv.bias is not None:
            new.bias.copy_(conv.bias[out_idx])
        _set_module(pruned, name, new)
    return pruned


@torch.no_grad()
def mask(model: nn.Module, plan: Plan) -> nn.Module:
    """A copy of ``model`` whose pruned filters (weights and biases) are zero."""
    masked = copy.deepcopy(model)
    modules = dict(masked.named_modules())
    for name, kept in plan.items():
        conv = modules[name]
        idx = pruned_indices(conv, kept)
        conv.weight[idx] = 0
        if conv.bias is not None:
            conv.bias[idx] = 0
    return masked
