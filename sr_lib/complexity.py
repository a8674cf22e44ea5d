"""Model complexity as the seed papers report it: parameters, multiply-adds, activation memory,
latency (one model, or several timed in interleaved rounds).

Multiply-adds (MACs) are counted by ``torch.utils.flop_counter`` (FLOPs / 2), for one image of
a given **LR input** size (DRN quotes 96x96 input) or **HR output** size (SRP quotes 1280x720
output, i.e. an LR input of 1280/s x 720/s). Pixel shuffle and activations count zero; the
bicubic resize inside pre-upsampling models (SRCNN, VDSR) is counted as the matrix products
sr_lib implements it with.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Hashable, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .errors import SRLibError


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers such as the RGB mean shift are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _input_size(model: nn.Module, input_size, output_size) -> tuple[int, int]:
    if (input_size is None) == (output_size is None):
        raise SRLibError("give exactly one of input_size=(h, w) or output_size=(h, w)")
    if input_size is not None:
        return int(input_size[0]), int(input_size[1])
    s = int(model.scale)
    if output_size[0] % s or output_size[1] % s:
        raise SRLibError(f"output size {output_size} is not a multiple of the scale {s}")
    return int(output_size[0]) // s, int(output_size[1]) // s


def _probe(model: nn.Module, input_size, output_size) -> torch.Tensor:
    """A zero LR image of the requested size on the model's device."""
    h, w = _input_size(model, input_size, output_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    return torch.zeros(1, getattr(model, "in_channels", 3), h, w, device=device)


@contextmanager
def _evaluating(model: nn.Module):
    """Eval mode for one measurement, restoring the caller's train/eval state afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def count_macs(
    model: nn.Module,
    input_size: tuple[int, int] | None = None,
    output_size: tuple[int, int] | None = None,
) -> int:
    """Multiply-adds of one forward pass on a single image.

    The pass runs on a ``meta``-device copy (shapes only, no arithmetic), so counting a large
    model at 1280x720 takes milliseconds; models whose forward needs real tensors (e.g. MATLAB
    bicubic resizing with CPU-built weights) fall back to a real pass."""
    x = _probe(model, input_size, output_size)
    try:
        meta = copy.deepcopy(model).to("meta")
        counter = FlopCounterMode(display=False)
        with _evaluating(meta), counter:
            meta(x.to("meta"))
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        counter = FlopCounterMode(display=False)
        with _evaluating(model), counter:
            model(x)
    return counter.get_total_flops() // 2


@torch.no_grad()
def activation_bytes(
    model: nn.Module,
    input_size: tuple[int, int] | None = None,
    output_size: tuple[int, int] | None = None,
) -> int:
    """Bytes of all leaf-module outputs in one forward pass on a single image: the feature maps
    training keeps for the backward pass (a proxy for training memory per image; in-place ops
    and framework overhead are not modelled). Pre- vs post-upsampling differ here most."""
    x = _probe(model, input_size, output_size)
    total = 0

    def count(_module, _inputs, output):
        nonlocal total
        if torch.is_tensor(output):
            total += output.numel() * output.element_size()

    handles = [m.register_forward_hook(count) for m in model.modules()
               if not list(m.children())]
    try:
        with _evaluating(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return total


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    input_size: tuple[int, int] = (64, 64),
    device: str | torch.device = "cpu",
    warmup: int = 2,
    repeats: int = 7,
    threads: int | None = None,
    batch: int = 1,
) -> dict:
    """Median wall time of a forward pass (ms), after ``warmup`` runs; CUDA is synchronised.

    Returns ``{'median_ms', 'min_ms', 'repeats', 'threads', 'device', 'input_size'}`` so the
    figure always travels with its conditions.
    """
    device = torch.device(device)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        model = model.to(device).eval()
        x = torch.rand(batch, getattr(model, "in_channels", 3), *input_size, device=device)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        for _ in range(warmup):
            model(x)
        sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            sync()
            times.append((time.perf_counter() - t0) * 1000)
        return {
            "median_ms": statistics.median(times), "min_ms": min(times), "repeats": repeats,
            "threads": torch.get_num_threads(), "device": str(device),
            "input_size": tuple(input_size),
        }
    finally:
        torch.set_num_threads(old_threads)


def peak_memory(model: nn.Module, input_size: tuple[int, int] = (64, 64),
                device: str | torch.device = "cpu") -> int:
    """Peak bytes of the tensors one forward pass allocates (the weights not included): on
    CUDA from the allocator's peak, on the CPU by replaying the allocations and frees that
    ``torch.profiler`` records. The literature's "memory" column for a network at a size."""
    device = torch.device(device)
    model = model.to(device)
    x = _probe(model, input_size, None)
    with torch.no_grad(), _evaluating(model):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            start = torch.cuda.memory_allocated(device)
            torch.cuda.reset_peak_memory_stats(device)
            model(x)
            torch.cuda.synchronize(device)
            return int(torch.cuda.max_memory_allocated(device) - start)
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            model(x)
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage),
                    key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return int(peak)


