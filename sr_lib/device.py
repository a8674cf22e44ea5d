"""Picking the device once (cuda, then mps, then cpu) and seeding everything."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, or the best available: cuda, then mps, then cpu.

    A device that this machine does not have is an error that says what to use instead."""
    if device is not None:
        from .errors import SRLibError

        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError):
            raise SRLibError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise SRLibError(f"device {device!r} asked for, but this torch ({torch.__version__}) "
                             "sees no CUDA GPU; use --device cpu, or leave --device out to pick "
                             "the best available")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SRLibError(f"device {device!r} asked for, but only "
                             f"{torch.cuda.device_count()} CUDA device(s) exist")
        if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                      and torch.backends.mps.is_available()):
            raise SRLibError("device 'mps' asked for, but Apple's Metal backend is not available "
                             "here; use --device cpu")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def hardware_summary(device: str | torch.device | None = None) -> str:
    """One line naming the device that runs the code (GPU model or CPU and thread count)."""
    dev = pick_device(device)
    if dev.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    return (f"{dev.type.upper()} {cpu}, {torch.get_num_threads()} torch threads, "
            f"{os.cpu_count()} logical cores")
