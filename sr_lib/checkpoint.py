"""The trainer's checkpoints: what they hold, how they are written, and when one may be resumed.

A checkpoint holds the whole training state (model, optimiser, scheduler, loss scaler, hooks,
step, history, random state), the settings it ran with and its record (:mod:`sr_lib.records`:
commit, code and settings digests, hardware, wall time, steps and samples seen). It is written
through a temporary file, so a crash never leaves half a file. A periodic checkpoint is first
written beside the real one (``.pending``) and replaces it only once the losses logged after it
are finite. A run resumes only with the settings and the sr_lib code its checkpoint was written
with; otherwise :func:`load` refuses and lists every difference (``overrides`` keeps a
difference on purpose, ``"code"`` a change of the library).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import distributed, records
from .errors import ResumeRefused, SRLibError
from .weights import atomic_save

if TYPE_CHECKING:  # the trainer imports this module, not the other way round
    from .train import Trainer

# settings that may change when a run is resumed (its length and bookkeeping)
RESUME_FREE = {"iterations", "log_every", "val_every", "ckpt_every", "ckpt_path", "device",
                "progress", "channels_last", "data_on_device", "prefetch"}
NEVER_OVERRIDE = {"optimizer", "scheduler", "amp"}  # the saved states would not fit
# differences of the record that --override can keep: a changed library, changed hook settings
RECORD_OVERRIDES = {"code", "hooks"}


def save_pending(trainer: Trainer, path: Path) -> Path:
    """A periodic checkpoint is first written beside the real one and only replaces it once
    the losses logged after it are finite: a run that diverges never leaves its last
    checkpoint holding the weights that blew up. Rank 0 writes; the others wait."""
    pending = path.with_name(path.name + ".pending")
    if trainer.rank == 0:
        atomic_save(training_state(trainer), pending)
    distributed.barrier()
    return pending


def promote(trainer: Trainer, pending: Path, path: Path) -> None:
    if trainer.rank == 0:
        pending.replace(path)
    distributed.barrier()
    trainer.last_good_checkpoint = path


def training_state(trainer: Trainer) -> dict:
    """Everything a resumed run needs, and the record of how it was trained so far."""
    if trainer.segment is not None:
        records.close_segment(trainer.segment, trainer.step,
                              time.perf_counter() - trainer.segment_clock)
    return {
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler else None,
        "scaler": trainer.scaler.state_dict(),
        "step": trainer.step,
        "history": asdict(trainer.history),
        "hooks": [hook.state_dict() for hook in trainer.hooks],
        "config": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in asdict(trainer.config).items()},
        "torch_rng": torch.get_rng_state(),
        "record": trainer.record,
    }


def save(trainer: Trainer, path: str | Path) -> Path:
    """Write the full training state atomically (a crash never leaves a half file)."""
    path = Path(path)
    if trainer.rank == 0:  # one writer; every rank continues only once the file is complete
        atomic_save(training_state(trainer), path)
    distributed.barrier()
    trainer.last_good_checkpoint = path
    return path


def load(trainer: Trainer, path: str | Path, overrides: Sequence[str] = ()) -> None:
    """Continue exactly where the checkpoint stopped, or refuse and say why.

    The checkpoint's settings must equal this trainer's, except the run length and
    bookkeeping (``iterations``, logging, checkpoint and validation intervals, device).
    ``overrides`` names settings whose new value is kept on purpose (e.g. ``["lr"]`` after a
    divergence); the optimiser and scheduler types cannot change. The record must agree too:
    the same model class and hook settings (``"hooks"`` overrides) and the same sr_lib code
    (``"code"`` overrides; a checkpoint without a record counts as other code).
    """
    path = Path(path)
    restart = ("delete it, or start afresh (fit(resume=False); --restart on the command "
               "line)")
    try:
        state = torch.load(path, map_location=trainer.device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, empty, text or foreign files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise SRLibError(f"cannot resume from {path}: not a readable sr_lib checkpoint "
                         f"({type(exc).__name__}: {first}); {restart}") from None
    needed = {"model", "optimizer", "step", "config", "history"}
    if not isinstance(state, dict) or not needed <= set(state):
        raise SRLibError(f"cannot resume from {path}: it is not an sr_lib training "
                         f"checkpoint (a weights file?); {restart}")
    unknown = sorted(set(overrides) - set(asdict(trainer.config)) - RECORD_OVERRIDES)
    if unknown:
        raise SRLibError(f"cannot override {unknown}: not training settings (settings: "
                         f"{', '.join(sorted(asdict(trainer.config)))}; and "
                         f"{', '.join(sorted(RECORD_OVERRIDES))})")
    diffs = config_differences(trainer, state["config"])
    fixed = sorted(k for k in diffs if k in NEVER_OVERRIDE)
    blocked = {k: v for k, v in diffs.items() if k not in overrides or k in fixed}
    if blocked:
        listed = [f"{k}: {old!r} in the checkpoint, {new!r} now"
                  for k, (old, new) in blocked.items()]
        how = ("" if fixed else " or keep a new value on purpose with --override KEY "
               "(fit(overrides=[...]) in Python)")
        raise ResumeRefused(f"cannot resume from {path}: the settings differ "
                            f"({'; '.join(listed)}). Rerun with the checkpoint's settings, "
                            f"start afresh with --restart{how}", listed)
    stored = state.get("record")
    kept = [d for d in records.differences(stored, trainer.record, config=False)
            if d.split(":")[0].split()[0] not in overrides]
    if kept:
        raise ResumeRefused(f"cannot resume from {path}: {'; '.join(kept)}. Retrain it "
                            f"({restart}), or keep it on purpose with --override code / "
                            "--override hooks (fit(overrides=[...]) in Python)", kept)
    try:
        trainer.model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise SRLibError(f"cannot resume from {path}: it holds a different model ({first}); "
                         f"use another output folder, or {restart}") from None
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state["scheduler"] is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.scaler.load_state_dict(state["scaler"])
    trainer.step = int(state["step"])
    trainer.history = type(trainer.history)(**state["history"])
    if stored is not None:  # the steps and samples so far; this run's settings and code
        trainer.record = {**stored, "settings": trainer.record["settings"],
                          "settings_digest": trainer.record["settings_digest"],
                          "code": trainer.record["code"],
                          "code_digest": trainer.record["code_digest"]}
        trainer.resumed_with = sorted(set(overrides))
    for hook, hs in zip(trainer.hooks, state["hooks"]):
        hook.load_state_dict(hs)
    torch.set_rng_state(state["torch_rng"].cpu())
    trainer.last_good_checkpoint = Path(path)
    if "lr" in diffs:  # kept on purpose: the new rate replaces the old one from here on
        for group in trainer.optimizer.param_groups:
            group["lr"] = group["initial_lr"] = trainer.config.lr
        if trainer.scheduler is not None and hasattr(trainer.scheduler, "base_lrs"):
            trainer.scheduler.base_lrs = [trainer.config.lr] * len(trainer.optimizer.param_groups)
    if isinstance(trainer.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and (
            trainer.scheduler.T_max != trainer.config.iterations or "lr" in diffs):
        restretch_cosine(trainer)


def config_differences(trainer: Trainer, stored: dict) -> dict:
    now = {k: (list(v) if isinstance(v, tuple) else v)
           for k, v in asdict(trainer.config).items()}
    return {k: (stored[k], now[k]) for k in now
            if k in stored and k not in RESUME_FREE and stored[k] != now[k]}


def restretch_cosine(trainer: Trainer) -> None:
    """A resumed cosine run whose length changed follows the cosine of its new length from
    the current step, i.e. the rate a run planned that long would have now, and ends at
    ``min_lr`` (torch's own recursion would keep the old period and let the rate climb back
    up after the old end)."""
    sched, c = trainer.scheduler, trainer.config
    sched.T_max = c.iterations
    for group, base in zip(trainer.optimizer.param_groups, sched.base_lrs):
        group["lr"] = c.min_lr + (base - c.min_lr) * (
            1 + math.cos(math.pi * min(trainer.step, c.iterations) / c.iterations)) / 2
    sched.last_epoch = trainer.step
    sched._last_lr = [g["lr"] for g in trainer.optimizer.param_groups]
