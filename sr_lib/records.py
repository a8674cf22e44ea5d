"""Where, when and with what a result was trained: the record every checkpoint carries.

A chapter page is only honest about its own run if each trained network can say which code,
which settings and which machine produced it. Every checkpoint the trainer writes holds a
record (plain types, so ``torch.load(weights_only=True)`` reads it):

* ``settings`` and their digest: the training settings that change the result (the trainer's
  configuration without its bookkeeping, the model's class and the hooks' settings);
* ``code``: a digest of every sr_lib source file, so a resumed run can name the files that
  changed since the checkpoint was written;
* ``segments``: one entry per stretch of training (a run, or a resumed continuation of it) with
  its commit, run id, hardware, start date, wall time and the steps it covered;
* ``steps``, ``batches``, ``samples`` and ``samples_per_scale``: the optimiser steps (several
  a batch under truncated back-propagation), the batches and the training patches seen, per
  scale where one network trains on several.

:func:`describe` turns a record into the sentence a chapter prints ("trained in this run", or
which earlier run trained which steps). The run id is ``SRBOOK_RUN`` when set (so the processes
of one chapter run, e.g. seeds trained in parallel by ``scripts/book_on_gpu.sh``, share it),
else one id per Python process.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import uuid
from functools import lru_cache
from pathlib import Path

import torch

PACKAGE = Path(__file__).resolve().parent
_PROCESS_RUN = uuid.uuid4().hex[:12]


def run_id() -> str:
    """This run's id: ``SRBOOK_RUN`` when set, else one per process."""
    return os.environ.get("SRBOOK_RUN") or _PROCESS_RUN


def run_commit() -> str:
    """The sr_lib commit this code runs from ('abc123', '+dirty' with uncommitted library
    changes), or '' outside a git checkout: banners, stamps and records name it.
    ``SRBOOK_COMMIT``, set by whoever sends a committed tree to another machine, wins: a copy
    may carry an older ``.git`` than its files (seen on a remote GPU machine)."""
    if os.environ.get("SRBOOK_COMMIT"):
        return os.environ["SRBOOK_COMMIT"]
    root = PACKAGE.parent
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "sr_lib"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}+dirty" if sha and dirty else sha


