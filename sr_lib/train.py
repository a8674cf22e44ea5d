"""The one training loop of the book, with hooks so chapters add behaviour without copying it.

A :class:`Trainer` draws patch batches from a dataset (``data.batch(...)``), runs the model, adds
up the pixel loss and any hook's extra terms, steps the optimiser and scheduler, validates,
and writes resumable checkpoints. Chapters plug in through :class:`Hook` methods:

=====================  ==========================================================  =========
hook method            what it is for                                              used by
=====================  ==========================================================  =========
``transform_batch``    change a batch (MixUp, scale sampling)                      ISRResCNet
``forward``            custom forward returning ``{'sr', 'target', ...}``          ProSR, DRN
``extra_loss``         add loss terms (dual regression, GAN, distillation)         DRN, AIL
``pixel_weights``      per-pixel loss weights                                      AIL
``after_backward``     gradient penalties / masks before the optimiser step        SRP
``after_step``         update a second model with its own optimiser (GAN D)        ProGanSR
``train_step``         take over a whole step (truncated back-propagation)         ISRResCNet
``parameters``         extra modules trained by the main optimiser (dual models)   DRN
``state_dict``         hook state saved in checkpoints                             all
=====================  ==========================================================  =========

Batches depend only on ``(seed, step)``, and everything else that changes is in the
checkpoint, so a stopped and resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint, distributed, progress, records, tiny
from .device import hardware_summary, pick_device, seed_everything
from .errors import SRLibError, TrainingDiverged
from .stopping import StopRequests, stop_error
from .weights import load_weights, save_weights  # noqa: F401 - their old home, still used

LOSSES = ("l1", "l2", "charbonnier")
SCHEDULERS = (None, "step", "multistep", "cosine", "plateau")


@dataclass
class TrainConfig:
    """Everything that defines a run. Iteration counts, not epochs, drive schedules."""

    iterations: int = 1000
    batch_size: int = 16
    lr_patch: int = 48
    lr: float = 1e-4
    optimizer: str = "adam"  # "adam" or "sgd"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str | None = None  # see SCHEDULERS
    step_size: int = 200_000
    milestones: Sequence[int] = ()
    gamma: float = 0.5
    min_lr: float = 0.0
    patience: int = 10  # validations without improvement (plateau)
    loss: str = "l1"
    reduction: str = "mean"  # "sum": VDSR / AIL's size_average=False (use with grad_clip)
    pixel_weight: float = 1.0  # weight of the pixel loss (0: hooks' losses only, e.g. a GAN)
    charbonnier_eps: float = 1e-3
    grad_clip: float | None = None  # total-norm clipping threshold
    amp: bool = False  # mixed precision (autocast); see amp_dtype
    amp_dtype: str = "float16"  # "float16" (CUDA, with a GradScaler) or "bfloat16" (CUDA, CPU)
    channels_last: bool = False  # NHWC memory layout (faster convs on recent GPUs with amp)
    data_on_device: bool = False  # keep the uint8 training images on the device (data.to)
    prefetch: int = 2  # batches prepared ahead in a background thread (0: none)
    seed: int = 0
    augment: bool = True
    log_every: int = 10
    val_every: int = 0  # 0: validate only at the end (if val_data is given)
    ckpt_every: int = 0  # 0: checkpoint only at the end (if ckpt_path is given)
    ckpt_path: str | None = None
    device: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise SRLibError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if self.reduction not in ("mean", "sum"):
            raise SRLibError(f"reduction must be 'mean' or 'sum', got {self.reduction!r}")
        if self.scheduler not in SCHEDULERS:
            raise SRLibError(f"unknown scheduler {self.scheduler!r}; choose one of {SCHEDULERS}")
        if self.amp_dtype not in ("float16", "bfloat16"):
            raise SRLibError(f"amp_dtype must be 'float16' or 'bfloat16', got {self.amp_dtype!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise SRLibError(f"unknown optimizer {self.optimizer!r}; choose 'adam' or 'sgd'")
        for key in ("iterations", "batch_size", "lr_patch", "log_every"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise SRLibError(f"TrainConfig.{key} must be a whole number >= 1, got "
                                 f"{getattr(self, key)!r}")
        for key in ("val_every", "ckpt_every", "prefetch"):
            if getattr(self, key) < 0:
                raise SRLibError(f"TrainConfig.{key} must be >= 0 (0: off), got "
                                 f"{getattr(self, key)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise SRLibError(f"TrainConfig.lr must be a finite number above 0, got {self.lr!r}")


class Hook:
    """Base class: every method is optional; override what the chapter needs."""

    def parameters(self) -> Iterable[nn.Parameter]:
        return []

    def setup(self, trainer: Trainer) -> None:
        """Called once the trainer has its device and optimiser (move modules here)."""

    def transform_batch(self, trainer: Trainer, batch: dict) -> dict:
        return batch

    def forward(self, trainer: Trainer, batch: dict) -> dict | None:
        return None

    def extra_loss(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor | None:
        return None

    def pixel_weights(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor | None:
        return None

    def after_backward(self, trainer: Trainer) -> None:
        """Gradients exist and are unscaled; the optimiser has not stepped yet."""

    def after_step(self, trainer: Trainer, out: dict, batch: dict) -> None:
        """The main optimiser has stepped."""

    def train_step(self, trainer: Trainer, batch: dict) -> torch.Tensor | float | None:
        """Return the loss (best a detached tensor: a float forces a host sync) to replace the
        standard step entirely; None keeps it."""
        return None

    def state_dict(self) -> dict:
        return {}

    def settings(self) -> dict:
        """The settings that change what training produces, for the checkpoint's record (a
        resumed run must have the same). Default: the public numbers, strings and tuples."""
        from .records import hook_attributes

        return hook_attributes(self)

    def load_state_dict(self, state: dict) -> None:
        pass


def pixel_loss(
    sr: torch.Tensor, hr: torch.Tensor, kind: str = "l1",
    weights: torch.Tensor | None = None, eps: float = 1e-3, reduction: str = "mean",
) -> torch.Tensor:
    """L1 / L2 / Charbonnier loss, optionally weighted per pixel; mean or sum over pixels."""
    if sr.shape != hr.shape:
        raise SRLibError(f"output {tuple(sr.shape)} and target {tuple(hr.shape)} differ in shape")
    diff = sr - hr
    if kind == "l1":
        err = diff.abs()
    elif kind == "l2":
        err = diff.pow(2)
    elif kind == "charbonnier":
        err = torch.sqrt(diff.pow(2) + eps**2)
    else:
        raise SRLibError(f"unknown loss {kind!r}; choose one of {LOSSES}")
    if weights is not None:
        err = err * weights
    return err.sum() if reduction == "sum" else err.mean()


@dataclass
class History:
    """Training curves: loss and learning rate per logged step, validation PSNR per check."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_psnr: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def plot(self, ax=None, title: str | None = None):
        """Loss (left axis) and validation PSNR (right axis) in one figure; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.2))
        ax.plot(self.step, self.loss, color="tab:blue", lw=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("training loss", color="tab:blue")
        if self.val_psnr:
            ax2 = ax.twinx()
            ax2.plot(self.val_step, self.val_psnr, "o-", color="tab:red", ms=3)
            ax2.set_ylabel("validation PSNR (dB)", color="tab:red")
        if title:
            ax.set_title(title)
        return ax


_ESTIMATE_AFTER = 3  # steps timed before the cost line (the first ones include warm-up)
_WARN_SECONDS = 600  # runs expected to take longer than this say so up front


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class Trainer:
    """Train ``model`` on ``data`` (an :class:`~sr_lib.datasets.SRDataset` or anything with the
    same ``batch(batch_size, lr_patch, step, seed, augment)`` method).

    ``val_data`` (an SRDataset of whole images) is scored with :func:`sr_lib.evaluate.evaluate`.

    On a GPU the step never waits for the device: the loss stays a device tensor and is read
    back once every ``log_every`` steps (which is also when a non-finite loss is caught), the
    next batches are prepared in a background thread (``prefetch``), and with
    ``data_on_device`` the images themselves live on the GPU. Started by torchrun with N
    processes, the trainer runs DistributedDataParallel (see :mod:`sr_lib.distributed`).
    """

    def __init__(
        self, model: nn.Module, data, config: TrainConfig | None = None,
        hooks: Sequence[Hook] = (), val_data=None,
    ) -> None:
        self.config = tiny.config(config or TrainConfig())  # SR_LIB_TINY: examples in seconds
        self.model, self.data, self.val_data = model, data, val_data
        self.hooks = list(hooks)
        seed_everything(self.config.seed)
        self.device = pick_device(self.config.device)
        self.world, self.rank = 1, 0
        if distributed.launched():
            self.device = distributed.setup(self.device)
            self.world, self.rank = distributed.world_size(), distributed.rank()
        self.model.to(self.device)
        if self.config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if self.config.data_on_device and hasattr(data, "to"):
            data.to(self.device)
        params = list(self.model.parameters())
        hook_params = []
        for hook in self.hooks:
            hook_params += list(hook.parameters())
        if not params + hook_params:
            raise SRLibError("the model has no parameters to train (bicubic is a fixed baseline)")
        self._hook_params = hook_params
        # the net the standard step runs: DDP keeps the ranks' model gradients averaged
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = self._make_optimizer(params + hook_params)
        self.scheduler = self._make_scheduler()
        c = self.config
        bf16 = c.amp_dtype == "bfloat16"
        self.use_amp = bool(c.amp and (self.device.type == "cuda" or bf16))
        self.amp_dtype = torch.bfloat16 if bf16 else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and not bf16)
        self.step = 0
        self.optimizer_steps = 0  # counted in backward_and_step (TBPTT takes several a batch)
        self._ddp_ran = False
        self._prefetch: _Prefetcher | None = None
        self.history = History()
        self.last_good_checkpoint: Path | None = None
        # the record every checkpoint carries (sr_lib.records): settings before any hook's
        # setup changes its state; a segment opens when this process trains its first step
        bookkeeping = checkpoint.RESUME_FREE
        self.record = records.new_record(records.settings(
            {k: v for k, v in asdict(self.config).items() if k not in bookkeeping},
            self.model, self.hooks))
        self.segment: dict | None = None
        self.segment_clock = 0.0
        self.resumed_with: list[str] = []
        for hook in self.hooks:
            hook.setup(self)

    # -- construction -------------------------------------------------------------------
    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, betas=c.betas, eps=c.eps,
                                    weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)

    def _make_scheduler(self):
        c, opt = self.config, self.optimizer
        sched = torch.optim.lr_scheduler
        if c.scheduler == "step":
            return sched.StepLR(opt, c.step_size, c.gamma)
        if c.scheduler == "multistep":
            return sched.MultiStepLR(opt, list(c.milestones), c.gamma)
        if c.scheduler == "cosine":
            return sched.CosineAnnealingLR(opt, c.iterations, c.min_lr)
        if c.scheduler == "plateau":
            return sched.ReduceLROnPlateau(opt, "max", c.gamma, c.patience, min_lr=c.min_lr)
        return None

    @property
    def progress(self) -> float:
        """Fraction of the run done, in [0, 1] (drives blending schedules)."""
        return self.step / self.config.iterations

    @property
    def current_lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    # -- one step -----------------------------------------------------------------------
    def make_batch(self, step: int) -> dict:
        """This process's share of the global batch of ``step``, on the device (thread-safe:
        the prefetcher calls it ahead of time)."""
        c = self.config
        if self.world == 1:
            batch = self.data.batch(c.batch_size, c.lr_patch, step, c.seed, c.augment)
        else:
            part = distributed.shard(c.batch_size)
            try:
                batch = self.data.batch(c.batch_size, c.lr_patch, step, c.seed, c.augment,
                                        part=part)
            except TypeError:  # a data object without shares: cut the global batch
                batch = distributed.slice_batch(
                    self.data.batch(c.batch_size, c.lr_patch, step, c.seed, c.augment), *part)
        return {k: self._to_device(v) if torch.is_tensor(v) else v for k, v in batch.items()}

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Host tensors go to a GPU pinned and asynchronously; 4-D ones follow channels_last."""
        if self.device.type == "cuda" and t.device.type == "cpu":
            t = t.pin_memory().to(self.device, non_blocking=True)
        else:
            t = t.to(self.device)
        if self.config.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def next_batch(self) -> dict:
        batch = (self._prefetch.get(self.step) if self._prefetch is not None
                 else self.make_batch(self.step))
        for hook in self.hooks:
            batch = hook.transform_batch(self, batch)
        return batch

    def forward(self, batch: dict) -> dict:
        for hook in self.hooks:
            out = hook.forward(self, batch)
            if out is not None:
                return out
        self._ddp_ran = self.net is not self.model  # DDP averages these gradients itself
        if getattr(self.model, "takes_scale", False):
            sr = self.net(batch["lr"], scale=batch["scale"])
        else:
            sr = self.net(batch["lr"])
        return {"sr": sr, "target": batch["hr"]}

    def compute_loss(self, out: dict, batch: dict) -> torch.Tensor:
        weights = None
        for hook in self.hooks:
            w = hook.pixel_weights(self, out, batch)
            if w is not None:
                weights = w if weights is None else weights * w
        c = self.config
        loss = c.pixel_weight * pixel_loss(out["sr"].float(), out["target"], c.loss, weights,
                                           c.charbonnier_eps, c.reduction)
        for hook in self.hooks:
            extra = hook.extra_loss(self, out, batch)
            if extra is not None:
                loss = loss + extra
        return loss

    def check_finite(self, loss: torch.Tensor | float, since: int | None = None) -> None:
        """Raise :class:`TrainingDiverged` if ``loss`` is not finite (reads it back: a host
        sync, so the loop calls it once per ``log_every`` steps; ``since`` is the first step
        that the value covers)."""
        value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        if not math.isfinite(value):
            where = (f"the last good checkpoint {self.last_good_checkpoint} is kept"
                     if self.last_good_checkpoint else "no checkpoint was written")
            when = (f"at iteration {self.step}" if since is None or since >= self.step
                    else f"between iterations {since + 1} and {self.step}")
            raise TrainingDiverged(
                f"loss became {value} {when}; training stopped and {where}. "
                f"Lower the learning rate (now {self.current_lr:g}) or clip gradients "
                "(grad_clip; --grad-clip), then start afresh (--restart; the checkpoint may "
                "already hold unstable weights) or resume keeping the new value (--override lr "
                "or --override grad_clip)"
            )

    def backward_and_step(self, loss: torch.Tensor) -> None:
        """Backward, hooks' penalties, clipping and the optimiser step (usable by hooks)."""
        self.optimizer.zero_grad(set_to_none=True)
        if self.world > 1 and self.config.reduction == "sum":
            loss = loss * self.world  # DDP averages gradients; a sum over the batch adds them
        self.scaler.scale(loss).backward()
        if self.world > 1:  # what DDP did not average: hook modules, models a hook ran itself
            distributed.average_gradients(self._hook_params + (
                [] if self._ddp_ran else list(self.model.parameters())))
            self._ddp_ran = False
        self.scaler.unscale_(self.optimizer)
        for hook in self.hooks:
            hook.after_backward(self)
        if self.config.grad_clip:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer_steps += 1

    def train_step(self, batch: dict) -> torch.Tensor:
        """One optimiser step; returns the loss as a detached device tensor (no host sync)."""
        for hook in self.hooks:
            value = hook.train_step(self, batch)
            if value is not None:
                return value.detach() if torch.is_tensor(value) else torch.tensor(float(value))
        self._ddp_ran = False
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            out = self.forward(batch)
            loss = self.compute_loss(out, batch)
        self.backward_and_step(loss)
        for hook in self.hooks:
            hook.after_step(self, out, batch)
        return loss.detach()

    # -- the loop -----------------------------------------------------------------------
    def validate(self) -> float:
        from .evaluate import evaluate

        value = None
        if self.rank == 0:  # one process scores; the others take its number
            value = evaluate(self.model, self.val_data, device=self.device,
                             progress=False).mean_psnr
        value = distributed.broadcast_float(value)
        self.model.train()
        self.history.val_step.append(self.step)
        self.history.val_psnr.append(value)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(value)
        return value

    def fit(self, resume: bool = True, overrides: Sequence[str] = ()) -> History:
        """Train up to ``config.iterations``; with ``resume`` continue from ``ckpt_path``
        (see :meth:`load_checkpoint` for ``overrides``); ``resume=False`` starts afresh and
        replaces the checkpoint."""
        c = self.config
        if resume and c.ckpt_path and Path(c.ckpt_path).exists():
            self.load_checkpoint(c.ckpt_path, overrides)
        self.model.train()
        main = self.rank == 0
        running, count, since = None, 0, self.step
        if self.world > 1 and main:
            print(f"[distributed] world size {self.world}: {c.batch_size // self.world} of every "
                  f"{c.batch_size} patches per process, on {self.device.type}", flush=True)
        # a first SIGTERM / SIGINT ends the current step and saves it (sr_lib.stopping)
        stops = StopRequests()
        with stops:
            bar = progress.bar(total=c.iterations, initial=self.step, show=c.progress and main,
                               desc="train", dynamic_ncols=True)
            t0 = t_start = time.perf_counter()
            start, pending = self.step, None
            if c.prefetch:
                self._prefetch = _Prefetcher(self.make_batch, c.prefetch, c.iterations)
            try:
                while self.step < c.iterations:
                    if self.segment is None:
                        self._open_segment()
                    batch = self.next_batch()
                    before = self.optimizer_steps
                    loss = self.train_step(batch)
                    records.count_batch(self.record, c.batch_size, batch.get("scale"),
                                        self.optimizer_steps - before)
                    running = loss if running is None else running + loss  # stays on the device
                    count += 1
                    self.step += 1
                    if self.scheduler is not None and not isinstance(
                        self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
                    ):
                        self.scheduler.step()
                    if self.step % c.log_every == 0 or self.step == c.iterations:
                        mean = self._mean_loss(running, count)  # the one read-back per interval
                        self.check_finite(mean, since)
                        if pending is not None:  # its weights have since given finite losses
                            checkpoint.promote(self, pending, Path(c.ckpt_path))
                            pending = None
                        self.history.step.append(self.step)
                        self.history.loss.append(mean)
                        self.history.lr.append(self.current_lr)
                        bar.set_postfix(loss=f"{mean:.4f}", lr=f"{self.current_lr:.1e}")
                        running, count, since = None, 0, self.step
                    if self.val_data is not None and c.val_every and self.step % c.val_every == 0:
                        bar.set_postfix(val_psnr=f"{self.validate():.2f}")
                    if c.ckpt_path and c.ckpt_every and self.step % c.ckpt_every == 0 and (
                            self.step < c.iterations):
                        if running is not None:  # writing syncs anyway: check the losses so far
                            self.check_finite(self._mean_loss(running, count), since)
                        if pending is not None:
                            checkpoint.promote(self, pending, Path(c.ckpt_path))
                        self.history.seconds += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        pending = checkpoint.save_pending(self, Path(c.ckpt_path))
                    if self.step < c.iterations and self._stop_requested(stops):
                        # SIGTERM / SIGINT: keep this step (losses checked first), then stop
                        if running is not None:
                            self.check_finite(self._mean_loss(running, count), since)
                        self.history.seconds += time.perf_counter() - t0
                        t0 = time.perf_counter()
                        saved = self.save_checkpoint(c.ckpt_path) if c.ckpt_path else None
                        bar.update(1)
                        raise self._stopped(stops.signum or signal.SIGTERM, saved)
                    bar.update(1)
                    if self.step - start == _ESTIMATE_AFTER and main:
                        self._say_cost(time.perf_counter() - t_start, start)
            finally:
                bar.close()
                if self._prefetch is not None:
                    self._prefetch.close()
                    self._prefetch = None
                if pending is not None and main:  # unverified weights (divergence, interrupt)
                    pending.unlink(missing_ok=True)
            self.history.seconds += time.perf_counter() - t0
            if self.val_data is not None and (not self.history.val_step
                                              or self.history.val_step[-1] != self.step):
                self.validate()
            if c.ckpt_path:
                self.save_checkpoint(c.ckpt_path)
        if stops.signum is not None:  # the signal came during the last step or the final save
            raise self._stopped(stops.signum, Path(c.ckpt_path) if c.ckpt_path else None)
        return self.history

    def _stopped(self, signum: int, saved: Path | None) -> BaseException:
        """The exception that ends a run stopped by a signal, its message printed once (a
        SystemExit prints nothing by itself)."""
        error = stop_error(signum, self.step, saved)
        if self.rank == 0:
            tqdm.write(f"[stop] {error}")
        return error

    def _stop_requested(self, stops: StopRequests) -> bool:
        """Whether to stop after this step. One process decides alone; under torchrun the ranks
        agree at each log step (the loop's one sync point), so every rank saves the same step."""
        if self.world == 1:
            return stops.signum is not None
        if self.step % self.config.log_every:
            return False
        return distributed.any_rank(stops.signum is not None, self.device)

    @staticmethod
    def _mean_loss(running: torch.Tensor, count: int) -> float:
        """Mean of the losses summed on the device since the last read-back, over all
        processes (a host sync)."""
        return float(distributed.mean_over_ranks(running.float()) / count)

    def _open_segment(self) -> None:
        self.segment = records.open_segment(self.record, hardware_summary(self.device),
                                            self.step)
        if self.resumed_with:
            self.segment["overrides"] = list(self.resumed_with)
        self.segment_clock = time.perf_counter()

    # -- checkpoints (sr_lib.checkpoint holds the code) -----------------------------------
    def state_dict(self) -> dict:
        """The whole training state and its record, as a checkpoint holds them."""
        return checkpoint.training_state(self)

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the full training state atomically (a crash never leaves a half file)."""
        return checkpoint.save(self, path)

    def load_checkpoint(self, path: str | Path, overrides: Sequence[str] = ()) -> None:
        """Continue exactly where the checkpoint stopped, or refuse and list why (see
        :func:`sr_lib.checkpoint.load`)."""
        checkpoint.load(self, path, overrides)

    def _say_cost(self, seconds: float, start: int) -> None:
        """One line, before a long run gets going: the time it will take at the measured speed
        and the process's peak memory, with what to change for a quick try."""
        left = self.config.iterations - self.step
        total = seconds / max(1, self.step - start) * left
        if total < _WARN_SECONDS or os.environ.get("SRBOOK_STATIC"):
            return  # short, or a scripted book run, whose stored outputs keep no log lines
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_gb = peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes vs KiB
        tqdm.write(f"[cost] {left:,} more iterations on {self.device.type} will take about "
                   f"{_duration(total)} at the speed of the first {self.step - start} "
                   f"(peak memory so far {peak_gb:.1f} GB); for a quick try lower iterations, "
                   "use a smaller profile, or set SR_LIB_TINY=1")

