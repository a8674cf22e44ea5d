"""Stopping a training run cleanly when it is asked to (Ctrl-C, a kernel interrupt, SIGTERM).

Colab, Slurm and Kubernetes end a job with SIGTERM and a grace period; a notebook's "interrupt"
button and Ctrl-C send SIGINT. Either would otherwise end training between two checkpoints and
lose up to a whole checkpoint interval. While :meth:`Trainer.fit` runs, :class:`StopRequests`
turns the first such signal into a request: the trainer finishes the step it is on, writes a
checkpoint at that step and then raises :class:`TrainingInterrupted` (SIGINT, a
``KeyboardInterrupt``) or :class:`TrainingTerminated` (SIGTERM, a ``SystemExit`` with status
143). A second signal stops at once, as it would without sr_lib.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path


def _message(signum: int, step: int, checkpoint: Path | None) -> str:
    name = signal.Signals(signum).name
    if checkpoint is None:
        return (f"{name} at step {step:,}: stopped; nothing was saved (no ckpt_path is set, so "
                "this run cannot be resumed)")
    return (f"{name} at step {step:,}: stopped after writing a checkpoint at this step to "
            f"{checkpoint}; run the same training again to resume from it")


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C, a notebook's interrupt) stopped training after a checkpoint was saved."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        super().__init__(_message(signum, step, checkpoint))
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


class TrainingTerminated(SystemExit):
    """SIGTERM stopped training after a checkpoint was saved; exits with status 128 + 15."""

    def __init__(self, signum: int, step: int, checkpoint: Path | None) -> None:
        super().__init__(128 + signum)
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        self.message = _message(signum, step, checkpoint)

    def __str__(self) -> str:
        return self.message


def stop_error(signum: int, step: int, checkpoint: Path | None) -> BaseException:
    """The exception that ends a run stopped by ``signum``."""
    kind = TrainingTerminated if signum == signal.SIGTERM else TrainingInterrupted
    return kind(signum, step, checkpoint)


class StopRequests:
    """A context manager: while inside, SIGINT and SIGTERM set :attr:`signum` instead of
    stopping the process; a second signal raises ``KeyboardInterrupt`` at once. Outside the
    main thread (where Python cannot install handlers) it does nothing."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # asked twice: do not wait for the step to end
            self._restore()
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received twice")
        self.signum = signum

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                previous = signal.getsignal(sig)  # None: set outside Python
                self._previous[sig] = signal.SIG_DFL if previous is None else previous
                signal.signal(sig, self._handle)
        return self

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def __exit__(self, *exc) -> None:
        self._restore()
