"""Second load of a dataset from its LR cache against the first (which degrades every image).

    python benchmarks/dataset_cache.py [--data B100] [--scale 4] [--out FILE]

The first load reads the HR images and runs the MATLAB-bicubic degradation, then writes the
cache; the second reads the HR images, checks the cache's checksum, and takes the LR images
from it.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from common import header, report, table

from sr_lib import catalog


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="B100")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = [header(torch.device("cpu")), "", f"{args.data} x{args.scale}, cache in a temporary "
             "folder"]
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        times = []
        for label in ("first load (degrade + write cache)", "second load (cache hit)"):
            t0 = time.perf_counter()
            data = catalog.load(args.data, args.scale, cache_dir=cache)
            times.append(time.perf_counter() - t0)
            rows.append([label, f"{times[-1]:.2f}", len(data)])
    lines += table(["load", "seconds", "images"], rows)
    lines.append(f"speed-up of the second load: {times[0] / times[1]:.1f}x")
    report(lines, args.out)


if __name__ == "__main__":
    main()
