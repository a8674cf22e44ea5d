"""Dual-regression channel pruning (DRN's Eq. 5): greedy, gradient-guided channel selection.

For each searched layer in forward order, the consumer conv of the pruned copy starts with
*every* input channel removed (its weights zero) and channels are added back one at a time.
The next channel is the one whose weights have the largest gradient of

    L_M(X, X_hat) + gamma * L_DR(P_hat, D)

(``L_M``: mean squared error between the consumer's outputs in the original and the pruned
model; ``L_DR``: the dual regression loss of the whole pruned model, Eq. 1), measured as
``sum_out ||dL/dW[out, c]||_F`` (the DCP criterion). The chosen channel is warm-started from
the original weights, then the selected channels take a few SGD steps (Nesterov momentum 0.9,
lr 5e-5 in the paper). With ``gamma = 0`` this is DCP-style selection by feature
reconstruction alone, the ablation of the dual term. ``gamma`` is for [0, 1] pixels: the
released code adds the two terms (gamma = 1) on [0, 255], where the task term weighs 255 times
less against the feature MSE; the same balance here is ``gamma = 1/255``
(``sr_lib.ranges.from_released(1, "dual", "feature_mse")``). The result is cut with
:func:`~sr_lib.pruning.channels.keep_channels` into an ordinary smaller model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import tiny
from ..errors import SRLibError
from ..progress import bar as progress_bar
from .channels import ChannelPair, keep_channels, width

LossFn = Callable[[nn.Module, dict], torch.Tensor]


def _capture(module: nn.Module, store: dict, key: str):
    def hook(_, __, output):
        store[key] = output
    return module.register_forward_hook(hook)


def greedy_select(
    model: nn.Module, pairs: Sequence[ChannelPair], widths: Mapping[str, int], data,
    loss_fn: LossFn | None = None, gamma: float = 1.0, batches: int = 1, batch_size: int = 8,
    lr_patch: int = 24, update_steps: int = 1, lr: float = 5e-5, per_step: int = 1,
    seed: int = 0, progress: bool = True,
) -> tuple[nn.Module, dict[str, list[int]]]:
    """Select ``widths[pair.name]`` input channels per pair; return the pruned (cut) model and
    the kept indices. ``loss_fn(model, batch)`` is the task loss (e.g. a ``functools.partial``
    of :func:`sr_lib.dual.dual_regression_loss`); ``None`` or ``gamma = 0`` uses feature
    reconstruction only. ``batches`` batches of ``data`` are summed for each gradient;
    ``per_step`` channels are added per gradient (1 in the paper; more is faster)."""
    if per_step < 1 or batches < 1:
        raise SRLibError("per_step and batches must be >= 1")
    per_step, batch_size, update_steps = tiny.greedy(per_step, batch_size, update_steps)
    original = copy.deepcopy(model).eval()
    for p in original.parameters():
        p.requires_grad_(False)
    work = copy.deepcopy(model)
    for p in work.parameters():
        p.requires_grad_(False)
    device = next(work.parameters()).device
    step = 0

    def next_batch() -> dict:
        nonlocal step
        b = data.batch(batch_size, lr_patch, step, seed, True)
        step += 1
        return {k: v.to(device) if torch.is_tensor(v) else v for k, v in b.items()}

    def objective(batch: dict, feats: dict) -> torch.Tensor:
        with torch.no_grad():
            original(batch["lr"])
        task = loss_fn(work, batch) if (loss_fn is not None and gamma) else None
        if task is None:
            work(batch["lr"])
        loss = F.mse_loss(feats["x_hat"], feats["x"])
        return loss + gamma * task if task is not None else loss

    keep: dict[str, list[int]] = {}
    bar = progress_bar(total=sum(int(widths[p.name]) for p in pairs), show=progress,
                       desc="channel selection")
    for pair in pairs:
        k = int(widths[pair.name])
        c = width(work, pair)
        if not 1 <= k <= c:
            raise SRLibError(f"{pair.name}: width {k} is not in 1..{c}")
        conv = work.get_submodule(pair.consumer)
        w_orig = conv.weight.detach().clone()
        conv.weight.requires_grad_(True)
        with torch.no_grad():
            conv.weight.zero_()
        selected = torch.zeros(c, dtype=torch.bool, device=device)
        feats: dict[str, torch.Tensor] = {}
        handles = [_capture(original.get_submodule(pair.consumer), feats, "x"),
                   _capture(conv, feats, "x_hat")]
        opt = torch.optim.SGD([conv.weight], lr=lr, momentum=0.9, nesterov=True)

        while int(selected.sum()) < k:
            grad = torch.zeros_like(conv.weight)
            for _ in range(batches):
                grad += torch.autograd.grad(objective(next_batch(), feats), conv.weight)[0]
            score = grad.flatten(2).norm(dim=2).sum(0)  # sum_out ||dL/dW[out, c]||_F
            score[selected] = -float("inf")
            n_new = min(per_step, k - int(selected.sum()))
            new = torch.topk(score, n_new).indices
            selected[new] = True
            with torch.no_grad():
                conv.weight[:, new] = w_orig[:, new]
            for _ in range(update_steps):
                g = torch.autograd.grad(objective(next_batch(), feats), conv.weight)[0]
                conv.weight.grad = g * selected.view(1, -1, 1, 1).to(g.dtype)
                opt.step()
                opt.zero_grad(set_to_none=True)
            bar.update(n_new)
        for h in handles:
            h.remove()
        conv.weight.requires_grad_(False)
        keep[pair.name] = torch.nonzero(selected).flatten().tolist()
    bar.close()
    pruned = keep_channels(work, pairs, keep)
    for p in pruned.parameters():
        p.requires_grad_(True)
    return pruned, keep
