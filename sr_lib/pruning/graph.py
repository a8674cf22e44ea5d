"""Which convolutions of a residual network can be pruned independently, read from the model.

A filter (output channel) of a convolution can be removed on its own only if its output feeds
other convolutions directly (through ReLUs and the like). Where outputs of several convolutions
meet at a residual addition, their channels are added one to one, so they must keep the *same*
channel indices: those layers are **constrained** and form one group. :func:`analyze` traces the
model with ``torch.fx`` and follows every tensor back to the convolutions that define its
channels; an addition merges the sets of its operands (union-find). It works for VDSR and SRCNN
(plain chains after a bicubic upsampling), EDSR, EDSR-baseline, SRPN-Lite and RCAN/SRPN (nested
residual groups merge into one group), and raises for operations it does not understand
(concatenation, reshapes) instead of guessing; the error lists the supported families.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from fnmatch import fnmatch

import torch
from torch import fx, nn

from ..errors import SRLibError
from ..models.common import MeanShift
from ..resize import imresize

# modules and functions that keep channel identities (act per channel, or not at all on them)
_CHANNELWISE_MODULES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.Identity, nn.Dropout, nn.Sigmoid,
                        nn.Tanh, nn.BatchNorm2d, nn.AdaptiveAvgPool2d, nn.AvgPool2d,
                        nn.MaxPool2d, nn.ReflectionPad2d, nn.ZeroPad2d, nn.ReplicationPad2d)
_CHANNELWISE_FUNCTIONS = {torch.relu, torch.sigmoid, torch.tanh, torch.nn.functional.relu,
                          torch.nn.functional.leaky_relu, torch.nn.functional.pad}
_ADD = {operator.add, operator.iadd, torch.add}
_MUL = {operator.mul, operator.imul, torch.mul}
_PASS_METHODS = {"relu", "sigmoid", "clamp", "contiguous", "clone", "detach", "float"}

SUPPORTED = ("The pruning analysis handles plain chains and residual networks whose features meet "
             "only by addition or channel-wise gating: VDSR and SRCNN, EDSR / EDSR-baseline / "
             "SRPN-Lite, RCAN / SRPN; DRN prunes the internal widths of its blocks through "
             "sr_lib.pruning.internal_pairs. Dense concatenation (ProSR's DCUs) and unrolled "
             "models (ISRResCNet) are not supported; declare such a structure by hand with "
             "sr_lib.pruning.Structure.")


class _Tracer(fx.Tracer):
    """Keeps the RGB mean shift as one opaque, channel-preserving step."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, MeanShift) or super().is_leaf_module(m, qualname)


@dataclass
class Structure:
    """The pruning structure of a model.

    ``convs``: every Conv2d in definition order. ``groups``: sets of constrained convs (outputs
    added together), each sorted in definition order. ``free``: prunable convs in no group.
    ``skipped``: convs whose outputs are never pruned (``skip`` patterns, e.g. the tail); their
    inputs still follow their producers. ``inputs``: for each conv, the convs that define the
    channels of its input (empty when it reads the image).
    """

    convs: list[str]
    groups: list[list[str]] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    inputs: dict[str, list[str]] = field(default_factory=dict)

    def group_of(self, name: str) -> list[str] | None:
        return next((g for g in self.groups if name in g), None)

    @property
    def constrained(self) -> list[str]:
        return [n for g in self.groups for n in g]

    def kinds(self) -> dict[str, str]:
        """Every conv's kind, in definition order: "constrained", "free" or "not pruned"."""
        constrained, free = set(self.constrained), set(self.free)
        return {n: "constrained" if n in constrained else "free" if n in free
                else "not pruned" for n in self.convs}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, items: set[str]) -> None:
        items = sorted(items)
        for b in items[1:]:
            self.parent[self.find(b)] = self.find(items[0])


