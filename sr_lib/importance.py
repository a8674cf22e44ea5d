"""Adaptive importance learning (AIL, seed 004): train a small network easy-to-complex.

Every HR pixel gets an importance ``w`` in [0, 1] that weights its loss. Round 0 starts from
the teacher: pixels the teacher reconstructs well are "easy" and get ``w ~ 1`` (Eq. 8,
:func:`teacher_importance`). After each round the importance grows by an amount that
decreases with the student's current error ``d`` (Theorem 1, :func:`importance_update`), so
the student sees harder pixels as it becomes able to fit them. With the penalty
``h = I(w, 1)`` every pixel has ``w = 1`` and training is the ordinary one.

The released code settles the paper's ambiguities (see ``design/seed-facts.md`` section 5):
``alpha0 = 100``, ``mu0 = 0.01`` on the [0, 1] scale of the *absolute* error; ``d = 10 |e|``;
round ``t``'s increment is ``lambda_t = 0.15 t`` applied to the teacher initialisation; the
loss weights are ``w ** 2`` (it compares ``w * S(x)`` with ``w * y`` in an L2 loss).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from .errors import SRLibError
from .train import Hook, Trainer

INITS = ("teacher", "zero", "random", "one")


def teacher_importance(err: torch.Tensor, mu0: float = 0.01, alpha0: float = 100.0
                       ) -> torch.Tensor:
    """Eq. (8): ``g(x) = s(alpha0 (mu0 - x)) / s(alpha0 mu0)`` with ``s`` the logistic function,
    normalised so that a pixel the teacher gets exactly right has importance 1."""
    return torch.sigmoid(alpha0 * (mu0 - err)) / torch.sigmoid(torch.tensor(alpha0 * mu0))


def importance_update(w0: torch.Tensor, d: torch.Tensor, lam: float) -> torch.Tensor:
    """Theorem 1: ``argmin_w d w + (w - w0)(ln((w - w0) / lam) - 1)`` over ``w0 <= w <= 1`` is
    ``w0 + lam exp(-d)``, clipped to 1 (the objective is convex, so clipping is exact)."""
    return torch.clamp(w0 + lam * torch.exp(-d), max=1.0)


def importance_objective(w: torch.Tensor, w0: torch.Tensor, d: torch.Tensor, lam: float
                         ) -> torch.Tensor:
    """The per-pixel W-subproblem of Eq. (6) (for checking the closed form numerically)."""
    gap = w - w0
    return d * w + gap * (torch.log(gap / lam) - 1)


class AdaptiveImportance(Hook):
    """Per-pixel loss weights for the student, by rounds (Algorithm 1).

    Training is split into ``rounds`` equal rounds. Round 0 uses the initial importance
    (``init``: the teacher's, zeros, or uniform random); round ``t >= 1`` uses
    ``clip(w_init + lambda_t exp(-sigma_d |S_{t-1}(x) - y|), 0, 1)`` with ``S_{t-1}`` a frozen
    copy of the student taken when the round starts and ``lambda_t = lam + rho (t - 1)``. The
    weights are recomputed per batch, so augmentation is free. With ``reset_lr`` every round
    restarts the learning rate (the released schedule), decaying it by ``lr_gamma`` every
    ``lr_step`` iterations within the round.
    """

    def __init__(self, teacher: nn.Module | None, rounds: int = 10, init: str = "teacher",
                 mu0: float = 0.01, alpha0: float = 100.0, lam: float = 0.15, rho: float = 0.15,
                 sigma_d: float = 10.0, square: bool = True, reset_lr: bool = True,
                 lr_step: int | None = None, lr_gamma: float = 0.1, seed: int = 0) -> None:
        if init not in INITS:
            raise SRLibError(f"init must be one of {INITS}, got {init!r}")
        if init == "teacher" and teacher is None:
            raise SRLibError("init='teacher' needs a teacher network")
        if rounds < 1:
            raise SRLibError(f"rounds must be >= 1, got {rounds}")
        self.teacher = teacher
        self.rounds, self.init, self.mu0, self.alpha0 = int(rounds), init, mu0, alpha0
        self.lam, self.rho, self.sigma_d, self.square = lam, rho, sigma_d, square
        self.reset_lr, self.lr_step, self.lr_gamma, self.seed = reset_lr, lr_step, lr_gamma, seed
        self.round, self.previous, self.base_lr = 0, None, None
        self.mean_weight: list[tuple[int, int, float]] = []  # (step, round, mean w)
        self.snapshots: dict[int, dict] = {}  # round -> student state at the round's end

    def settings(self) -> dict:
        """What configures the rounds (for the checkpoint's record; not the round reached)."""
        return {"teacher": type(self.teacher).__name__ if self.teacher is not None else None,
                "rounds": self.rounds, "init": self.init, "mu0": self.mu0,
                "alpha0": self.alpha0, "lam": self.lam, "rho": self.rho,
                "sigma_d": self.sigma_d, "square": self.square, "reset_lr": self.reset_lr,
                "lr_step": self.lr_step, "lr_gamma": self.lr_gamma, "seed": self.seed}

    def round_length(self, trainer: Trainer) -> int:
        return math.ceil(trainer.config.iterations / self.rounds)

    def setup(self, trainer: Trainer) -> None:
        self.base_lr = trainer.config.lr
        if self.teacher is not None:
            self.teacher.to(trainer.device).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)

    def _start_round(self, trainer: Trainer, t: int) -> None:
        self.round = t
        if t >= 1:
            if t - 1 not in self.snapshots:
                self.snapshots[t - 1] = {k: v.detach().cpu().clone()
                                         for k, v in trainer.model.state_dict().items()}
            if self.init == "one":
                return  # uniform weights need no student copy
            self.previous = copy.deepcopy(trainer.model).eval()
            for p in self.previous.parameters():
                p.requires_grad_(False)

    def transform_batch(self, trainer: Trainer, batch: dict) -> dict:
        if getattr(self, "_pending", None):
            self.setup_resume(trainer)
        t = min(trainer.step // self.round_length(trainer), self.rounds - 1)
        stale = t >= 1 and self.init != "one" and self.previous is None
        if t != self.round or stale or (t >= 1 and t - 1 not in self.snapshots):
            self._start_round(trainer, t)
        if self.reset_lr and self.lr_step:
            within = trainer.step - t * self.round_length(trainer)
            lr = self.base_lr * self.lr_gamma ** (within // self.lr_step)
            for group in trainer.optimizer.param_groups:
                group["lr"] = lr
        return batch

    def initial(self, lr: torch.Tensor, hr: torch.Tensor, step: int) -> torch.Tensor:
        """Round-0 importance of the batch's HR pixels."""
        if self.init == "teacher":
            with torch.no_grad():
                err = (self.teacher(lr) - hr).abs()
            return teacher_importance(err, self.mu0, self.alpha0)
        if self.init == "zero":
            return torch.zeros_like(hr)
        if self.init == "one":
            return torch.ones_like(hr)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        return torch.rand(hr.shape, generator=g).to(hr)

    def importance(self, lr: torch.Tensor, hr: torch.Tensor, step: int = 0) -> torch.Tensor:
        w = self.initial(lr, hr, step)
        if self.round >= 1 and self.init != "one":
            with torch.no_grad():
                d = self.sigma_d * (self.previous(lr) - hr).abs()
            w = importance_update(w, d, self.lam + self.rho * (self.round - 1))
        return w.clamp(0, 1)

    def pixel_weights(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor:
        w = self.importance(batch["lr"], batch["hr"], trainer.step)
        if trainer.step % max(1, trainer.config.log_every) == 0:
            self.mean_weight.append((trainer.step, self.round, float(w.mean())))
        return w.pow(2) if self.square else w

    def student_at(self, model: nn.Module, t: int) -> nn.Module:
        """A copy of ``model`` with the weights it had at the end of round ``t``."""
        if t not in self.snapshots:
            raise SRLibError(f"no snapshot for round {t}; have rounds {sorted(self.snapshots)} "
                             "(the last round's student is the trained model itself)")
        student = copy.deepcopy(model).eval()
        student.load_state_dict(self.snapshots[t])
        return student

    def importance_at(self, model: nn.Module, lr: torch.Tensor, hr: torch.Tensor, t: int
                      ) -> torch.Tensor:
        """The importance round ``t`` gives the pixels of ``(lr, hr)``, from the kept
        snapshots (for maps and figures after training; the hook's state is left as it was)."""
        saved = self.round, self.previous
        try:
            self.round = t
            self.previous = (self.student_at(model, t - 1)
                             if t >= 1 and self.init != "one" else None)
            return self.importance(lr, hr)
        finally:
            self.round, self.previous = saved

    def state_dict(self) -> dict:
        prev = None if self.previous is None else self.previous.state_dict()
        return {"mean_weight": self.mean_weight, "round": self.round, "previous": prev,
                "snapshots": self.snapshots}

    def load_state_dict(self, state: dict) -> None:
        self.mean_weight = list(state["mean_weight"])
        self.snapshots = dict(state.get("snapshots", {}))
        self._pending = state  # the student copy is rebuilt once the model is known

    def setup_resume(self, trainer: Trainer) -> None:
        state = getattr(self, "_pending", None)
        if state and state["previous"] is not None:
            self.previous = copy.deepcopy(trainer.model).eval()
            self.previous.load_state_dict(state["previous"])
            for p in self.previous.parameters():
                p.requires_grad_(False)
            self.round = state["round"]
        self._pending = None


class Distillation(Hook):
    """Eq. (10): add ``beta`` times the loss between the student's and the teacher's outputs."""

    def __init__(self, teacher: nn.Module, beta: float = 0.1) -> None:
        self.teacher, self.beta = teacher, float(beta)

    def setup(self, trainer: Trainer) -> None:
        self.teacher.to(trainer.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def extra_loss(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor:
        from .train import pixel_loss

        with torch.no_grad():
            target = self.teacher(batch["lr"])
        c = trainer.config
        return self.beta * pixel_loss(out["sr"], target, c.loss, reduction=c.reduction)


def ail_finetune(baseline: nn.Module, teacher: nn.Module | None, fit, *, rounds: int,
                 round_iters: int, init: str = "teacher", distil: float | None = None,
                 lr_step: int | None = None, seed: int = 0, name: str | None = None,
                 **importance) -> tuple[nn.Module, AdaptiveImportance]:
    """AIL's recipe (Algorithm 1): fine-tune a copy of the trained ``baseline`` (left
    unchanged) for ``rounds`` rounds of ``round_iters`` iterations, the per-pixel importance
    starting from ``init`` (the teacher's errors, zeros, uniform random, or ``"one"``: every
    pixel weighted 1, the control with the same rounds) and growing after each round.
    ``distil``: add Table 2's distillation term with this beta (with ``init="one"``, plain
    distillation at the same budget). ``lr_step``: the rate decays by 10x this often within
    each round (the released schedule restarts it every round).

    ``fit(model, name, iterations, hooks, phase="finetune")`` trains, as in
    :mod:`sr_lib.pruning.recipes`. Returns the student and its importance hook, whose
    ``student_at(student, t)`` and ``importance_at(...)`` give each round's network and map.
    """
    if round_iters < 1:
        raise SRLibError(f"round_iters must be >= 1, got {round_iters}")
    if distil is not None and teacher is None:
        raise SRLibError("distillation needs the teacher network")
    student = copy.deepcopy(baseline)
    hook = AdaptiveImportance(teacher if init == "teacher" else None, rounds=rounds, init=init,
                              lr_step=lr_step, seed=seed, **importance)
    hooks = [hook] + ([Distillation(teacher, beta=distil)] if distil is not None else [])
    name = name or ("distil" if distil is not None else f"ail_{init}")
    fit(student, name, rounds * round_iters, hooks, phase="finetune")
    return student, hook
