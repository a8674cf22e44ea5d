"""Tiny mode: ``SR_LIB_TINY=1`` shrinks every run so that examples can be checked in seconds.

The README's examples (and the test that runs them, ``tests/test_readme.py``) print the paper-
scale settings a reader should use. With ``SR_LIB_TINY=1`` in the environment the same code
runs at a toy scale: every :class:`~sr_lib.train.Trainer` run is capped at ``ITERATIONS``
iterations of ``BATCH`` patches of at most ``PATCH`` LR pixels (no intermediate checkpoints or
validations), every registered dataset at its first ``IMAGES`` images, and
:func:`~sr_lib.pruning.greedy_select` picks each layer's channels in one gradient step,
without the weight updates between steps. Nothing else
changes, so a failure in tiny mode is a real failure of the example. Never set it for results.
"""

from __future__ import annotations

import dataclasses
import os

ENV = "SR_LIB_TINY"
ITERATIONS, BATCH, PATCH, IMAGES = 2, 2, 8, 3


def active() -> bool:
    """Whether tiny mode is on (``SR_LIB_TINY`` set to anything but '' or '0')."""
    return os.environ.get(ENV, "") not in ("", "0")


def config(c):
    """A :class:`~sr_lib.train.TrainConfig` capped to tiny mode (unchanged when it is off)."""
    if not active():
        return c
    return dataclasses.replace(
        c, iterations=min(c.iterations, ITERATIONS), batch_size=min(c.batch_size, BATCH),
        lr_patch=min(c.lr_patch, PATCH), ckpt_every=0, val_every=0)


def patch(lr_patch: int) -> int:
    return min(lr_patch, PATCH) if active() else lr_patch


def files(found: list) -> list:
    return found[:IMAGES] if active() else found


def greedy(per_step: int, batch_size: int, update_steps: int) -> tuple[int, int, int]:
    """Channel selection in one gradient per layer, on tiny batches, without updates."""
    if not active():
        return per_step, batch_size, update_steps
    return 1 << 30, min(batch_size, BATCH), 0
