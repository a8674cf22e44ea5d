"""What every benchmark script shares: a header naming the hardware, device-synchronised
timing, and printing the result (and saving it for the book with --out)."""

from __future__ import annotations

import os
import platform
import statistics
import time
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


def table(head: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table (blank lines around it), so the book renders results as tables and a
    terminal still reads them."""
    lines = ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").strip() for c in row) + " |"
              for row in rows]
    return lines + [""]


def machine_load() -> str:
    """The 1-minute load average against the core count: timings under load are not figures."""
    try:
        one = os.getloadavg()[0]
    except OSError:  # not on every platform
        return "load: unknown"
    return f"load average {one:.2f} on {os.cpu_count()} cores"


def interleaved(cases: dict[str, Callable[[], object]], repeats: int, device: torch.device,
                warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each case, measured A, B, A, B, ... in one process, so drift in
    clock speed or machine load hits every case alike; ``warmup`` untimed rounds first."""
    sync = synchronizer(device)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(warmup + repeats):
        for name, fn in cases.items():
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - t0)
    return times


def spread(values: list[float], unit: float = 1e3) -> str:
    """Median and the range of the middle half (interquartile), in ms by default."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[1] * unit:.2f} (IQR {q[0] * unit:.2f}-{q[2] * unit:.2f})"


def peak_memory(device: torch.device) -> str:
    """Peak memory so far: allocated tensors on CUDA, the process's resident set elsewhere."""
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB (CUDA tensors)"
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    return f"{peak_mb:.0f} MiB (process peak RSS)"
