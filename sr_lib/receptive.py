"""How far a model looks: the receptive-field radius that makes tiled inference exact.

A tile of the LR image, widened by ``r`` pixels of real context on every side, gives exactly
the whole-image output over the tile's centre when no output pixel depends on an input pixel
more than ``r`` LR pixels away. :func:`receptive_field` measures that radius structurally: on
a float64 copy of the model whose weights are all positive (each layer a positive average, so
no ReLU ever switches a path off) it back-propagates from one output pixel to a positive input
strip and reads the horizontal radius off the gradient's support (kernels are square).

A model can also declare its radius as an attribute ``receptive_field`` (LR pixels), or None
for a global model. Models with global operations have no finite radius and give ``None``:
channel attention pools the whole image (RCAN, DRN), ISRResCNet measures its noise level and
ball radius on the whole image. Their tiled output is close to, never exactly, the whole one.
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_UNDECLARED = object()
_ROWS = 8  # the probe is a strip: square kernels reach as far across as along, and a strip
# costs a fraction of a square probe (positive weights let no path vanish at its zero border)


def _positive_copy(model: nn.Module) -> nn.Module:
    """A float64 CPU copy with every weight a positive average and every bias zero."""
    probe = copy.deepcopy(model).to("cpu", torch.float64).eval()
    with torch.no_grad():
        for name, p in list(probe.named_parameters()) + list(probe.named_buffers()):
            if not p.is_floating_point():
                continue
            if p.dim() >= 2:  # conv / linear weights: each output a mean of its inputs
                p.fill_(1.0 / p[0].numel())
            elif name.endswith("bias"):
                p.zero_()
            else:  # scales, PReLU slopes, normalisation constants: keep them positive
                p.abs_().add_(1e-3)
    return probe


def _radius_at(probe: nn.Module, scale: int, size: int, channels: int) -> int | None:
    """Support radius (LR pixels) of the centre output pixel on a ``size``-pixel probe; None
    when the support reaches the probe's border (the probe is too small or the model global)."""
    x = torch.full((1, channels, _ROWS, size), 0.5, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():  # callers often run under no_grad (inference)
        out = probe(x)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        c = out.shape[-1] // 2
        out[..., out.shape[-2] // 2, c].sum().backward()
    support = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero()
    if support.numel() == 0:
        return 0
    centre = c // scale
    lo, hi = int(support.min()), int(support.max())
    if lo == 0 or hi == size - 1:
        return None
    return max(centre - lo, hi - centre)


def _conv_reach(model: nn.Module, channels: int) -> int:
    """Sum of the conv radii met in one forward pass (shared modules counted per call): the
    radius of a plain chain of convs, used to size the first probe."""
    reach, handles = [0], []

    def hook(mod, _inputs, _output):
        k, d = mod.kernel_size[0], mod.dilation[0]
        reach[0] += d * (k - 1) // 2

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, _ROWS, _ROWS, dtype=torch.float64))
    finally:
        for h in handles:
            h.remove()
    return reach[0]


def receptive_field(model: nn.Module, max_probe: int = 256) -> int | None:
    """Radius in LR pixels of ``model``'s receptive field, or None if it has none (global
    operations). A declared ``model.receptive_field`` wins; a measured one is cached per model.

    The first probe is sized from the model's conv radii; it doubles up to ``max_probe`` pixels
    until the support fits inside it. On a CPU a 16-block EDSR takes a few seconds, once."""
    declared = getattr(model, "receptive_field", _UNDECLARED)
    if declared is None or isinstance(declared, int):
        return declared
    if model in _CACHE:  # None (global) is cached too
        return _CACHE[model]
    radius = None
    if not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
               for m in model.modules()):  # global pooling: no finite radius
        scale = int(getattr(model, "scale", 1))
        channels = int(getattr(model, "in_channels", 3))
        probe = _positive_copy(model)
        size = 2 * _conv_reach(probe, channels) // scale + 4 * scale + 8
        size = min(max_probe, max(16, size))
        while True:
            radius = _radius_at(probe, scale, size, channels)
            if radius is not None or size >= max_probe:
                break
            size = min(max_probe, 2 * size)
    _CACHE[model] = radius
    return radius
