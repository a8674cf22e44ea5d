"""The networks and sample images of the book's in-browser page (book/upscale.md), as ONNX.

    python scripts/web_models.py [--out _vendor/srweb]

Writes, into a git-ignored folder that the book serves as ``_static/srweb``:
* ``bicubic_x2.onnx``: MATLAB bicubic, the row every SR table starts from;
* ``ch00_vdsr_x2.onnx``: the VDSR that Chapter 0's ``book`` run trained and published to
  ``book/web/`` (skipped, and said, when that file is absent);
* ``ail_x2.onnx``: the AIL authors' released x2 student (seed 004), converted from
  ``$SR_WEIGHTS/ail`` with sr_lib's safe reader (skipped when absent; MIT licence, kept beside);
* ``samples/``: Set5's images made x2 smaller with MATLAB bicubic, as the benchmarks make
  them (scikit-image's photographs stand in when Set5 is missing, and the page says so);
* ``manifest.json``: what the page offers, where each network comes from, and the bytes of
  everything the page adds to the book (this folder and the ONNX Runtime files).

Every network is wrapped by :class:`sr_lib.export.OnRGB` (RGB in, RGB out, Y networks on
BT.601 Y with bicubic chroma), exported with a symbolic image size and checked against PyTorch
in ONNX Runtime before it is written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sr_lib import catalog
from sr_lib.export import OnRGB, check_onnx, export_onnx
from sr_lib.harness import load_published
from sr_lib.imageio import read_image, uint8_to_tensor
from sr_lib.models import build
from sr_lib.resize import imresize

ROOT = Path(__file__).resolve().parent.parent
SCALE = 2


def networks() -> list[tuple[str, str, torch.nn.Module, str]]:
    """(id, label, network, where it comes from) for every network this machine can offer."""
    nets = [("bicubic_x2", "Bicubic (MATLAB imresize)", build("bicubic", scale=SCALE),
             "a fixed interpolation, no training")]
    published = ROOT / "book" / "web" / "ch00_vdsr.pt"
    if published.is_file():
        model, meta = load_published(published)
        seg = meta["record"]["segments"][-1]
        minutes = sum(s["seconds"] for s in meta["record"]["segments"]) / 60
        nets.append(("ch00_vdsr_x2", f"VDSR {meta['build']['depth']}x{meta['build']['width']} "
                     "(trained by Chapter 0)", model,
                     f"Chapter 0's {meta['profile']} run, commit {seg['commit']}, "
                     f"{seg['started'][:10]}: {meta['record']['steps']:,} steps of "
                     f"{meta['record']['samples'] // max(1, meta['record']['steps'])} patches, "
                     f"{minutes:.1f} min on {seg['hardware']}"))
    else:
        print(f"[web] {published.relative_to(ROOT)} is absent: run Chapter 0 in the book "
              "profile to publish its VDSR; the page offers the other networks")
    weights = os.environ.get("SR_WEIGHTS")
    ail = Path(weights or "") / "ail" / "model" / "ours_ail_r9_f13_s2.pth"
    if weights and ail.is_file():
        from sr_lib.foreign import convert

        conv = convert(ail)
        student = build(conv.model, scale=SCALE, **conv.options)
        student.load_state_dict(conv.state_dict)
        nets.append(("ail_x2", "AIL x2 student, VDSR 13 maps (the authors' release)", student,
                     "the AIL authors' released weights (seed 004, MIT licence), read by "
                     "sr_lib.foreign without unpickling code"))
    else:
        print("[web] the AIL authors' x2 student is absent (set SR_WEIGHTS to the folder "
              "holding ail/model/ours_ail_r9_f13_s2.pth): the page offers the other networks")
    return nets


def samples(out: Path) -> tuple[list[dict], str]:
    """Low-resolution sample images: Set5 made x2 smaller by MATLAB bicubic, quantised."""
    data = os.environ.get("SR_DATA")
    folder = Path(data or "") / "Set5" / "HR"
    if data and folder.is_dir():
        files = sorted(folder.glob("*.png"))
        images = [(f.stem, uint8_to_tensor(read_image(f))) for f in files]
        source = "Set5, made x2 smaller with MATLAB bicubic (as the benchmarks make them)"
    else:
        names = ("astronaut", "chelsea", "coffee")
        images = [(n, uint8_to_tensor(im)[:, :256, :256])
                  for n, im in zip(names, catalog.sample_images(names))]
        source = ("scikit-image's photographs (Set5 is absent: set SR_DATA), made x2 smaller "
                  "with MATLAB bicubic")
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rows = []
    for name, hr in images:
        h, w = (d - d % SCALE for d in hr.shape[-2:])
        lr = imresize(hr[None, :, :h, :w].double(), 1 / SCALE)[0]
        pixels = (lr.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        if pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
        Image.fromarray(pixels).save(out / "samples" / f"{name}.png")
        rows.append({"name": name, "file": f"samples/{name}.png"})
    return rows, source


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_vendor" / "srweb"))
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise SystemExit(f"[web] {out} is not empty and holds no manifest.json: not deleting "
                         "it; pass an empty or earlier --out folder")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    models = []
    for key, label, net, source in networks():
        wrapped = OnRGB(net.eval(), SCALE)
        data = export_onnx(wrapped, name=key)
        worst = check_onnx(wrapped, data, sizes=((24, 20), (17, 29)))
        if worst > 1e-4:
            raise SystemExit(f"[web] {key}: ONNX Runtime differs from PyTorch by {worst:.1e}")
        (out / f"{key}.onnx").write_bytes(data)
        models.append({"id": key, "label": label, "file": f"{key}.onnx", "scale": SCALE,
                       "source": source, "bytes": len(data)})
        print(f"[web] {key}.onnx: {len(data) / 1e6:.2f} MB, |ONNX - PyTorch| <= {worst:.1e}")
    weights = os.environ.get("SR_WEIGHTS")
    licence = Path(weights or "") / "ail" / "LICENSE"
    if any(m["id"] == "ail_x2" for m in models) and licence.is_file():
        shutil.copy(licence, out / "AIL-LICENSE")
    rows, source = samples(out)
    runtime = ROOT / "_vendor" / "ortweb"
    manifest = {"models": models, "samples": rows, "samples_source": source,
                "runtime": json.loads((runtime / "version.json").read_text())
                if (runtime / "version.json").is_file() else None}
    manifest["bytes"] = {"networks and samples": folder_bytes(out),
                         "ONNX Runtime Web": folder_bytes(runtime) if runtime.is_dir() else 0}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    total = sum(manifest["bytes"].values())
    print(f"[web] {len(models)} networks, {len(rows)} samples; the page adds "
          f"{total / 1e6:.1f} MB to the book ({out})")


if __name__ == "__main__":
    main()
