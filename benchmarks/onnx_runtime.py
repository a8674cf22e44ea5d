"""ONNX Runtime against PyTorch on the CPU: do the book's networks, and SRP's pruned ones, run
faster where they would be deployed?

    python benchmarks/onnx_runtime.py [--size 90 160] [--repeats 15] [--out FILE]

Every network is exported with ``sr_lib.export`` (and checked against PyTorch first), then both
runtimes are timed in interleaved rounds in one process (median and interquartile range), on
one LR image of ``--size``. Also reported: the ONNX file's size and the process's peak resident
memory after each network's runs. The networks: the book's chapter networks at their `book`
profile sizes, the dense EDSR-baseline with its SRP-pruned versions (Table 1's ratios, 16
blocks of 32 maps), and the authors' released AIL x2 student (VDSR, 13 maps, converted from
``$SR_WEIGHTS``, skipped when absent).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys

import numpy as np
import torch
from common import header, interleaved, machine_load, report, spread, table

from sr_lib.export import check_onnx, export_onnx, input_channels
from sr_lib.models import build
from sr_lib.pruning import n_pruned


def networks(weights_root: str | None) -> dict[str, tuple[torch.nn.Module, int]]:
    """name -> (network, scale)."""
    torch.manual_seed(0)
    nets = {
        "VDSR 10x32 (Chapter 0, Y)": (build("vdsr", scale=2, width=32, depth=10), 2),
        "ISRResCNet K=10, 32 maps, 2 blocks (Chapter 1)": (
            build("isrrescnet", scale=4, iterations=10, features=32, blocks=2), 4),
        "DRN, B=3, F=8 (Chapter 4)": (build("drn", scale=4, n_blocks=3, n_feats=8), 4),
    }
    for ratio in (0.0, 0.5, 0.9):
        kept = 32 - n_pruned(32, ratio)
        label = "dense" if ratio == 0 else f"SRP ratio {ratio}"
        nets[f"EDSR-baseline 16x32, {label} ({kept} maps)"] = (
            build("edsr-baseline", scale=2, n_feats=kept, tail_feats=32), 2)
    path = os.path.join(weights_root or "", "ail", "model", "ours_ail_r9_f13_s2.pth")
    if weights_root and os.path.exists(path):
        from sr_lib.foreign import convert

        conv = convert(path)
        student = build(conv.model, scale=conv.scale or 2, **conv.options)
        student.load_state_dict(conv.state_dict)
        nets["AIL x2 student (released, VDSR 13 maps)"] = (student, 2)
    return nets


def peak_mb() -> float:
    scale = 1024 if sys.platform != "darwin" else 1024 * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs=2, default=(90, 160), help="LR input H W")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out")
    args = ap.parse_args()
    device = torch.device("cpu")
    torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    lines = [header(device), f"onnxruntime {ort.__version__}; {machine_load()}; "
             f"{args.threads} threads in both runtimes; LR input {args.size[0]}x{args.size[1]}"]
    rows = []
    for name, (model, _) in networks(os.environ.get("SR_WEIGHTS")).items():
        model.eval()
        data = export_onnx(model)
        worst = check_onnx(model, data)
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        x = torch.rand(1, input_channels(model), *args.size)
        feed = {"lr": x.numpy()}
        with torch.no_grad():
            cases = {"pytorch": lambda m=model, x=x: m(x),
                     "onnx": lambda s=session, f=feed: s.run(None, f)}
            times = interleaved(cases, args.repeats, device, warmup=2)
        ratio = np.median(times["onnx"]) / np.median(times["pytorch"])
        rows.append([name, spread(times["pytorch"]), spread(times["onnx"]), f"{ratio:.2f}",
                     f"{len(data) / 1e6:.2f}", f"{worst:.1e}", f"{peak_mb():.0f}"])
    lines += table(["network", "PyTorch ms: median (IQR)", "ONNX Runtime ms: median (IQR)",
                    "ONNX / PyTorch", "ONNX file (MB)", "max |ONNX - PyTorch|",
                    "peak RSS so far (MB)"], rows)
    report(lines, args.out)


if __name__ == "__main__":
    main()
