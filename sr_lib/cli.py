"""Command line: python -m sr_lib {eval,params,upscale,train,convert,datasets} ...

Every user error is printed as one line starting with ``error:`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from .errors import SRLibError


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _scale(text: str) -> int:
    value = _positive_int(text)
    if not 2 <= value <= 16:
        raise argparse.ArgumentTypeError(f"scale must be between 2 and 16, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value == value and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _parse_options(extra: list[str]) -> dict:
    """``--width 13 --attention false`` -> {'width': 13, 'attention': False}."""
    out: dict = {}
    i = 0
    while i < len(extra):
        key = extra[i]
        if not key.startswith("--") or i + 1 >= len(extra):
            raise SRLibError(f"model options come as --KEY VALUE pairs; cannot read {key!r}")
        raw = extra[i + 1]
        low = raw.lower()
        if low in ("true", "false"):
            value = low == "true"
        else:
            try:
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                value = raw
        out[key[2:].replace("-", "_")] = value
        i += 2
    return out


def _model(name: str, scale: int, weights: str | None, options: dict):
    from .models import build
    from .weights import load_weights

    model = build(name, scale=scale, **options)
    if weights:
        load_weights(model, weights)
    elif name != "bicubic":
        print(f"warning: {name} has no --weights; using random initial weights",
              file=sys.stderr)
    return model


def _data(spec: str, scale: int, channels: str = "rgb", limit: int | None = None,
          root: str | None = None):
    """A folder path, or the name of a registered dataset under --root / SR_DATA."""
    from . import catalog
    from .datasets import SRDataset

    if Path(spec).is_dir():
        hr = Path(spec) / "HR" if (Path(spec) / "HR").is_dir() else Path(spec)
        from .imageio import list_images

        files = list_images(hr)
        if not files:
            raise SRLibError(f"no PNG/JPEG/BMP images in {hr}")
        return SRDataset(files[:limit] if limit else files, scale, channels=channels)
    if Path(spec).exists():
        raise SRLibError(f"--data must be a folder of HR images or a dataset name, got {spec}")
    try:
        catalog.info(spec)
    except SRLibError:
        raise SRLibError(f"--data {spec!r} is neither a folder nor a registered dataset "
                         f"({', '.join(catalog.names())})") from None
    return catalog.load(spec, scale, root=root, limit=limit, channels=channels)


def cmd_eval(args, extra) -> int:
    from .evaluate import evaluate

    model = _model(args.model, args.scale, args.weights, _parse_options(extra))
    channels = "y" if getattr(model, "in_channels", 3) == 1 else "rgb"
    data = _data(args.data, args.scale, channels, args.limit, args.root)
    result = evaluate(model, data, tile=args.tile, ensemble=args.ensemble,
                      device=args.device, progress=not args.json)
    if args.json:
        out = result.as_dict()
        out.update(model=args.model, data=str(args.data), shave=args.scale, channel="Y")
        print(json.dumps(out, allow_nan=False))
    else:
        for n, p, s in zip(result.names, result.psnr, result.ssim):
            print(f"{n:20s} {p:7.3f} dB  {s:.4f}")
        print(f"mean ({result.scale}x, {len(result.names)} images, Y, shave {args.scale}): "
              f"PSNR {result.mean_psnr:.3f} dB  SSIM {result.mean_ssim:.4f}")
    if result.perfect:
        print(f"note: {len(result.perfect)} image(s) reproduced exactly (infinite PSNR), left "
              f"out of the mean PSNR: {', '.join(result.perfect)}", file=sys.stderr)
    return 0


def cmd_params(args, extra) -> int:
    from .complexity import summary
    from .models import build

    model = build(args.name, scale=args.scale, **_parse_options(extra))
    if args.input_size:
        info = summary(model, input_size=tuple(args.input_size))
    else:
        info = summary(model, output_size=tuple(args.output_size))
    info.update(model=args.name, scale=args.scale, options=_parse_options(extra))
    if args.json:
        print(json.dumps(info))
    else:
        h, w = info["input_size"]
        print(f"{args.name} x{args.scale}: {info['params']:,} parameters, "
              f"{info['macs'] / 1e9:.2f} G multiply-adds for a {h}x{w} LR input "
              f"({h * args.scale}x{w * args.scale} output)")
    return 0


def cmd_upscale(args, extra) -> int:
    import numpy as np
    import torch

    from .evaluate import super_resolve_integer
    from .imagefile import ImageFile, fit_to_format, read_image_file
    from .imagefile import write_image_file as write
    from .imageio import image_format
    from .models import build

    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise SRLibError(f"the output {dst} is the input image; choose another output name")
    if dst.exists() and not args.overwrite:
        raise SRLibError(f"{dst} exists; pass --overwrite to replace it, or choose another name")
    image_format(dst)  # an unknown suffix fails before any work is done
    model = _model(args.model, args.scale, args.weights, _parse_options(extra))
    image = read_image_file(args.input)  # its own bit depth; grey stays grey; alpha kept apart

    def up(net, planes: np.ndarray) -> np.ndarray:
        lr = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))
        # tiles straight into an integer result: memory is one tile plus the output image
        out = super_resolve_integer(net.eval(), lr, tile=args.tile, ensemble=args.ensemble)
        return out.permute(1, 2, 0).numpy()

    result = ImageFile(up(model, image.color))
    if image.alpha is not None:  # transparency is not content: MATLAB bicubic, like a viewer
        result.alpha = up(build("bicubic", scale=args.scale), image.alpha)
    result, notes = fit_to_format(result, dst)
    write(dst, result)  # temporary file, then renamed
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    h, w = result.color.shape[:2]
    kept = f"{result.bits}-bit" + (", alpha upscaled bicubically" if result.alpha is not None
                                   else "")
    print(f"wrote {args.output} ({w}x{h}, {kept})")
    return 0


def cmd_train(args, extra) -> int:
    from . import distributed
    from .device import seed_everything
    from .models import build
    from .train import TrainConfig, Trainer
    from .weights import load_weights, save_weights

    options = _parse_options(extra)
    seed_everything(args.seed)  # before the model exists: its initial weights follow --seed
    model = build(args.model, scale=args.scale, **options)
    if args.init:
        load_weights(model, args.init)
    channels = "y" if getattr(model, "in_channels", 3) == 1 else "rgb"
    data = _data(args.data, args.scale, channels, args.limit, args.root)
    data.check_patch(args.patch)
    val = _data(args.val, args.scale, channels, None, args.root) if args.val else None
    out = Path(args.out)
    config = TrainConfig(
        iterations=args.iterations, batch_size=args.batch_size, lr_patch=args.patch, lr=args.lr,
        loss=args.loss, scheduler=args.scheduler, step_size=args.step_size,
        val_every=args.val_every, ckpt_every=args.ckpt_every,
        ckpt_path=str(out / "checkpoint.pt"), device=args.device, seed=args.seed,
        grad_clip=args.grad_clip, amp=args.amp != "off",
        amp_dtype="bfloat16" if args.amp == "bf16" else "float16",
        channels_last=args.channels_last, data_on_device=args.data_on_device,
        prefetch=args.prefetch,
    )
    try:
        trainer = Trainer(model, data, config, val_data=val)
        history = trainer.fit(resume=not args.restart, overrides=args.override)
        if trainer.rank == 0:  # under torchrun one process writes and reports
            save_weights(model, out / "weights.pt", name=args.model, scale=args.scale,
                         options=options)
            msg = (f"trained {args.iterations} iterations in {history.seconds:.0f} s; "
                   f"weights: {out}")
            if history.val_psnr:
                msg += f"; validation PSNR {history.val_psnr[-1]:.2f} dB"
            print(msg)
    finally:
        distributed.cleanup()
    return 0


def cmd_convert(args, extra) -> int:
    from .foreign import convert
    from .models import build
    from .weights import save_weights

    if Path(args.output).resolve() == Path(args.input).resolve():
        raise SRLibError("convert writes a new file; give an OUTPUT path other than the input")
    conv = convert(args.input)
    model = build(conv.model, scale=conv.scale or 2, **conv.options)
    model.load_state_dict(conv.state_dict)  # proves the converted names and shapes fit
    save_weights(model, args.output, name=conv.model, scale=conv.scale, options=conv.options,
                 source=f"{conv.source}: {Path(args.input).name}")
    opts = " ".join(f"--{k} {v}" for k, v in conv.options.items())
    scale = f"x{conv.scale}" if conv.scale else "any scale (trained on several)"
    print(f"wrote {args.output}: {conv.source}, model {conv.model} {opts}, {scale}; load it "
          f"with --model {conv.model} {opts} --weights {args.output}")
    return 0


def cmd_export(args, extra) -> int:
    from .export import OnRGB, check_onnx, export_onnx

    model = _model(args.model, args.scale, args.weights, _parse_options(extra))
    if args.rgb:
        model = OnRGB(model.eval(), args.scale)
    data = export_onnx(model, args.output, name=args.model)
    worst = check_onnx(model, data)
    print(f"wrote {args.output} ({len(data) / 1e6:.2f} MB, ONNX opset 17, any image size); "
          f"ONNX Runtime against PyTorch on two random images: max |difference| {worst:.1e}")
    if worst > 1e-4:
        print("warning: the exported graph differs from the PyTorch model by more than 1e-4",
              file=sys.stderr)
        return 1
    return 0


def cmd_datasets(args, extra) -> int:
    from . import catalog

    if args.download:
        catalog.download(args.download, args.root)
    root = catalog.data_root(args.root)
    print(f"data root: {root if root else '(none: pass --root or set SR_DATA)'}")
    for name, present in catalog.available(args.root).items():
        entry = catalog.info(name)
        flag = "found  " if present else "missing"
        print(f"  {flag} {name:11s} {entry.role:5s} {entry.citation}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sr_lib", description=__doc__.splitlines()[0],
                                epilog="--debug (anywhere): show the full traceback of an "
                                       "internal error")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("eval", help="PSNR/SSIM (Y, shave = scale) of a model on HR images")
    e.add_argument("--model", required=True, help="registered model name, e.g. bicubic")
    e.add_argument("--scale", type=_scale, required=True)
    e.add_argument("--data", required=True, help="folder of HR images or a dataset name")
    e.add_argument("--weights", help="weights file for a trained model")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--tile", type=_positive_int, help="tiled inference with this LR tile size")
    e.add_argument("--ensemble", action="store_true", help="x8 self-ensemble")
    e.add_argument("--limit", type=_positive_int, help="only the first N images")
    e.add_argument("--root", help="data root for dataset names (default: $SR_DATA)")
    e.add_argument("--device")
    e.set_defaults(func=cmd_eval)

    q = sub.add_parser("params", help="parameters and multiply-adds of a registered model")
    q.add_argument("name")
    q.add_argument("--scale", type=_scale, required=True)
    size = q.add_mutually_exclusive_group()
    size.add_argument("--output-size", type=_positive_int, nargs=2, default=(720, 1280),
                      metavar=("H", "W"), help="HR output size (default 720 1280, as in SRP)")
    size.add_argument("--input-size", type=_positive_int, nargs=2, metavar=("H", "W"),
                      help="LR input size instead (DRN uses 96 96)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_params)

    u = sub.add_parser("upscale", help="super-resolve one image file")
    u.add_argument("input")
    u.add_argument("output")
    u.add_argument("--model", required=True)
    u.add_argument("--scale", type=_scale, required=True)
    u.add_argument("--weights")
    u.add_argument("--tile", type=_positive_int)
    u.add_argument("--ensemble", action="store_true")
    u.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    u.set_defaults(func=cmd_upscale)

    t = sub.add_parser("train", help="train a registered model (resumes from --out)")
    t.add_argument("--model", required=True)
    t.add_argument("--scale", type=_scale, required=True)
    t.add_argument("--data", required=True, help="folder of HR images or a dataset name")
    t.add_argument("--val", help="validation folder or dataset name")
    t.add_argument("--out", default="runs/train")
    t.add_argument("--init", help="start from these weights")
    t.add_argument("--iterations", type=_positive_int, default=1000,
                   help="training steps (default 1000: hours for EDSR-baseline on a CPU; the "
                        "trainer prints its estimate after 3 steps)")
    t.add_argument("--batch-size", type=_positive_int, default=16)
    t.add_argument("--patch", type=_positive_int, default=48, help="LR patch size")
    t.add_argument("--lr", type=_positive_float, default=1e-4)
    t.add_argument("--grad-clip", type=_positive_float,
                   help="clip the gradients' total norm to this value (e.g. 0.4)")
    t.add_argument("--restart", action="store_true",
                   help="start afresh even if --out holds a checkpoint (it is replaced)")
    t.add_argument("--override", action="append", default=[], metavar="SETTING",
                   help="on resume, keep the new value of this setting (e.g. lr, grad_clip)")
    t.add_argument("--loss", default="l1")
    t.add_argument("--scheduler", default=None)
    t.add_argument("--step-size", type=_positive_int, default=200_000)
    t.add_argument("--val-every", type=_non_negative_int, default=0)
    t.add_argument("--ckpt-every", type=_non_negative_int, default=100)
    t.add_argument("--limit", type=_positive_int)
    t.add_argument("--root")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device")
    t.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off",
                   help="mixed precision: bf16 (CUDA or CPU) or fp16 (CUDA, loss-scaled)")
    t.add_argument("--channels-last", action="store_true", help="NHWC layout (GPU + amp)")
    t.add_argument("--data-on-device", action="store_true",
                   help="keep the training images on the GPU (uint8); patches are cut there")
    t.add_argument("--prefetch", type=_non_negative_int, default=2,
                   help="batches prepared ahead in a background thread (0: off)")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("convert", help="turn an author's released checkpoint into plain weights")
    c.add_argument("input", help="a foreign .pth file (read without running code it names)")
    c.add_argument("output", help="where to write the weights_only-loadable state dict")
    c.set_defaults(func=cmd_convert)

    x = sub.add_parser("export", help="write a model as ONNX (any image size), checked against "
                       "PyTorch in ONNX Runtime")
    x.add_argument("output", help="the .onnx file to write")
    x.add_argument("--model", required=True, help="registered model name, e.g. edsr-baseline")
    x.add_argument("--scale", type=_scale, required=True)
    x.add_argument("--weights", help="weights file for a trained model")
    x.add_argument("--rgb", action="store_true",
                   help="RGB in and out, clamped (a Y network sees BT.601 Y; the chroma is "
                        "upscaled by MATLAB bicubic): what an application hands a photograph")
    x.set_defaults(func=cmd_export)

    d = sub.add_parser("datasets", help="list the standard datasets and whether they are found")
    d.add_argument("--root")
    d.add_argument("--download", metavar="NAME", help="download and verify a dataset")
    d.set_defaults(func=cmd_datasets)
    return p


REPORT_URL = "https://github.com/srbook/srbook/issues"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in ("params", "eval", "upscale", "train", "export"):
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra)
    except SRLibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: file not found: {exc.filename or exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # mostly an option value a model or function cannot take
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        print(f"error: invalid value: {first} (--debug shows where)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from .stopping import TrainingInterrupted

        if not isinstance(exc, TrainingInterrupted):  # that one has said where it saved
            print("error: interrupted; a training run resumes from its last checkpoint",
                  file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug, not a user error: say where to report it
        if debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        print(f"internal error: {type(exc).__name__}: {first}\nThis is a bug in sr_lib, not "
              f"in your input. Please report it at {REPORT_URL} with the output of the same "
              "command run with --debug.", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
