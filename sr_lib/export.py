"""ONNX export of sr_lib's networks, checked against PyTorch.

    python -m sr_lib export --model edsr-baseline --scale 2 [--weights W.pt] out.onnx

Every registered network exports with a symbolic image size (batch, height and width are
graph inputs), so one file serves any image. The bicubic resizing inside pre-upsampling models
(SRCNN, VDSR, ProSR's skip) is written for the export as padding, convolution and an
interleave (:func:`sr_lib.resize.upscale_by_convolution`) instead of matrices built for one
size, and so are ISRResCNet's exact data step (downscaling H and its adjoint, a transposed
strided convolution) and its noise estimate's median (a sort, as ONNX has no median).
:func:`check_onnx` runs the file in ONNX Runtime and compares it with the PyTorch model at
several sizes. :data:`NOT_EXPORTABLE` would name a network that cannot be exported (none today),
:data:`SIZE_BOUND` the options that tie one to a single image size.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .errors import SRLibError

NOT_EXPORTABLE: dict[str, str] = {}  # registered networks that cannot export, and why
# options that tie a network to one image size, and why
SIZE_BOUND = {("data_step", "released"): "the released code's data step (decimation H and a "
                                         "corner-aligned cubic H^T) is a pair of matrices built "
                                         "for one image size; the exact pair exports"}
OPSET = 17


class OnRGB(nn.Module):
    """An RGB-in, RGB-out view of a network, for a deployment that hands it a photograph.

    A one-channel network (VDSR, the AIL students) sees the BT.601 Y of the input, and the
    chroma is upscaled by MATLAB bicubic, the literature's convention; a three-channel network
    runs as it is. The output is clamped to [0, 1], what any image file can hold. The colour
    conversions are 1x1 convolutions so that every ONNX runtime (the browser's too) runs them.
    """

    def __init__(self, model: nn.Module, scale: int) -> None:
        super().__init__()
        from .color import _OFFSET, _RGB2YCBCR

        self.model, self.scale = model, int(scale)
        self.in_channels = 3  # what export_onnx and check_onnx feed it
        self.inner_channels = input_channels(model)
        if self.inner_channels not in (1, 3):
            raise SRLibError(f"OnRGB wraps networks of 1 (Y) or 3 (RGB) channels, not "
                             f"{self.inner_channels}")
        forward = (_RGB2YCBCR / 255.0).float()
        offset = (_OFFSET / 255.0).float()
        self.register_buffer("to_ycbcr", forward[:, :, None, None])
        self.register_buffer("offset", offset)
        self.register_buffer("to_rgb", torch.linalg.inv(forward.double()).float()[:, :, None,
                                                                                   None])

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        from .resize import imresize

        if self.inner_channels == 3:
            return self.model(rgb).clamp(0, 1)
        ycbcr = F.conv2d(rgb, self.to_ycbcr, self.offset)
        y = self.model(ycbcr[:, :1])
        chroma = imresize(ycbcr[:, 1:], self.scale)
        out = F.conv2d(torch.cat([y, chroma], 1) - self.offset[None, :, None, None],
                       self.to_rgb)
        return out.clamp(0, 1)


def input_channels(model: nn.Module) -> int:
    """The channels a network takes: its ``in_channels``, else its first convolution's."""
    if isinstance(getattr(model, "in_channels", None), int):
        return model.in_channels
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    raise SRLibError(f"cannot tell how many channels {type(model).__name__} takes; pass "
                     "channels=")


def export_onnx(model: nn.Module, path: str | Path | None = None, channels: int | None = None,
                sample: tuple[int, int] = (24, 20), name: str | None = None) -> bytes:
    """Export ``model`` (in eval mode, on the CPU) to ONNX with a symbolic batch and image
    size; writes ``path`` when given and returns the file's bytes."""
    if name in NOT_EXPORTABLE:
        raise SRLibError(f"{name} cannot be exported to ONNX: {NOT_EXPORTABLE[name]}")
    for (option, value), why in SIZE_BOUND.items():
        if getattr(model, option, None) == value:
            raise SRLibError(f"{name or type(model).__name__} with {option}={value!r} cannot be "
                             f"exported for any image size: {why}")
    model = model.cpu().eval()
    channels = channels or input_channels(model)
    x = torch.rand(1, channels, *sample)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on traced shapes
        try:
            torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=OPSET,
                              input_names=["lr"], output_names=["sr"],
                              dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"},
                                            "sr": {0: "batch", 2: "out_height",
                                                   3: "out_width"}})
        except Exception as exc:  # the exporter's own error names the operator at fault
            raise SRLibError(f"{name or type(model).__name__} could not be exported to ONNX "
                             f"(opset {OPSET}): {exc}") from exc
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def check_onnx(model: nn.Module, onnx_model: bytes | str | Path,
               sizes: Sequence[tuple[int, int]] = ((24, 20), (17, 29)),
               inputs: Sequence[torch.Tensor] = (), channels: int | None = None) -> float:
    """The largest absolute difference between ONNX Runtime's and PyTorch's outputs over
    random images of ``sizes`` and the given ``inputs`` ((1, C, H, W) in [0, 1])."""
    import numpy as np
    import onnxruntime as ort

    source = onnx_model if isinstance(onnx_model, bytes) else Path(onnx_model).read_bytes()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    model = model.cpu().eval()
    channels = channels or input_channels(model)
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(1, channels, *hw, generator=g) for hw in sizes] + list(inputs)
    worst = 0.0
    for x in images:
        with torch.no_grad():
            ref = model(x).numpy()
        out = session.run(None, {"lr": x.numpy()})[0]
        if out.shape != ref.shape:
            raise SRLibError(f"ONNX output {out.shape} differs from PyTorch's {ref.shape} "
                             f"for a {tuple(x.shape)} input")
        worst = max(worst, float(np.abs(out - ref).max()))
    return worst
