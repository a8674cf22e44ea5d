"""One pixel-range convention: sr_lib works on [0, 1]; hyper-parameters copied from code that
works on [0, 255] are converted by one rule.

The released SRP, DRN, EDSR and ISRResCNet code feeds its networks pixels in [0, 255]
(``rgb_range = 255``). A ReLU network computes the same function on both ranges when its
biases (and mean shift) are multiplied by 255, with the same weight tensors: the [0, 255] twin
of a [0, 1] model is :func:`twin_at_range`. On the twin every loss term that is homogeneous of
degree ``p`` in the pixels is ``255**p`` times larger (L1 and the dual-regression loss:
``p = 1``; a squared error of images or features: ``p = 2``; a penalty on the weights:
``p = 0``), and so is its gradient with respect to the weights. A coefficient ``c`` that
weighs a term of degree ``p`` against a term of degree ``q`` therefore keeps the balance of the
two gradients only when it becomes

    c[0, 1] = c[0, 255] * 255 ** (p - q)        (:func:`from_released`)

- SRP's growing L2 penalty (Delta, tau; degree 0) against L1 (degree 1): divided by 255;
- any weight decay against an L1 loss: divided by 255;
- DRN's gamma in the channel-selection loss of Eq. 5 (the dual-regression term, degree 1,
  against the feature-reconstruction MSE, degree 2): divided by 255;
- a gradient-clipping threshold on an L1 loss (a gradient, degree 1): divided by 255;
- a plain SGD learning rate on an L1 loss: multiplied by 255 (steps of the same size need a
  step factor 255 times larger for gradients 255 times smaller). Adam is invariant to the
  gradient's overall scale, so its learning rate is left as it is.

Biases are the exception: on the twin they are 255 times larger, their gradients are not, so
the released penalty weighs a bias ``255**2`` times more, relative to its data gradient, than a
weight; :class:`~sr_lib.pruning.GrowingRegularizer` takes that as ``bias_factor``.
``tests/test_ranges.py`` checks each of these on a model and its twin.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

RELEASED_RANGE = 255.0

DEGREE = {"l1": 1, "charbonnier": 1, "dual": 1, "l2": 2, "mse": 2, "feature_mse": 2,
          "weights": 0, "gradient_l1": 1}


def from_released(value: float, term: int | str, against: int | str,
                  rgb_range: float = RELEASED_RANGE) -> float:
    """Convert a coefficient of a ``term`` (degree or name in :data:`DEGREE`) weighed against
    ``against`` from code that works on ``[0, rgb_range]`` to sr_lib's [0, 1]."""
    p = DEGREE[term] if isinstance(term, str) else int(term)
    q = DEGREE[against] if isinstance(against, str) else int(against)
    return float(value) * rgb_range ** (p - q)


def penalty(value: float, loss: str = "l1", rgb_range: float = RELEASED_RANGE) -> float:
    """A weight penalty or weight decay coefficient (SRP's Delta and tau, DRN's decays)."""
    return from_released(value, "weights", loss, rgb_range)


def sgd_lr(value: float, loss: str = "l1", rgb_range: float = RELEASED_RANGE) -> float:
    """A plain-SGD learning rate (Adam's needs no conversion)."""
    return float(value) * rgb_range ** DEGREE[loss]


def grad_clip(value: float, loss: str = "l1", rgb_range: float = RELEASED_RANGE) -> float:
    """A total-gradient-norm clipping threshold."""
    return float(value) / rgb_range ** DEGREE[loss]


def bias_factor(rgb_range: float = RELEASED_RANGE) -> float:
    """How much more a coupled L2 penalty weighs a bias than a weight, relative to their data
    gradients, on the [0, rgb_range] twin (see the module docstring)."""
    return rgb_range**2


@torch.no_grad()
def twin_at_range(model: nn.Module, rgb_range: float = RELEASED_RANGE) -> nn.Module:
    """The same network for pixels in [0, rgb_range]: a copy with every bias (the mean shift's
    included) multiplied by ``rgb_range``. For ReLU networks
    ``twin(rgb_range * x) == rgb_range * model(x)``."""
    twin = copy.deepcopy(model)
    for name, p in list(twin.named_parameters()) + list(twin.named_buffers()):
        if name.endswith(("bias", "shift")) and p.is_floating_point():
            p.mul_(rgb_range)
    return twin
