"""ProSR (Wang et al., seed 001): one asymmetric pyramid that upscales x2, x4 and x8.

Each pyramid level refines features with dense compression units (DCUs) and upsamples them x2
with a sub-pixel convolution; a scale-specific input layer v_s and one reconstruction layer per
level r_s map between images and features. The network predicts a residual that is added to a
bicubic upsampling of the input, so one set of weights serves every power-of-two scale:
``model(lr, scale=8)``. Layer details follow the authors' released code
(``shared/design/seed-facts.md`` section 2): reflection padding, dense layers
conv1x1 -> ReLU -> conv3x3 with bottleneck 4k, inputs normalised to the 0-255 range around the
DIV2K mean, and the residual-scaled DCUs and level residuals of the large model.

The configurations:

* ``prosr-l``: k = 40, 160 features, DCUs [9, 3, 1] of 8 layers (104 dense layers),
  residual DCUs scaled by 0.2: 15,537,609 parameters (the paper's 15.5M).
* ``prosr-s``: the *released* small configuration: k = 12, 24 features, DCUs [4, 2, 1] of 6
  layers (42 dense layers), DCUs compressed to 0.4 of their width, levels to 0.5: 2.55M
  parameters. The paper's text says 56 dense layers and 3.1M, but gives no layout that
  reproduces it; the released one is fully specified and has released weights, so it is the one
  implemented here.
* ``prosr`` with ``dcus``/``layers``/``dense_layer`` options covers the ablation models of the
  paper's Table 1 (see :data:`ABLATIONS`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SRLibError
from ..resize import imresize
from .common import DIV2K_RGB_MEAN, ScaleView

PIXEL_RANGE = 255.0  # the released code feeds (x - mean) / (1/255): 0-255 units


def pyramid_scales(max_scale: int) -> tuple[int, ...]:
    """The x2 steps of a pyramid up to ``max_scale`` (a power of two): (2, 4, ..., max_scale)."""
    n = int(round(math.log2(max_scale))) if max_scale > 0 else 0
    if n < 1 or 2**n != max_scale:
        raise SRLibError(f"max_scale must be a power of two >= 2, got {max_scale}")
    return tuple(2 ** (i + 1) for i in range(n))


def _conv3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect", bias=bias)


class DenseLayer(nn.Module):
    """One dense layer whose k new maps are concatenated to its input.

    ``kind='crc'`` is ProSR's conv1x1 -> ReLU -> conv3x3 (no batch norm, no leading ReLU);
    ``kind='brcbrc'`` is DenseNet's original BN-ReLU-conv1x1-BN-ReLU-conv3x3 (Table 1 baseline).
    """

    def __init__(self, cin: int, growth: int, bn_size: int = 4, kind: str = "crc") -> None:
        super().__init__()
        mid = bn_size * growth
        if kind == "crc":
            self.body = nn.Sequential(nn.Conv2d(cin, mid, 1), nn.ReLU(inplace=True),
                                      _conv3(mid, growth))
        elif kind == "brcbrc":
            self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, mid, 1),
                                      nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                                      _conv3(mid, growth))
        else:
            raise SRLibError(f"dense_layer must be 'crc' or 'brcbrc', got {kind!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DCU(nn.Module):
    """Dense compression unit: ``layers`` dense layers, then a 1x1 compression.

    ``residual`` (ProSR-l): compress back to the input width and return x + res_scale * f(x).
    Otherwise compress to ``int(compression * width)``; ``compression=None`` keeps the dense
    block's full width (the last DCU of a ProSR-s level).
    """

    def __init__(self, cin: int, layers: int, growth: int, bn_size: int = 4,
                 compression: float | None = 0.4, residual: bool = False,
                 res_scale: float = 0.2, dense_layer: str = "crc") -> None:
        super().__init__()
        self.block = nn.Sequential(*[DenseLayer(cin + i * growth, growth, bn_size, dense_layer)
                                     for i in range(layers)])
        width = cin + layers * growth
        self.residual, self.res_scale = residual, res_scale
        if residual:
            self.compress = nn.Conv2d(width, cin, 1, bias=False)
            self.out_channels = cin
        elif compression is not None:
            self.out_channels = int(compression * width)
            self.compress = nn.Conv2d(width, self.out_channels, 1, bias=False)
        else:
            self.compress, self.out_channels = nn.Identity(), width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.compress(self.block(x))
        return x + self.res_scale * out if self.residual else out


class PyramidLevel(nn.Module):
    """[1x1 level compression] -> DCUs -> final conv [+ level residual] -> x2 sub-pixel -> ReLU.

    A level with no DCUs is a bare sub-pixel upsampler (the "S" of the paper's D-D-D-D-S-S).
    """

    def __init__(self, cin: int, n_dcus: int, layers: int, growth: int, bn_size: int,
                 block_compression: float | None, level_width: int | None, residual: bool,
                 res_scale: float, max_features: int, dense_layer: str) -> None:
        super().__init__()
        use_width = level_width is not None and n_dcus > 0
        self.compress = nn.Conv2d(cin, level_width, 1, bias=False) if use_width else nn.Identity()
        c = c0 = level_width if use_width else cin
        body: list[nn.Module] = []
        for i in range(n_dcus):
            last = i == n_dcus - 1
            dcu = DCU(c, layers, growth, bn_size, None if last else block_compression,
                      residual, res_scale, dense_layer)
            body.append(dcu)
            c = dcu.out_channels
        if n_dcus:
            if c > max_features:
                body += [nn.Conv2d(c, max_features, 1), _conv3(max_features, max_features)]
                c = max_features
            else:
                body.append(_conv3(c, c))
        self.body = nn.Sequential(*body)
        self.residual = residual and n_dcus > 0 and c == c0  # ProSR-l: level(x) + x
        self.upsample = nn.Sequential(_conv3(c, 4 * c), nn.PixelShuffle(2), nn.ReLU(inplace=True))
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.compress(x)
        out = self.body(x)
        if self.residual:
            out = out + x
        return self.upsample(out)


class ProSR(nn.Module):
    """The progressive pyramid; ``forward(lr, scale=None, blend=1.0, return_all=False)``.

    ``scale`` (default: the model's ``scale``) picks the input layer and how many levels run.
    ``blend < 1`` mixes the top level's residual with a bilinear x2 of the level below (the
    curriculum's fade-in). ``residual_mode='laplacian'`` is the LapSRN-style alternative of the
    paper's Eq. (8): each level adds its residual to a bicubic x2 of the previous level's
    *image* instead of to a fixed bicubic upsampling of the input. ``return_all`` returns the
    image of every level up to ``scale`` (for deep supervision).
    """

    takes_scale = True

    def __init__(
        self, scale: int = 4, max_scale: int = 8, features: int = 160, growth: int = 40,
        dcus: tuple[int, ...] = (9, 3, 1), layers: int = 8, bn_size: int = 4,
        block_compression: float | None = None, level_compression: float | None = None,
        residual: bool = True, res_scale: float = 0.2, max_features: int = 312,
        dense_layer: str = "crc", residual_mode: str = "bicubic",
    ) -> None:
        super().__init__()
        self.scales = pyramid_scales(max_scale)
        n_levels = len(self.scales)
        if len(dcus) != n_levels:
            raise SRLibError(f"dcus needs one entry per level ({n_levels} for x{max_scale}), "
                             f"got {tuple(dcus)}")
        if residual_mode not in ("bicubic", "laplacian"):
            raise SRLibError(f"residual_mode must be 'bicubic' or 'laplacian', got "
                             f"{residual_mode!r}")
        self.max_scale, self.residual_mode = max_scale, residual_mode
        self.scale = self._check_scale(scale)
        self.in_channels = 3
        self.register_buffer("mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1))
        self.inputs = nn.ModuleDict({str(s): _conv3(3, features) for s in self.scales})
        self.levels = nn.ModuleList()
        self.recon = nn.ModuleList()
        c = features
        for i, n in enumerate(dcus):
            if i == 0 or level_compression is None:
                width = None if i == 0 else features
            else:
                width = int(level_compression * c)
            level = PyramidLevel(c, n, layers, growth, bn_size, block_compression, width,
                                 residual, res_scale, max_features, dense_layer)
            self.levels.append(level)
            c = level.out_channels
            self.recon.append(_conv3(c, 3))

    def _check_scale(self, scale: int) -> int:
        if int(scale) not in self.scales:
            raise SRLibError(f"ProSR upscales by {self.scales}, not x{scale}")
        return int(scale)

    def forward(self, lr: torch.Tensor, scale: int | None = None, blend: float = 1.0,
                return_all: bool = False):
        s = self._check_scale(scale or self.scale)
        n = self.scales.index(s) + 1
        h = self.inputs[str(s)]((lr - self.mean) * PIXEL_RANGE)
        residuals = []
        for i in range(n):
            h = self.levels[i](h)
            if return_all or i >= n - 2 or self.residual_mode == "laplacian":
                residuals.append(self.recon[i](h) / PIXEL_RANGE)
            else:
                residuals.append(None)
        if blend < 1 and n > 1:  # fade the new top level in over the one below it
            below = F.interpolate(residuals[-2], scale_factor=2, mode="bilinear",
                                  align_corners=True)
            residuals[-1] = blend * residuals[-1] + (1 - blend) * below
        outs = []
        for i, r in enumerate(residuals):
            if r is None:
                outs.append(None)
            elif self.residual_mode == "laplacian":
                base = imresize(lr if i == 0 else outs[-1], 2)
                outs.append(base + r)
            else:
                outs.append(imresize(lr, 2 ** (i + 1)) + r)
        return outs if return_all else outs[-1]

    def at_scale(self, scale: int) -> ScaleView:
        """A view of this network fixed at one scale (shares the weights): what ``evaluate``
        and ``super_resolve`` need, e.g. ``evaluate(model.at_scale(8), set14_x8)``."""
        return ScaleView(self, self._check_scale(scale))


class PreUpsamplingDCUNet(nn.Module):
    """The pre-upsampling counterpart of a pyramid, for the "why progressive" comparison: the
    same DCUs, run after a bicubic upsampling, i.e. all at HR resolution (as VDSR does).
    ``dcus`` DCUs of ``layers`` dense layers, then a conv and the reconstruction layer."""

    def __init__(self, scale: int = 4, features: int = 24, growth: int = 12, dcus: int = 4,
                 layers: int = 6, bn_size: int = 4, block_compression: float | None = 0.4
                 ) -> None:
        super().__init__()
        self.scale, self.in_channels = int(scale), 3
        self.register_buffer("mean", torch.tensor(DIV2K_RGB_MEAN).view(1, 3, 1, 1))
        body: list[nn.Module] = [_conv3(3, features)]
        c = features
        for i in range(dcus):
            dcu = DCU(c, layers, growth, bn_size, None if i == dcus - 1 else block_compression)
            body.append(dcu)
            c = dcu.out_channels
        body += [_conv3(c, c), _conv3(c, 3)]
        self.body = nn.Sequential(*body)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        up = imresize(lr, self.scale)
        return up + self.body((up - self.mean) * PIXEL_RANGE) / PIXEL_RANGE


def prosr_l(
    scale: int = 4, max_scale: int = 8, features: int = 160, growth: int = 40,
    dcus: tuple[int, ...] = (9, 3, 1), layers: int = 8, bn_size: int = 4,
    block_compression: float | None = None, level_compression: float | None = None,
    residual: bool = True, res_scale: float = 0.2, max_features: int = 312,
    dense_layer: str = "crc", residual_mode: str = "bicubic",
) -> ProSR:
    """ProSR-l, the paper's large model (15.5M parameters)."""
    return ProSR(**locals())


def prosr_s(
    scale: int = 4, max_scale: int = 8, features: int = 24, growth: int = 12,
    dcus: tuple[int, ...] = (4, 2, 1), layers: int = 6, bn_size: int = 4,
    block_compression: float | None = 0.4, level_compression: float | None = 0.5,
    residual: bool = False, res_scale: float = 1.0, max_features: int = 312,
    dense_layer: str = "crc", residual_mode: str = "bicubic",
) -> ProSR:
    """ProSR-s as released (42 dense layers, 2.55M parameters; see the module docstring)."""
    return ProSR(**locals())


#: The paper's Table 1 models at x4 (``max_scale=4``), 24 dense layers in all, as ``prosr``
#: options: one 24-layer dense block of DenseNet layers, then two sub-pixel layers; four DCUs of
#: six layers then two sub-pixel layers (D-D-D-D-S-S); the asymmetric pyramid D-D-D-S-D-S.
ABLATIONS: dict[str, dict] = {
    "single dense block": dict(dcus=(1, 0), layers=24, dense_layer="brcbrc"),
    "4 DCUs (direct)": dict(dcus=(4, 0), layers=6),
    "asymmetric pyramid": dict(dcus=(3, 1), layers=6),
}
