"""SRP's structure regularisation: a growing L2 penalty on the filters to be removed.

Every ``interval`` iterations the penalty coefficient of each layer's pruned filters grows by
``delta``; once it exceeds ``ceiling`` it stays there for ``stabilize`` more iterations, after
which the filters are (near) zero and can be cut with little loss. The penalty is
``1/2 * alpha * ||W_j||^2`` per pruned filter j, added as ``alpha * W_j`` to the gradient before
the optimiser step (the released code's coupled L2, inside Adam). An L2 penalty, unlike L1,
pushes each weight in proportion to its size: it shrinks the filters smoothly while the rest of
the network adapts, instead of zeroing individual weights early.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SRLibError
from ..train import Hook, Trainer
from .select import Plan, kept_pruned_norms, pruned_indices


def _increments(delta: float, ceiling: float) -> int:
    """Increments until alpha first exceeds ``ceiling`` (5001 for 1e-4 and 0.5)."""
    return math.floor(ceiling / delta + 1e-9) + 1


def schedule_length(delta: float = 1e-4, interval: int = 20, ceiling: float = 0.5,
                    stabilize: int = 0) -> int:
    """Iterations until the penalty passes ``ceiling`` plus the stabilisation phase."""
    return _increments(delta, ceiling) * interval + stabilize


class GrowingRegularizer(Hook):
    """The growing penalty on the filters ``plan`` does not keep, for every layer in ``plan``.

    ``history`` records, every ``record_every`` iterations, the mean |w| of the kept and of the
    pruned filters of each layer and the current coefficient (the paper's Fig. 3).
    """

    def __init__(self, model: nn.Module, plan: Plan, delta: float = 1e-4, interval: int = 20,
                 ceiling: float = 0.5, stabilize: int = 0, record_every: int = 0,
                 bias_factor: float = 1.0) -> None:
        if delta <= 0 or ceiling <= 0 or interval < 1:
            raise SRLibError("delta and ceiling must be positive and interval >= 1")
        modules = dict(model.named_modules())
        self.layers = {name: (modules[name], pruned_indices(modules[name], kept), kept)
                       for name, kept in plan.items()}
        self.delta, self.interval, self.ceiling = delta, int(interval), ceiling
        self.stabilize, self.record_every = int(stabilize), int(record_every)
        self.bias_factor = float(bias_factor)
        self.increments = 0  # alpha = increments * delta: an integer count does not drift
        self.steps = 0
        self.history: list[dict] = []

    def settings(self) -> dict:
        """The schedule and the filters it drives to zero (for the checkpoint's record)."""
        return {"delta": self.delta, "interval": self.interval, "ceiling": self.ceiling,
                "stabilize": self.stabilize, "record_every": self.record_every,
                "bias_factor": self.bias_factor,
                "plan": {name: [int(i) for i in kept] for name, (_m, _p, kept)
                         in sorted(self.layers.items())}}

    @property
    def alpha(self) -> float:
        return self.increments * self.delta

    @property
    def growing(self) -> bool:
        return self.increments < _increments(self.delta, self.ceiling)

    @property
    def done(self) -> bool:
        return self.steps >= schedule_length(self.delta, self.interval, self.ceiling,
                                              self.stabilize)

    def after_backward(self, trainer: Trainer) -> None:
        if self.alpha == 0:
            return
        for conv, idx, _ in self.layers.values():
            if conv.weight.grad is not None:
                conv.weight.grad[idx] += self.alpha * conv.weight.detach()[idx]
            if conv.bias is not None and conv.bias.grad is not None:
                conv.bias.grad[idx] += self.alpha * self.bias_factor * conv.bias.detach()[idx]

    def after_step(self, trainer: Trainer, out: dict, batch: dict) -> None:
        self.steps += 1
        if self.growing and self.steps % self.interval == 0:
            self.increments += 1
        if self.record_every and self.steps % self.record_every == 0:
            self.record()

    @torch.no_grad()
    def record(self) -> None:
        self.history.append({"step": self.steps, "alpha": self.alpha,
                             **{name: kept_pruned_norms(conv, kept)
                                for name, (conv, _, kept) in self.layers.items()}})

    def state_dict(self) -> dict:
        return {"increments": self.increments, "steps": self.steps, "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.increments, self.steps = int(state["increments"]), int(state["steps"])
        self.history = list(state["history"])


def penalty_balance(model: nn.Module, plan: Plan, alpha: float, batch: dict,
                    loss: Callable = F.l1_loss) -> dict[str, float]:
    """How hard the penalty pulls at coefficient ``alpha`` next to the data term: per layer of
    ``plan``, the median over its pruned filters of ``alpha * ||W_j|| / ||dL/dW_j||`` on one
    ``batch`` (``{"lr", "hr"}``; the model is left unchanged, its gradients cleared).

    Above 1 the penalty outweighs the data gradient at every step and drives the filters
    down directly. Far below 1 it only tilts a noisy data gradient, and the filters shrink by
    a slow drift that needs many steps (the released schedule holds its ceiling for 43,150).
    Which side a profile is on says what its regularisation phase can be expected to do.
    """
    if alpha < 0:
        raise SRLibError(f"alpha must be >= 0, got {alpha}")
    modules = dict(model.named_modules())
    was_training = model.training
    model.train()
    model.zero_grad(set_to_none=True)
    loss(model(batch["lr"]), batch["hr"]).backward()
    out = {}
    for name, kept in plan.items():
        conv = modules[name]
        idx = pruned_indices(conv, kept)
        if len(idx):
            w = conv.weight.detach()[idx].flatten(1).norm(dim=1)
            g = conv.weight.grad[idx].flatten(1).norm(dim=1).clamp_min(1e-20)
            out[name] = float((alpha * w / g).median())
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return out
