"""Does the Trainer cost anything over a hand-written loop? Runs the same training (model, data,
optimiser, loss, batches) through ``Trainer.fit`` and through a plain PyTorch loop, interleaved
in one process, several times, and prints the median and spread of each and their ratio, plus
whether both end with bit-identical weights.

    python benchmarks/trainer_overhead.py [--device cuda] [--model edsr-baseline] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import header, interleaved, machine_load, report, spread, table

from sr_lib.datasets import SRDataset
from sr_lib.device import pick_device
from sr_lib.models import build
from sr_lib.train import TrainConfig, Trainer, pixel_loss


def images() -> list:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(96, 96, 3, generator=g) * 255).to(torch.uint8).numpy() for _ in range(4)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--model", default="edsr-baseline")
    parser.add_argument("--blocks", type=int, default=4, help="n_resblocks (EDSR)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per run")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = pick_device(args.device)
    data = SRDataset(images(), 2)
    options = {"n_resblocks": args.blocks} if args.model.startswith("edsr") else {}
    final: dict[str, dict] = {}

    def trainer_run() -> None:
        torch.manual_seed(0)
        model = build(args.model, scale=2, **options)
        cfg = TrainConfig(iterations=args.steps, batch_size=args.batch, lr_patch=args.patch,
                          device=str(device), progress=False, prefetch=0)
        Trainer(model, data, cfg).fit()
        final["trainer"] = model.state_dict()

    def plain_run() -> None:
        torch.manual_seed(0)
        model = build(args.model, scale=2, **options).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        for step in range(args.steps):
            batch = data.batch(args.batch, args.patch, step, 0, True)
            lr, hr = batch["lr"].to(device), batch["hr"].to(device)
            loss = pixel_loss(model(lr), hr)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        final["plain"] = model.state_dict()

    times = interleaved({"Trainer.fit": trainer_run, "plain loop": plain_run}, args.repeats,
                        device)
    same = all(torch.equal(a, b) for a, b in zip(final["trainer"].values(),
                                                  final["plain"].values()))
    ratios = [a / b for a, b in zip(times["Trainer.fit"], times["plain loop"])]
    lines = [header(device), "", machine_load(), "",
             f"{args.model} (n_resblocks {args.blocks}), {args.steps} steps of batch "
             f"{args.batch}, LR patch {args.patch}, {args.repeats} interleaved repeats"]
    lines += table(["run", "ms per run: median (IQR)"],
                   [[name, spread(values)] for name, values in times.items()])
    lines += [f"ratio Trainer / plain, per repeat: median {statistics.median(ratios):.3f}, "
                  f"range {min(ratios):.3f}-{max(ratios):.3f}", "",
              f"final weights bit-identical: {same}"]
    report(lines, args.out)


if __name__ == "__main__":
    main()
