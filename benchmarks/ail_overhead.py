"""What does adaptive importance learning cost per training step? Times one step of a VDSR
student trained plainly, with AIL in round 0 (a teacher forward per batch), with AIL in a later
round (teacher forward plus a forward of the frozen previous student), and with distillation.

    python benchmarks/ail_overhead.py [--device cuda] [--width 13] [--batch 16] [--out FILE]

The teacher (VDSR, 64 maps) is 24 times the size of VDSR-f13, so on a CPU its forward pass,
not the student's step, sets the price of AIL's importance. sr_lib computes the teacher's
importance per batch so that patches can be augmented on the fly; with a fixed patch set (the
released code's HDF5 file) it could be computed once. Prints a small table; with --out the same
text is written to FILE.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import header, report, synchronizer

from sr_lib.complexity import count_params
from sr_lib.device import pick_device
from sr_lib.importance import AdaptiveImportance, Distillation
from sr_lib.models import build
from sr_lib.train import Hook, TrainConfig, Trainer


class RandomPatches:
    """Random Y patches with the ``batch`` method the trainer calls (no data needed)."""

    def __init__(self, scale: int) -> None:
        self.scale = scale

    def batch(self, batch_size: int, lr_patch: int, step: int, seed: int, augment: bool = True
              ) -> dict:
        g = torch.Generator().manual_seed(seed * 7919 + step)
        hr = torch.rand(batch_size, 1, lr_patch * self.scale, lr_patch * self.scale, generator=g)
        lr = hr[..., :: self.scale, :: self.scale].contiguous()
        return {"lr": lr, "hr": hr, "scale": self.scale}


def median_step_ms(width: int, hooks: list[Hook], args, device: torch.device,
                   skip: int = 0) -> float:
    """Median wall time of a training step, after ``skip`` untimed steps (to reach a round)."""
    torch.manual_seed(0)
    model = build("vdsr", scale=2, width=width)
    cfg = TrainConfig(iterations=skip + args.repeats + 1, batch_size=args.batch,
                      lr_patch=args.lr_patch, loss="l2", reduction="sum", optimizer="sgd",
                      lr=0.1, grad_clip=0.4, device=str(device), progress=False)
    trainer = Trainer(model, RandomPatches(2), cfg, hooks)
    sync = synchronizer(device)
    times = []
    for i in range(skip + args.repeats + 1):
        batch = trainer.next_batch()
        sync()
        t0 = time.perf_counter()
        trainer.train_step(batch)
        sync()
        if i > skip:  # the first timed step warms up
            times.append(time.perf_counter() - t0)
        trainer.step += 1
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--width", type=int, default=13)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr-patch", type=int, default=20, help="LR patch side (x2: HR 40)")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = pick_device(args.device)
    teacher = build("vdsr", scale=2).to(device)
    student_params = count_params(build("vdsr", scale=2, width=args.width))
    lines = [header(device),
             f"student VDSR-f{args.width} ({student_params:,} parameters), teacher VDSR "
             f"({count_params(teacher):,}); x2, batch {args.batch}, HR patches "
             f"{2 * args.lr_patch}x{2 * args.lr_patch}, median of {args.repeats} steps", "",
             "| training step | ms | x plain |", "|---|---|---|"]
    rounds = 2
    cases = [
        ("plain (summed L2)", lambda: [], 0),
        ("+ uniform weights (the control)", lambda: [AdaptiveImportance(None, rounds, "one")], 0),
        ("+ AIL, round 0 (teacher forward)", lambda: [AdaptiveImportance(teacher, rounds)], 0),
        # rounds are equal halves of the run, so skipping past half reaches round 1
        ("+ AIL, round >= 1 (teacher + previous student)",
         lambda: [AdaptiveImportance(teacher, rounds)], args.repeats + 2),
        ("+ distillation, beta 0.1 (teacher forward)", lambda: [Distillation(teacher, 0.1)], 0),
    ]
    plain = None
    for name, make_hooks, skip in cases:
        ms = median_step_ms(args.width, make_hooks(), args, device, skip=skip)
        plain = plain or ms
        lines.append(f"| {name} | {ms:.1f} | {ms / plain:.2f} |")
    report(lines, args.out)


if __name__ == "__main__":
    main()