def analyze(model: nn.Module, skip: tuple[str, ...] = ("tail*",)) -> Structure:
    """Trace ``model`` and return its :class:`Structure`. ``skip`` holds fnmatch patterns of
    module names whose convs keep all their filters (by default the upsampling tail, whose
    output channels are pixel-shuffle phases and image channels, not features); a conv whose
    output is the model's output (VDSR's last layer) is skipped as well. Models the analysis
    cannot handle get an error that lists the supported families."""
    import inspect

    # extra forward arguments (VDSR's ``scale``) are fixed at their defaults, and the bicubic
    # upsampling of pre-upsampling models is kept as one channel-preserving step
    params = list(inspect.signature(model.forward).parameters.values())[1:]
    concrete = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    try:
        graph = _Tracer(autowrap_functions=(imresize,)).trace(model, concrete_args=concrete)
    except Exception as exc:  # noqa: BLE001 - any tracing failure gets the same advice
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SRLibError(f"cannot trace {type(model).__name__} with torch.fx ({first}). "
                         f"{SUPPORTED}") from None
    modules = dict(model.named_modules())
    convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    producers: dict[fx.Node, set[str]] = {}
    uf = _UnionFind()
    inputs: dict[str, list[str]] = {}
    image_convs: set[str] = set()

    def of(arg) -> set[str]:
        return producers.get(arg, set()) if isinstance(arg, fx.Node) else set()

    for node in graph.nodes:
        if node.op == "output":  # convs that write the output define image channels
            found: list[fx.Node] = []
            fx.node.map_arg(node.args, found.append)
            image_convs.update(*(of(n) for n in found))
            producers[node] = set()
            continue
        if node.op in ("placeholder", "get_attr"):
            producers[node] = set()
            continue
        tensor_args = [a for a in node.args if isinstance(a, fx.Node)]
        if node.op == "call_module":
            mod = modules[node.target]
            if isinstance(mod, nn.Conv2d):
                if mod.groups != 1:
                    raise SRLibError(f"{node.target}: grouped convolutions are not supported")
                inputs[node.target] = sorted(of(node.args[0]), key=convs.index)
                producers[node] = {node.target}
            elif isinstance(mod, (*_CHANNELWISE_MODULES, MeanShift)):
                producers[node] = of(node.args[0])
            elif isinstance(mod, nn.PixelShuffle):
                producers[node] = set()  # new channels: mixtures of phases, never pruned
            else:
                raise SRLibError(f"{node.target}: {type(mod).__name__} is not supported by the "
                                 "pruning analysis")
        elif node.op == "call_function" and node.target in _ADD | _MUL:
            sets = [of(a) for a in tensor_args]
            non_empty = [s for s in sets if s]
            merged = set().union(*sets) if sets else set()
            if len(non_empty) > 1:  # a residual sum or a channel-wise gate (attention)
                uf.union(merged)  # ties the channels of its operands
            producers[node] = merged
        elif node.op == "call_function" and getattr(node.target, "__name__", "") == (
                "_assert_is_none"):
            producers[node] = set()  # fx's check that a fixed argument stayed None
        elif node.op == "call_function" and node.target is imresize:
            producers[node] = of(node.args[0])  # resampling acts on each channel alone
        elif node.op == "call_function" and node.target in (torch.cat, torch.concat):
            raise SRLibError(f"{node.name}: concatenation is not supported. {SUPPORTED}")
        elif node.op == "call_function" and node.target in _CHANNELWISE_FUNCTIONS:
            producers[node] = of(node.args[0])
        elif node.op == "call_function" and node.target in (operator.getitem, getattr):
            producers[node] = set()  # shapes and slices of buffers (MeanShift)
        elif node.op == "call_method" and node.target in _PASS_METHODS:
            producers[node] = of(node.args[0])
        elif node.op == "call_method" and node.target in ("size", "dim"):
            producers[node] = set()
        else:
            raise SRLibError(f"the pruning analysis does not understand {node.op} "
                             f"{getattr(node.target, '__name__', node.target)} (node "
                             f"{node.name}) in {type(model).__name__}. {SUPPORTED}")
    roots: dict[str, list[str]] = {}
    for name in convs:
        roots.setdefault(uf.find(name), []).append(name)
    skipped = [n for n in convs if n in image_convs or any(fnmatch(n, p) for p in skip)]
    groups = [[n for n in g if n not in skipped] for g in roots.values()]
    groups = [g for g in groups if len(g) > 1]
    grouped = {n for g in groups for n in g}
    free = [n for n in convs if n not in grouped and n not in skipped]
    return Structure(convs, groups, free, skipped, inputs)
