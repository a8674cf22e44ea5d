"""What every benchmark script shares: a header naming the hardware, device-synchronised
timing, and printing the result (and saving it for the book with --out)."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable

import torch

from sr_lib.device import hardware_summary


def header(device: torch.device) -> str:
    """One line saying where the figures below were measured."""
    return (f"hardware: {hardware_summary(device)}; torch {torch.__version__}; "
            f"Python {platform.python_version()}; threads {torch.get_num_threads()}, "
            f"cores {os.cpu_count()}")


def synchronizer(device: torch.device) -> Callable[[], None]:
    """Waits for queued GPU work, so a timer measures the work and not its launch."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def report(lines: list[str], out: str | None) -> None:
    """Print the result; with ``out`` also write it to that file (the book includes it)."""
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
