"""Is LR generation a bottleneck? Times sr_lib's MATLAB-bicubic degradation of HR patch batches
against one training step of EDSR-baseline, and reports the memory of the cached 291 set.

    python benchmarks/lr_generation.py [--device cuda] [--out FILE]

Prints a small table; with --out the same text is written to FILE (the book includes it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from common import report, synchronizer

from sr_lib import catalog
from sr_lib.degrade import Degradation
from sr_lib.device import hardware_summary, pick_device
from sr_lib.models import build
from sr_lib.train import TrainConfig, Trainer


def timed(fn, device, repeats=5):
    sync = synchronizer(device)
    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--out")
    args = parser.parse_args()
    device = pick_device(args.device)
    lines = [f"hardware: {hardware_summary(device)}; torch {torch.__version__}; "
             f"{platform.python_version()}", ""]
    lines.append("| what | batch | HR patch | median ms |")
    lines.append("|---|---|---|---|")
    for scale, batch, hr_patch in [(2, 16, 96), (4, 16, 192), (4, 64, 192)]:
        hr = torch.rand(batch, 3, hr_patch, hr_patch, device=device)
        for kind in ("BI", "BD"):
            deg = Degradation(kind, scale)
            ms = timed(lambda deg=deg, hr=hr: deg(hr), device)
            lines.append(f"| {kind} x{scale} degradation | {batch} | {hr_patch} | {ms:.2f} |")
    model = build("edsr-baseline", scale=2).to(device)
    hr = torch.rand(16, 3, 96, 96, device=device)
    lr = Degradation("BI", 2)(hr)
    opt = torch.optim.Adam(model.parameters(), 1e-4)

    def step():
        opt.zero_grad()
        (model(lr) - hr).abs().mean().backward()
        opt.step()

    ms = timed(step, device, repeats=3)
    lines.append(f"| EDSR-baseline x2 training step (for scale) | 16 | 96 | {ms:.2f} |")
    root = catalog.data_root()
    if root is not None:
        try:
            t0 = time.perf_counter()
            ds = catalog.load("291", 2)
            secs = time.perf_counter() - t0
            n_patch = ds.patches_per_epoch(48)
            lines += ["", f"291 set cached at x2: {len(ds)} images, {ds.nbytes() / 1e6:.0f} MB "
                      f"(HR + LR, uint8), built in {secs:.1f} s; {n_patch} distinct 48x48 LR "
                      f"patches. Patches are cut on the fly, so memory does not grow with them."]
            cfg = TrainConfig(batch_size=16, lr_patch=48, progress=False)
            t = Trainer(build("srcnn", scale=2, in_channels=3), ds, cfg)
            ms = timed(lambda: t.next_batch(), device)
            lines.append(f"Drawing one batch of 16 patch pairs (with augmentation): {ms:.2f} ms.")
        except catalog.DatasetNotFoundError as exc:
            lines += ["", f"(291 not measured: {exc})"]
    lines.append(f"\nthreads: {torch.get_num_threads()}, cores: {os.cpu_count()}")
    report(lines, args.out)


if __name__ == "__main__":
    main()
