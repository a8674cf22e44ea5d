"""Channel-number search (DRN's Algorithm 1): a differentiable choice of each layer's width.

Every searched layer ``l`` gets architecture weights ``alpha_l`` over the scaling factors
``V = {0.5, ..., 1.0}``; factor ``v`` means keeping ``c_l^(v) = c_l (1 - r) v`` channels. The
paper's relaxation (Eq. 3) mixes the outputs of the conv restricted to its first ``c_l^(v)``
input channels with weights ``softmax(alpha_l)``. Because a conv is linear in its input, that
mixture equals *one* conv whose input channel ``j`` is scaled by

    m_j = sum_v softmax(alpha_l)_v * [rank(j) < c_l^(v)],

a nested soft mask (the released code's single-pass form). "First channels" means the first in
the order of decreasing L1 norm of the consumer's weights, recomputed at every forward.

:class:`ChannelSearch` installs the masks as forward pre-hooks on the consumers (the model stays
an ordinary model); :class:`ArchitectureStep` is the trainer hook that, after every weight
step on a training batch, takes an Adam step on ``alpha`` with a batch of a separate
validation split (first-order DARTS; the released code's second-order correction is omitted).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import SRLibError
from ..train import Hook, Trainer
from .channels import ChannelPair, input_channel_norms, n_candidates, width

FACTORS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class ChannelSearch:
    """Soft nested channel masks with learnable ``alpha`` on the consumers of ``pairs``."""

    def __init__(self, model: nn.Module, pairs: Sequence[ChannelPair], ratio: float,
                 factors: Sequence[float] = FACTORS, multiple: int = 4,
                 init_std: float = 0.0, seed: int = 0) -> None:
        self.model, self.pairs, self.ratio = model, list(pairs), float(ratio)
        self.factors = tuple(float(v) for v in factors)
        self.candidates = {
            p.name: n_candidates(width(model, p), ratio, self.factors, multiple) for p in pairs
        }
        g = torch.Generator().manual_seed(seed)
        ref = next(model.parameters())
        # the paper initialises alpha at zero; the released code at 1e-3 * randn
        self.alpha = {p.name: nn.Parameter(
            (init_std * torch.randn(len(self.factors), generator=g)).to(ref)) for p in pairs}
        self._handles = [
            model.get_submodule(p.consumer).register_forward_pre_hook(self._pre_hook(p))
            for p in pairs
        ]

    def parameters(self) -> list[nn.Parameter]:
        return list(self.alpha.values())

    def channel_weights(self, pair: ChannelPair) -> torch.Tensor:
        """``m_j`` of Eq. (3) in the single-conv form, per input channel of the consumer."""
        conv = self.model.get_submodule(pair.consumer)
        c = conv.in_channels
        probs = torch.softmax(self.alpha[pair.name], 0)
        rank = torch.empty(c, dtype=torch.long, device=probs.device)
        rank[torch.argsort(input_channel_norms(conv), descending=True)] = torch.arange(
            c, device=probs.device)
        counts = torch.tensor(self.candidates[pair.name], device=probs.device)
        nested = (rank[None, :] < counts[:, None]).to(probs.dtype)  # (factors, channels)
        return probs @ nested

    def _pre_hook(self, pair: ChannelPair):
        def hook(module, args):
            m = self.channel_weights(pair).to(args[0].dtype)
            return (args[0] * m.view(1, -1, 1, 1),)
        return hook

    def widths(self) -> dict[str, int]:
        """Algorithm 1, lines 10-12: each layer's candidate width of largest ``alpha``."""
        return {name: self.candidates[name][int(a.detach().argmax())]
                for name, a in self.alpha.items()}

    def probabilities(self) -> dict[str, list[float]]:
        return {n: torch.softmax(a.detach(), 0).tolist() for n, a in self.alpha.items()}

    def remove(self) -> None:
        """Take the masks off: the model computes its dense function again."""
        for h in self._handles:
            h.remove()
        self._handles = []


class ArchitectureStep(Hook):
    """Trainer hook: after each weight step, one Adam step on ``alpha`` using a batch of
    ``val_data`` and the trainer's own loss (with the dual regression hook, the dual
    regression loss, as in Eq. 4). Adam lr 3e-4, betas (0.9, 0.999), weight decay 1e-3 as
    the paper / released code."""

    def __init__(self, search: ChannelSearch, val_data, lr: float = 3e-4,
                 weight_decay: float = 1e-3, every: int = 1, record_every: int = 0) -> None:
        if every < 1:
            raise SRLibError(f"every must be >= 1, got {every}")
        self.search, self.val_data, self.every = search, val_data, int(every)
        self.optimizer = torch.optim.Adam(search.parameters(), lr=lr, betas=(0.9, 0.999),
                                          weight_decay=weight_decay)
        self.record_every = int(record_every)
        self.history: list[dict] = []

    def after_step(self, trainer: Trainer, out: dict, batch: dict) -> None:
        if trainer.step % self.every:
            return
        c = trainer.config
        val = self.val_data.batch(c.batch_size, c.lr_patch, trainer.step, c.seed + 7919,
                                  c.augment)
        val = {k: v.to(trainer.device) if torch.is_tensor(v) else v for k, v in val.items()}
        loss = trainer.compute_loss(trainer.forward(val), val)
        grads = torch.autograd.grad(loss, self.search.parameters())
        for a, g in zip(self.search.parameters(), grads):
            a.grad = g
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.record_every and trainer.step % self.record_every == 0:
            self.history.append({"step": trainer.step, "val_loss": float(loss.detach()),
                                 "widths": self.search.widths()})

    def state_dict(self) -> dict:
        return {"alpha": {n: a.detach().cpu() for n, a in self.search.alpha.items()},
                "optimizer": self.optimizer.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            for n, a in state["alpha"].items():
                self.search.alpha[n].copy_(a)
        self.optimizer.load_state_dict(state["optimizer"])
        self.history = list(state["history"])
