"""Internal channels: the widths inside residual blocks that can be pruned freely (DRN, seed 003).

Each :class:`ChannelPair` is a *producer* conv whose output feeds only a *consumer* conv: the
first and second conv of an RCAB / EDSR ResBlock, the two convs of a DRN down block, and a DRN
up block's upsampler conv and the 1x1 conv after its pixel shuffle (``group = 4``: each channel
after the shuffle is four producer filters). Removing input channel ``c`` of the consumer
removes the producer's filters ``c*group .. c*group + group - 1`` with it, so the trunk widths
(and every residual addition and skip concatenation) stay untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import SRLibError
from ..models.common import ResBlock
from ..models.drn import DownBlock, UpBlock
from ..models.rcan import RCAB
from .surgery import _set_module


@dataclass(frozen=True)
class ChannelPair:
    name: str  # the block's name, used as the key of widths and selections
    producer: str
    consumer: str
    group: int = 1


def internal_pairs(model: nn.Module) -> list[ChannelPair]:
    """The prunable internal widths of ``model`` in forward order (RCAB, ResBlock, DRN blocks).

    For DRN x4 that is 2 down blocks + 2 x B RCABs + 2 up blocks (64 layers for DRN-S, the
    released search's count)."""
    pairs: list[ChannelPair] = []

    def visit(name: str, m: nn.Module) -> None:
        prefix = f"{name}." if name else ""
        if isinstance(m, (RCAB, ResBlock)):
            pairs.append(ChannelPair(name, f"{prefix}body.0", f"{prefix}body.2"))
            return
        if isinstance(m, DownBlock):
            pairs.append(ChannelPair(name, f"{prefix}0", f"{prefix}2"))
            return
        for child_name, child in m.named_children():
            visit(prefix + child_name, child)
        if isinstance(m, UpBlock):  # after its RCABs: the upsampler runs last
            pairs.append(ChannelPair(name, f"{prefix}up.0", f"{prefix}reduce", group=4))

    visit("", model)
    if not pairs:
        raise SRLibError(f"{type(model).__name__} has no RCAB / ResBlock / DRN block to prune")
    return pairs


def width(model: nn.Module, pair: ChannelPair) -> int:
    """The current number of channels between the producer and the consumer."""
    return model.get_submodule(pair.consumer).in_channels


def uniform_widths(model: nn.Module, pairs: Sequence[ChannelPair], ratio: float,
                   multiple: int = 1) -> dict[str, int]:
    """The "manually designed" policy: remove ``ratio`` of every layer's channels."""
    return {p.name: kept_width(width(model, p), ratio, 1.0, multiple) for p in pairs}


def kept_width(c: int, ratio: float, factor: float = 1.0, multiple: int = 4) -> int:
    """``c * (1 - ratio) * factor`` rounded to a multiple of ``multiple``, within
    [``multiple``, ``c``] (the released search's rounding, with ``multiple=4``)."""
    if not 0 <= ratio < 1:
        raise SRLibError(f"compression ratio must be in [0, 1), got {ratio}")
    k = int(round(c * (1 - ratio) * factor / multiple)) * multiple
    return min(max(k, min(multiple, c)), c)


def input_channel_norms(conv: nn.Conv2d) -> torch.Tensor:
    """L1 norm of each input channel's weights, over (out, kh, kw)."""
    return conv.weight.detach().abs().sum(dim=(0, 2, 3))


def select_l1(model: nn.Module, pairs: Sequence[ChannelPair],
              widths: Mapping[str, int]) -> dict[str, list[int]]:
    """Classic baseline: keep each consumer's input channels of largest L1 norm."""
    out = {}
    for p in pairs:
        norms = input_channel_norms(model.get_submodule(p.consumer))
        out[p.name] = sorted(torch.topk(norms, widths[p.name]).indices.tolist())
    return out


def _sliced_conv(conv: nn.Conv2d, out_idx: torch.Tensor | None,
                 in_idx: torch.Tensor | None) -> nn.Conv2d:
    w = conv.weight.detach()
    if out_idx is not None:
        w = w[out_idx]
    if in_idx is not None:
        w = w[:, in_idx]
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, bias=conv.bias is not None, padding_mode=conv.padding_mode)
    new = new.to(w.device, w.dtype)
    new.weight.data.copy_(w)
    if conv.bias is not None:
        b = conv.bias.detach()
        new.bias.data.copy_(b[out_idx] if out_idx is not None else b)
    return new


@torch.no_grad()
def keep_channels(model: nn.Module, pairs: Iterable[ChannelPair],
                  keep: Mapping[str, Sequence[int]]) -> nn.Module:
    """A copy of ``model`` whose pairs keep only the channels in ``keep[pair.name]``: an
    ordinary smaller network (plain Conv2d layers, no masks)."""
    pruned = copy.deepcopy(model)
    for p in pairs:
        if p.name not in keep:
            continue
        idx = torch.as_tensor(sorted(set(int(i) for i in keep[p.name])), dtype=torch.long)
        c = width(model, p)
        if len(idx) == 0 or int(idx.max()) >= c:
            raise SRLibError(f"{p.name}: kept channels must be a non-empty subset of 0..{c - 1}")
        producer = model.get_submodule(p.producer)
        out_idx = (idx[:, None] * p.group + torch.arange(p.group)).reshape(-1)
        _set_module(pruned, p.producer, _sliced_conv(producer, out_idx, None))
        _set_module(pruned, p.consumer, _sliced_conv(model.get_submodule(p.consumer), None, idx))
    return pruned


def widths_of(model: nn.Module, pairs: Sequence[ChannelPair]) -> dict[str, int]:
    return {p.name: width(model, p) for p in pairs}


def n_candidates(c: int, ratio: float, factors: Sequence[float], multiple: int) -> list[int]:
    """The candidate widths of one layer, one per scaling factor (duplicates kept, so the
    relaxation has one architecture weight per factor)."""
    if not factors or any(not 0 < v <= 1 for v in factors):
        raise SRLibError(f"scaling factors must be in (0, 1], got {list(factors)}")
    return [kept_width(c, ratio, v, multiple) for v in factors]

