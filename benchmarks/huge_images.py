"""Peak memory of tiled upscaling and scoring of very large images (2000, 4000, 8000 px square).

    python benchmarks/huge_images.py [--sizes 2000 4000 8000] [--tile 256] [--out FILE]

Each measurement runs in a fresh process, so its peak resident memory (ru_maxrss) is its own.
``upscale`` is what ``python -m sr_lib upscale --tile`` does (8-bit tiles written into a uint8
result, then a PNG file written in row blocks); ``score`` is the tiled evaluation's scoring of
an 8-bit SR image against its HR image (``sr_lib.metrics.scores_uint8``, blocks of 64 rows).
The model is bicubic x2: a network adds only its activations for one tile. The input and the
uint8 output alone need 3 N^2 and 12 N^2 bytes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import torch
from common import header, report, table

CHILD = """
import resource, sys, tempfile, time, torch
from sr_lib.evaluate import super_resolve_uint8
from sr_lib.imageio import write_image
from sr_lib.metrics import scores_uint8
from sr_lib.models import build
n, tile, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
img = torch.empty((3, n, n), dtype=torch.uint8)  # a textured test image, built row by row
xx = torch.arange(n)
for y in range(n):
    img[0, y], img[1, y], img[2, y] = (xx * 7 + y) % 256, (xx * y) % 256, (xx + 3 * y) % 256
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if what == "upscale":
    out = super_resolve_uint8(build("bicubic", scale=2), img, tile=tile)
    with tempfile.TemporaryDirectory() as d:
        write_image(d + "/out.png", out.permute(1, 2, 0).numpy())
else:
    p, s = scores_uint8(img, img.flip(-1), shave=2)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak / 2**20, base / 2**20, time.perf_counter() - t0)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000])
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = [header(torch.device("cpu")),
             f"bicubic x2, LR tile {args.tile}; resident memory of a fresh process in GB: "
             "'before' holds Python, torch and the input image, 'peak' is the maximum during "
             "the task; 'images' is the input plus the uint8 output (or both 8-bit images)"]
    rows = []
    for n in args.sizes:
        for what in ("upscale", "score"):
            res = subprocess.run([sys.executable, "-c", CHILD, str(n), str(args.tile), what],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                rows.append([f"{n}x{n}", what, "failed", res.stderr.strip()[-200:], "-", "-"])
                continue
            peak, base, secs = map(float, res.stdout.split())
            data = (3 * n * n + (12 * n * n if what == "upscale" else 3 * n * n)) / 2**30
            rows.append([f"{n}x{n}", what, f"{base:.2f}", f"{peak:.2f}", f"{data:.2f}",
                         f"{secs:.1f}"])
    lines += table(["input", "task", "before (GB)", "peak (GB)", "images (GB)", "seconds"], rows)
    report(lines, args.out)


if __name__ == "__main__":
    main()
