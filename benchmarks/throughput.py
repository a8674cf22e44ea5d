"""Training and evaluation throughput on one device, every comparison interleaved in one
process with median and spread: training patches/s and peak memory for the trainer's options
(prefetch, data on the device, bf16 autocast, channels_last), evaluation images/s (whole,
tiled at the exact overlap, x8 ensemble batched vs one pass at a time) and SSIM against
scikit-image's, with the largest difference of their values.

    python benchmarks/throughput.py [--device cuda] [--model edsr-baseline] [--out FILE]

On a CPU the defaults take a few minutes; ``--quick`` shrinks every case.
"""

from __future__ import annotations

import argparse

import torch
from common import header, interleaved, machine_load, peak_memory, report, spread, table

from sr_lib.datasets import SRDataset
from sr_lib.device import pick_device
from sr_lib.evaluate import forward_tiled, self_ensemble, tile_overlap
from sr_lib.metrics import _ssim_map, score_dtype
from sr_lib.models import build
from sr_lib.train import TrainConfig, Trainer


def images(n: int, side: int) -> list:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(side, side, 3, generator=g) * 255).to(torch.uint8).numpy()
            for _ in range(n)]


def training(args, device, lines) -> None:
    data = SRDataset(images(8, 4 * args.patch), 2)
    variants = {"plain": {"prefetch": 0}, "prefetch 2": {"prefetch": 2},
                "data on device": {"prefetch": 0, "data_on_device": True}}
    if device.type == "cuda" or args.amp_on_cpu:
        variants["bf16 autocast"] = {"prefetch": 2, "amp": True, "amp_dtype": "bfloat16"}
        variants["bf16 + channels_last"] = {"prefetch": 2, "amp": True,
                                            "amp_dtype": "bfloat16", "channels_last": True}
    trainers = {}
    for name, opts in variants.items():
        torch.manual_seed(0)
        model = build(args.model, scale=2, n_resblocks=args.blocks)
        cfg = TrainConfig(iterations=10**9, batch_size=args.batch, lr_patch=args.patch,
                          device=str(device), progress=False, log_every=10**9, **opts)
        trainers[name] = Trainer(model, data, cfg)

    def run(trainer):
        def steps():
            for _ in range(args.steps):
                trainer.train_step(trainer.next_batch())
                trainer.step += 1
        return steps

    times = interleaved({n: run(t) for n, t in trainers.items()}, args.repeats, device)
    per = args.steps * args.batch
    lines += ["", f"training {args.model} (n_resblocks {args.blocks}) x2, batch {args.batch}, "
                  f"LR patch {args.patch}; {args.steps} steps per timing"]
    rows = []
    for name, t in times.items():
        per_step = [v / args.steps for v in t]
        median = sorted(per_step)[len(per_step) // 2]
        rows.append([name, spread(per_step), f"{per / (median * args.steps):.1f}"])
    lines += table(["variant", "ms per step: median (IQR)", "patches/s"], rows)
    lines.append(f"peak memory after training: {peak_memory(device)}")


def evaluation(args, device, lines) -> None:
    torch.manual_seed(0)
    model = build(args.model, scale=2, n_resblocks=args.blocks).to(device).eval()
    x = torch.rand(1, 3, args.side, args.side + 13, device=device)
    overlap = tile_overlap(model)

    def whole():
        with torch.no_grad():
            model(x)

    def tiled():
        with torch.no_grad():
            forward_tiled(model, x, 2, tile=args.side // 2)

    def ens_batched():
        with torch.no_grad():
            self_ensemble(model, x, batched=True)

    def ens_single():
        with torch.no_grad():
            self_ensemble(model, x, batched=False)

    cases = {"whole image": whole, f"tiled (overlap {overlap})": tiled,
             "x8 ensemble, batched": ens_batched, "x8 ensemble, 8 passes": ens_single}
    times = interleaved(cases, args.repeats, device)
    lines += ["", f"evaluation forward of a {args.side}x{args.side + 13} LR image "
                  f"(receptive radius {overlap} LR px)"]
    base = sorted(times["whole image"])[len(times["whole image"]) // 2]
    lines += table(["case", "ms: median (IQR)", "vs whole"],
                   [[name, spread(t), f"{sorted(t)[len(t) // 2] / base:.2f}x"]
                    for name, t in times.items()])
    with torch.no_grad():
        err = (forward_tiled(model, x, 2, tile=args.side // 2) - model(x)).abs().max()
    lines.append(f"tiled vs whole, largest difference: {float(err):.2e}")


def ssim_speed(args, device, lines) -> None:
    g = torch.Generator().manual_seed(1)
    dtype = score_dtype(device)
    a = (torch.rand(1, 1, 480, 320, generator=g) * 255).round().to(device, dtype)
    b = (a + 8 * torch.randn(a.shape, generator=g).to(device, dtype)).clamp(0, 255)
    cases = {"sr_lib SSIM": lambda: float(_ssim_map(a, b).mean())}
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        structural_similarity = None
    if structural_similarity is not None:
        an, bn = a[0, 0].double().cpu().numpy(), b[0, 0].double().cpu().numpy()

        def sk():
            return structural_similarity(an, bn, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=255)
        cases["scikit-image SSIM (CPU)"] = sk
    times = interleaved(cases, args.repeats * 4, device)
    lines += ["", f"SSIM of a 480x320 Y pair ({dtype} on {device.type})"]
    lines += table(["case", "ms: median (IQR)"], [[name, spread(t)] for name, t in times.items()])
    if structural_similarity is not None:
        diff = abs(cases["sr_lib SSIM"]() - cases["scikit-image SSIM (CPU)"]())
        lines.append(f"largest difference of the two values: {diff:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device")
    parser.add_argument("--model", default="edsr-baseline")
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--side", type=int, default=128, help="LR side of the evaluation image")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--amp-on-cpu", action="store_true", help="also time bf16 on a CPU")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.quick:
        args.blocks, args.batch, args.patch, args.side, args.repeats = 4, 4, 24, 64, 3
    device = pick_device(args.device)
    lines = [header(device), "", machine_load()]
    training(args, device, lines)
    evaluation(args, device, lines)
    ssim_speed(args, device, lines)
    lines += ["", machine_load() + " (at the end)"]
    report(lines, args.out)


if __name__ == "__main__":
    main()