def cost_row(model: nn.Module, hr_output: tuple[int, int] = (720, 1280),
             lr_input: tuple[int, int] = (256, 256)) -> dict:
    """One model's size columns under both conventions: parameters, and multiply-adds for a
    1280x720 HR output (the SR papers') and for a 256x256 LR input (the NTIRE efficient-SR
    challenges'), with the peak memory of a forward pass at that LR input."""
    return {"params": count_params(model),
            "GMACs (1280x720 out)": count_macs(model, output_size=hr_output) / 1e9,
            "GMACs (256x256 in)": count_macs(model, input_size=lr_input) / 1e9,
            "peak MB (256x256 in)": peak_memory(model, lr_input) / 2**20}
def compare_latency(
    models: Mapping[Hashable, nn.Module],
    input_size: tuple[int, int] = (64, 64),
    repeats: int = 9,
    warmup: int = 2,
    device: str | torch.device = "cpu",
) -> dict[Hashable, dict]:
    """Forward-pass times of several models, measured in interleaved rounds (A, B, C, A, B,
    C, ...) so that drift in clock speed or machine load hits every model alike: per model,
    the median and the interquartile range in ms. Compare models with this, not with
    separate :func:`measure_latency` calls, on a machine you share."""
    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    inputs = {}
    for name, model in models.items():
        model.to(device).eval()
        inputs[name] = torch.rand(1, getattr(model, "in_channels", 3), *input_size,
                                  device=device)
    times: dict[Hashable, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for round_ in range(warmup + repeats):
            for name, model in models.items():
                sync()
                t0 = time.perf_counter()
                model(inputs[name])
                sync()
                if round_ >= warmup:
                    times[name].append((time.perf_counter() - t0) * 1000)
    out = {}
    for name, ms in times.items():
        q1, med, q3 = statistics.quantiles(ms, n=4) if len(ms) > 1 else ms * 3
        out[name] = {"median_ms": med, "q1_ms": q1, "q3_ms": q3, "repeats": repeats,
                     "text": f"{med:.1f} (IQR {q1:.1f}-{q3:.1f})"}
    return out


def summary(
    model: nn.Module, input_size: tuple[int, int] | None = None,
    output_size: tuple[int, int] | None = None,
) -> dict:
    """Parameters and MACs in one dict (with the size convention used)."""
    return {
        "params": count_params(model),
        "macs": count_macs(model, input_size, output_size),
        "input_size": list(_input_size(model, input_size, output_size)),
    }


def per_output_pixel(model: nn.Module, output_size: tuple[int, int] = (48, 48)) -> float:
    """Multiply-adds per HR output pixel: the measure that compares a network run at LR
    resolution with one run at HR resolution (or ``K`` times, like an unrolled model)."""
    return count_macs(model, output_size=output_size) / (output_size[0] * output_size[1])


def closest_size(name: str, target: float, measure: str = "macs",
                 grid: dict[str, Sequence] | None = None, output_size: tuple[int, int] = (48, 48),
                 **fixed) -> tuple[dict, float]:
    """The options of registered model ``name`` from ``grid`` (every combination) whose
    parameters (``measure="params"``) or multiply-adds per output pixel (``"macs"``) come
    closest to ``target``: a baseline sized to the same budget as the model it is set against.
    Returns the options and the value they reach."""
    from itertools import product

    from .models import build

    if measure not in ("macs", "params"):
        raise SRLibError(f"measure must be 'macs' or 'params', got {measure!r}")
    if not grid:
        raise SRLibError("closest_size needs a grid of options to try, e.g. "
                         "{'n_resblocks': [4, 8, 16], 'n_feats': range(8, 257, 8)}")
    best: tuple[float, dict, float] | None = None
    keys = list(grid)
    for values in product(*(grid[k] for k in keys)):
        options = dict(zip(keys, values))
        model = build(name, **fixed, **options)
        value = (count_params(model) if measure == "params"
                 else per_output_pixel(model, output_size))
        gap = abs(value - target) / target
        if best is None or gap < best[0]:
            best = (gap, options, value)
    return best[1], best[2]
