"""Does a pruned EDSR-baseline run faster? Times the forward pass of the networks that SRP's
Table 1 ratios leave (16 blocks, the kept width inside, the dense width at the tail) against
the dense one, with oneDNN on and off on a CPU.

    python benchmarks/pruned_widths.py [--device cuda] [--feats 32] [--size 90 160] [--out FILE]

Chapter 3 measured each width once, inside the notebook; its ratio-0.1 network ran slower than
the dense one. Here every width is timed in interleaved rounds (so drift in clock or load hits
all alike) and reported as median and interquartile range, which says whether such a gap is
larger than the run-to-run spread. Multiply-adds fall with the square of the kept width; the
last columns say how much of that the wall clock sees.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import header, interleaved, machine_load, report, spread, table

from sr_lib.complexity import count_macs
from sr_lib.device import pick_device
from sr_lib.models import build
from sr_lib.pruning import n_pruned

RATIOS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--feats", type=int, default=32, help="dense width (the book: 32)")
    parser.add_argument("--size", type=int, nargs=2, default=(90, 160), help="LR input H W")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    x = torch.rand(1, 3, *args.size, device=device)
    widths = {r: args.feats - n_pruned(args.feats, r) for r in RATIOS}
    models = {r: build("edsr-baseline", scale=2, n_feats=w, tail_feats=args.feats).to(device).eval()
              for r, w in widths.items()}
    out_size = (2 * args.size[0], 2 * args.size[1])
    macs = {r: count_macs(m, output_size=out_size) for r, m in models.items()}
    settings = (True, False) if device.type == "cpu" else (None,)
    times: dict[object, dict[float, list[float]]] = {}
    was_enabled = torch.backends.mkldnn.enabled
    for onednn in settings:
        if onednn is not None:
            torch.backends.mkldnn.enabled = onednn
        with torch.no_grad():
            times[onednn] = interleaved({r: (lambda m=m: m(x)) for r, m in models.items()},
                                        args.repeats, device, warmup=2)
    torch.backends.mkldnn.enabled = was_enabled
    head = ["ratio", "kept width", "MACs kept"]
    for onednn in settings:
        tag = "" if onednn is None else f", oneDNN {'on' if onednn else 'off'}"
        head += [f"ms{tag}: median (IQR)", f"latency kept{tag}"]
    rows = []
    for r in RATIOS:
        row: list[object] = [r, widths[r], f"{macs[r] / macs[0.0]:.3f}"]
        for onednn in settings:
            t = times[onednn]
            row += [spread(t[r]), f"{statistics.median(t[r]) / statistics.median(t[0.0]):.2f}"]
        rows.append(row)
    lines = [header(device), machine_load(),
             f"EDSR-baseline, 16 blocks, dense width {args.feats}, x2, LR input "
             f"{args.size[0]}x{args.size[1]}, batch 1, {args.repeats} interleaved rounds"]
    report(lines + table(head, rows), args.out)


if __name__ == "__main__":
    main()