class _Prefetcher:
    """Prepares the batches of the next steps in one background thread while the current step
    runs (a batch depends only on its step, so the order of work cannot change any result)."""

    def __init__(self, make, depth: int, last: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.make, self.depth, self.last = make, depth, last
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="sr_lib-prefetch")
        self.futures: dict = {}

    def get(self, step: int) -> dict:
        for s in range(step, min(step + self.depth + 1, self.last)):
            if s not in self.futures:
                self.futures[s] = self.pool.submit(self.make, s)
        for s in [s for s in self.futures if s < step]:  # a resumed or skipped step
            self.futures.pop(s).cancel()
        future = self.futures.pop(step, None)
        return future.result() if future is not None else self.make(step)

    def close(self) -> None:
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True)


class BatchTransform(Hook):
    """Apply ``fn(batch, step, seed) -> batch`` to every training batch (e.g. ``MixUp``)."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def transform_batch(self, trainer: Trainer, batch: dict) -> dict:
        return self.fn(batch, trainer.step, trainer.config.seed)


class TBPTT(Hook):
    """Truncated back-propagation through the iterations of an unrolled model (ISRResCNet).

    The model must provide ``init_state(lr)``, ``iterate(state, lr, k)``, ``estimate(state)``
    and ``iterations`` (K). Every ``k1`` iterations the loss of the current estimate is
    back-propagated through at most the last ``k2`` iterations (``k2 <= k1``) and the
    optimiser steps; intermediate losses are weighted by ``intermediate_weight`` (0.5 in the
    released code), the final one by 1. K/k1 optimiser steps are taken per batch.
    """

    def __init__(self, k1: int = 5, k2: int = 5, intermediate_weight: float = 0.5) -> None:
        if not 1 <= k2 <= k1:
            raise SRLibError(f"TBPTT needs 1 <= k2 <= k1, got k1={k1}, k2={k2}")
        self.k1, self.k2, self.intermediate_weight = k1, k2, intermediate_weight

    def train_step(self, trainer: Trainer, batch: dict) -> torch.Tensor:
        model, lr, hr = trainer.model, batch["lr"], batch["hr"]
        n_iter = int(model.iterations)
        state = model.init_state(lr)
        losses = []
        for k in range(n_iter):
            if k % self.k1 == self.k1 - self.k2:  # cut the graph: keep only the last k2 steps
                state = _detach(state)
            state = model.iterate(state, lr, k)
            if (k + 1) % self.k1 == 0 or k + 1 == n_iter:
                weight = 1.0 if k + 1 == n_iter else self.intermediate_weight
                out = {"sr": model.estimate(state), "target": hr}
                loss = weight * trainer.compute_loss(out, batch)
                trainer.backward_and_step(loss)
                losses.append(loss.detach() / weight)
        return losses[-1]


def _detach(state):
    if torch.is_tensor(state):
        return state.detach()
    if isinstance(state, dict):
        return {k: _detach(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_detach(v) for v in state)
    return state