@lru_cache(maxsize=1)
def code_files() -> dict[str, str]:
    """{path inside sr_lib: short sha256} for every source file the library runs."""
    return {str(p.relative_to(PACKAGE)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in sorted(PACKAGE.rglob("*.py"))}


def digest(obj) -> str:
    """A short, order-independent digest of plain data (settings, file tables)."""
    text = json.dumps(obj, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_digest() -> str:
    return digest(code_files())


def _plain(value):
    """Settings as JSON-like plain data (tuples as lists; anything else by its repr)."""
    if value is None:
        return None
    for kind in (bool, int, float, str):  # exact built-in types: weights_only loads nothing else
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def hook_attributes(hook) -> dict:
    """A hook's public attributes of plain types (numbers, strings, tuples): what configures
    most hooks (the default of ``Hook.settings``)."""
    return {k: _plain(v) for k, v in sorted(vars(hook).items())
            if not k.startswith("_") and isinstance(v, (bool, int, float, str, tuple))}


def hook_settings(hook) -> dict:
    """A hook's ``settings()`` when it has one (every :class:`~sr_lib.train.Hook` does), else
    its plain public attributes."""
    own = getattr(hook, "settings", None)
    return _plain(own()) if callable(own) else hook_attributes(hook)


def settings(config: dict, model: torch.nn.Module, hooks) -> dict:
    """The settings that determine a training result (``config`` without bookkeeping)."""
    return {"config": _plain(config), "model": type(model).__name__,
            "hooks": [{"class": type(h).__name__, **hook_settings(h)} for h in hooks]}


def new_record(settings_: dict) -> dict:
    return {"settings": settings_, "settings_digest": digest(settings_),
            "code": code_files(), "code_digest": code_digest(),
            "steps": 0, "batches": 0, "samples": 0, "samples_per_scale": {}, "segments": []}


def open_segment(record: dict, hardware: str, step: int) -> dict:
    """Start the stretch of training this process does (appended to ``record``)."""
    segment = {"run": run_id(), "commit": run_commit(), "hardware": hardware,
               "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                   timespec="seconds"),
               "first_step": step, "last_step": step, "seconds": 0.0,
               "torch": str(torch.__version__)}
    record["segments"].append(segment)
    return segment


def close_segment(segment: dict, step: int, seconds: float) -> None:
    """Bring this process's segment up to ``step`` and ``seconds`` of wall time (called
    whenever a checkpoint is written)."""
    segment["last_step"], segment["seconds"] = step, float(seconds)


def count_batch(record: dict, batch_size: int, scale, steps: int = 1) -> None:
    """One batch of ``batch_size`` patches of ``scale`` (None when unknown), on which the
    optimiser stepped ``steps`` times (truncated back-propagation steps several times)."""
    record["steps"] += int(steps)
    record["batches"] = record.get("batches", 0) + 1
    record["samples"] += batch_size
    if scale is not None:
        key = str(int(scale))
        per = record["samples_per_scale"]
        per[key] = per.get(key, 0) + batch_size


def differences(stored: dict | None, now: dict, config: bool = True) -> list[str]:
    """Why a checkpoint's record does not match the run about to resume it ([] if it does).
    Each line starts with what differs: ``setting``, ``model``, ``hooks`` or ``code``
    (``config=False`` leaves the trainer settings to the caller)."""
    if stored is None:
        return ["code: the checkpoint has no record (it predates sr_lib's records)"]
    out = []
    old, new = stored["settings"], now["settings"]
    if stored["settings_digest"] != now["settings_digest"] and config:
        for key in sorted(set(old["config"]) | set(new["config"])):
            a, b = old["config"].get(key), new["config"].get(key)
            if a != b:
                out.append(f"setting {key}: {a!r} in the checkpoint, {b!r} now")
    if stored["settings_digest"] != now["settings_digest"]:
        if old["model"] != new["model"]:
            out.append(f"model: {old['model']} in the checkpoint, {new['model']} now")
        if old["hooks"] != new["hooks"]:
            out.append(f"hooks: {old['hooks']} in the checkpoint, {new['hooks']} now")
    if stored["code_digest"] != now["code_digest"]:
        a, b = stored["code"], now["code"]
        changed = sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))
        out.append(f"code: sr_lib changed since it was written ({', '.join(changed)})")
    return out


def minutes(record: dict | None) -> float:
    """The wall time a record's segments spent training, in minutes (0 without a record)."""
    return sum(s["seconds"] for s in (record or {}).get("segments", [])) / 60


def _when(segment: dict) -> str:
    return segment["started"][:10]


def describe(record: dict | None, this_run: str | None = None) -> str:
    """Where and when a result was trained, in one sentence; "trained in this run" only when
    every step was trained by this run."""
    if not record or not record.get("segments"):
        return "no training record (trained before sr_lib kept records)"
    this_run = this_run or run_id()
    segs = record["segments"]
    total = minutes(record) * 60
    budget = f"{record['steps']:,} steps, {record['samples']:,} samples"
    batches = record.get("batches", record["steps"])
    if batches != record["steps"]:
        budget = (f"{record['steps']:,} optimiser steps on {batches:,} batches, "
                  f"{record['samples']:,} samples")
    if all(s["run"] == this_run for s in segs):
        s = segs[-1]
        return (f"trained in this run ({budget}, {total / 60:.1f} min on {s['hardware']}, "
                f"{_when(segs[0])}, commit {s['commit'] or 'unknown'})")
    parts = []
    for s in segs:
        where = "this run" if s["run"] == this_run else (
            f"run {s['run']} of {_when(s)} (commit {s['commit'] or 'unknown'})")
        parts.append(f"batches {s['first_step']:,}-{s['last_step']:,} in {where} on "
                     f"{s['hardware']}, {s['seconds'] / 60:.1f} min")
    verb = "resumed from an earlier run" if any(s["run"] == this_run for s in segs) else (
        "loaded from an earlier run, not trained in this one")
    return f"{verb} ({budget}): " + "; ".join(parts)


def trained_here(record: dict | None, this_run: str | None = None) -> bool:
    """True when every step of the record was trained by this run."""
    this_run = this_run or run_id()
    return bool(record and record.get("segments")) and all(
        s["run"] == this_run for s in record["segments"])
