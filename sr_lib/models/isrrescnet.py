"""ISRResCNet (Umer and Micheloni, seed 000): SR as unrolled majorisation-minimisation.

Each of the K iterations takes an extrapolated point, a data-fidelity step
``z = y_k + (1 / alpha) H^T (y - H y_k)`` and a proximal step ``x = clip(z - P(ERD(z)))``,
where one ERD denoiser is shared by every iteration and P is the projection onto an L2 ball
whose radius follows the noise level estimated from the LR image. Details the paper leaves
open follow the authors' released code (``shared/design/seed-facts.md`` section 1):
weight-normalised convolutions, PReLU pre-activation blocks whose first block has no
shortcut, a feedback loop that repeats (PReLU, 1x1 compression, blocks), radius
``exp(alpha_k) sigma sqrt(N - 1)`` with alpha_k on a log scale from 2 down to 1,
extrapolation weights k / (k + 3).

The step size 1 / alpha of the data step: the majoriser needs alpha >= ||H^T H||. The released
code uses step 1 with an interpolating "H^T" whose gain is about s^2 times that of the true
adjoint. With the true adjoint of MATLAB bicubic, ||H^T H|| = 1/s^2 (the DC gain), so the
default step is s^2 (the tightest majoriser); ``step_size=1`` is the paper's equation read
literally, which corrects only 1/s^2 of the residual per iteration and trains far worse.

Memory: every iteration runs the ERD at HR resolution and training keeps the activations of up
to ``k2`` iterations (:class:`~sr_lib.train.TBPTT`), so the footprint grows with K, the batch
and the patch area. On a CPU the default 388K-parameter ERD at x4 with 24x24 LR patches peaks
at about 3.7 GB for batch 2 and needs more than 14 GB for batch 16; scale the batch or patch
down first on a small machine.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..errors import SRLibError
from ..noise import estimate_sigma
from ..resize import _cubic, imresize, imresize_adjoint


def project_l2_ball(r: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Proximal map of the indicator of {||r|| <= radius}, per image: r * radius / max(||r||,
    radius). ``radius`` has one entry per image."""
    norm = r.flatten(1).norm(dim=1)
    scale = radius / torch.maximum(norm, radius).clamp_min(1e-12)
    return r * scale.view(-1, *([1] * (r.dim() - 1)))


class PreActBlock(nn.Module):
    """PReLU -> reflect pad -> conv3x3 (weight norm), twice; with or without the shortcut."""

    def __init__(self, features: int = 64, shortcut: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers += [nn.PReLU(features, init=0.1), nn.ReflectionPad2d(1),
                       weight_norm(nn.Conv2d(features, features, 3))]
        self.body = nn.Sequential(*layers)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.shortcut else out


class ERD(nn.Module):
    """Encoder (reflect-padded 5x5 conv) - residual blocks - decoder (5x5 transposed conv).

    With ``feedback > 0`` the blocks run ``feedback`` times with shared weights, each time after
    concatenating the features with themselves (the released code's hidden state), a PReLU
    and a 1x1 compression of 2F -> F maps.
    """

    def __init__(self, channels: int = 3, features: int = 64, blocks: int = 5,
                 feedback: int = 0, init: str = "pytorch") -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.ReflectionPad2d(2),
                                     weight_norm(nn.Conv2d(channels, features, 5)))
        self.blocks = nn.Sequential(*[PreActBlock(features, shortcut=i > 0)
                                      for i in range(blocks)])
        self.feedback = feedback
        if feedback:
            self.compress = nn.Sequential(nn.PReLU(2 * features, init=0.1),
                                          weight_norm(nn.Conv2d(2 * features, features, 1)))
        self.decoder = weight_norm(nn.ConvTranspose2d(features, channels, 5, padding=2))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.zeros_(m.bias)
                if init == "kaiming":  # the paper's; weight norm's g then equals ||v||
                    w = torch.empty_like(m.weight)
                    nn.init.kaiming_normal_(w, a=0.1, nonlinearity="leaky_relu")
                    with torch.no_grad():
                        m.weight = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        if self.feedback:
            for _ in range(self.feedback):
                h = self.blocks(self.compress(torch.cat([h, h], dim=1)))
        else:
            h = self.blocks(h)
        return self.decoder(h)


@lru_cache(maxsize=64)
def _corner_cubic_matrix(in_len: int, out_len: int) -> np.ndarray:
    """Corner-aligned cubic interpolation (sample i at input coordinate i * in / out, borders
    replicated, no antialiasing): the released code's 'H^T'."""
    u = np.arange(out_len) * (in_len / out_len)
    left = np.floor(u).astype(np.int64) - 1
    idx = left[:, None] + np.arange(4)[None, :]
    w = _cubic(u[:, None] - idx)
    mat = np.zeros((out_len, in_len))
    rows = np.repeat(np.arange(out_len), 4)
    np.add.at(mat, (rows, np.clip(idx, 0, in_len - 1).ravel()), w.ravel())
    return mat


class BackProjection(nn.Module):
    """Parameter-free iterative back-projection: K data steps ``x <- clip(x + step H^T (y - Hx))``
    from the start x0, i.e. ISRResCNet without its denoiser.

    It is the baseline that tells how much of an unrolled network's score the learned prior
    adds: the data step alone already moves a bilinear start towards the LR observation.
    ``data_step``, ``step_size`` and ``x0`` mean what they mean for :class:`ISRResCNet`.
    """

    receptive_field = None  # the adjoint spreads every LR pixel over the whole HR grid

    def __init__(self, scale: int = 4, iterations: int = 10, data_step: str = "exact",
                 step_size: float | None = None, x0: str = "bilinear") -> None:
        super().__init__()
        if x0 not in ("bilinear", "bicubic"):
            raise SRLibError(f"x0 must be 'bilinear' or 'bicubic', got {x0!r}")
        if data_step not in ("exact", "released"):
            raise SRLibError(f"data_step must be 'exact' or 'released', got {data_step!r}")
        if iterations < 1:
            raise SRLibError(f"iterations must be >= 1, got {iterations}")
        self.scale, self.in_channels, self.iterations = int(scale), 3, int(iterations)
        self.x0, self.data_step = x0, data_step
        if step_size is None:  # tightest majoriser for the exact pair; the released code's 1
            step_size = float(scale) ** 2 if data_step == "exact" else 1.0
        if not step_size > 0:
            raise SRLibError(f"step_size must be positive, got {step_size}")
        self.step_size = float(step_size)

    # -- the observation operator ----------------------------------------------------------
    def H(self, x: torch.Tensor) -> torch.Tensor:
        if self.data_step == "exact":
            return imresize(x, 1 / self.scale)
        return x[..., :: self.scale, :: self.scale]

    def Ht(self, y: torch.Tensor, hr_size: tuple[int, int]) -> torch.Tensor:
        if self.data_step == "exact":
            return imresize_adjoint(y, hr_size, 1 / self.scale)
        mh = torch.from_numpy(_corner_cubic_matrix(y.shape[-2], hr_size[0])).to(y)
        mw = torch.from_numpy(_corner_cubic_matrix(y.shape[-1], hr_size[1])).to(y)
        return mh @ y @ mw.T

    def data_fidelity_step(self, x: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        """z = x + (1 / alpha) H^T (y - Hx): a gradient step on 1/2 ||y - Hx||^2."""
        return x + self.step_size * self.Ht(lr - self.H(x), x.shape[-2:])

    def start(self, lr: torch.Tensor) -> torch.Tensor:
        """x(0): MATLAB bicubic (the exact H's pixel grid) or corner-aligned bilinear."""
        h, w = lr.shape[-2] * self.scale, lr.shape[-1] * self.scale
        if self.x0 == "bicubic":
            return imresize(lr, size=(h, w))
        return F.interpolate(lr, size=(h, w), mode="bilinear", align_corners=True)

    def forward(self, lr: torch.Tensor, return_all: bool = False):
        """x(K); with ``return_all`` the list x(1), ..., x(K)."""
        x, outs = self.start(lr), []
        for _ in range(self.iterations):
            x = self.data_fidelity_step(x, lr).clamp(0, 1)
            outs.append(x)
        return outs if return_all else outs[-1]


class ISRResCNet(BackProjection):
    """K unrolled MM iterations with one shared ERD; inputs and outputs are RGB in [0, 1].

    ``data_step='exact'`` uses MATLAB bicubic H and its true adjoint; ``'released'`` uses the
    released code's pair (decimation for H, corner-aligned cubic upsampling for H^T).
    ``learn_extrapolation=False`` freezes the k / (k + 3) weights (an ablation).
    ``step_size`` is 1 / alpha of the data step; ``None`` picks s^2 for ``'exact'`` (alpha =
    ||H^T H||) and 1 for ``'released'``. ``init='kaiming'`` is the paper's initialisation (zero
    biases either way); ``'pytorch'`` keeps PyTorch's default (what the released code gets).
    ``x0='bicubic'`` starts from MATLAB bicubic upscaling, on the pixel-centre grid of the
    exact H; ``'bilinear'`` is the released code's corner-aligned start (Chapter 1 measures the
    cost of mixing it with the exact H). The operator pair and the start come from
    :class:`BackProjection`, which is this model with the denoiser removed.
    """

    # the noise level and the L2-ball radius are measured on the whole image, so every output
    # pixel depends on every input pixel: tiled inference is close, never exact
    receptive_field = None

    def __init__(
        self, scale: int = 4, iterations: int = 10, feedback: int = 0, features: int = 64,
        blocks: int = 5, data_step: str = "exact", learn_extrapolation: bool = True,
        alpha_max: float = 2.0, alpha_min: float = 1.0, step_size: float | None = None,
        init: str = "pytorch", x0: str = "bilinear",
    ) -> None:
        if init not in ("pytorch", "kaiming"):
            raise SRLibError(f"init must be 'pytorch' or 'kaiming', got {init!r}")
        super().__init__(scale, iterations, data_step, step_size, x0)
        self.erd = ERD(3, features, blocks, feedback, init)
        self.log_alpha = nn.Parameter(
            torch.linspace(math.log(alpha_max), math.log(alpha_min), self.iterations))
        t = torch.arange(self.iterations, dtype=torch.float32).clamp_min(1)
        self.log_extrapolation = nn.Parameter(torch.log(t / (t + 3)),
                                              requires_grad=learn_extrapolation)

    # -- the TBPTT protocol of sr_lib.train.TBPTT -------------------------------------------
    def init_state(self, lr: torch.Tensor) -> dict:
        x0 = self.start(lr)
        return {"x": x0, "prev": x0, "sigma": estimate_sigma(lr)}

    def _iterate(self, state: dict, lr: torch.Tensor, k: int) -> tuple[dict, dict]:
        x, prev = state["x"], state["prev"]
        y_k = x if k == 0 else x + torch.exp(self.log_extrapolation[k]) * (x - prev)
        z = self.data_fidelity_step(y_k, lr)
        n = z[0].numel()
        radius = torch.exp(self.log_alpha[k]) * (state["sigma"] / 255.0) * math.sqrt(n - 1)
        residual = self.erd(z)
        x_new = (z - project_l2_ball(residual, radius)).clamp(0, 1)
        info = {"z": z, "residual_norm": residual.flatten(1).norm(dim=1), "radius": radius}
        return {"x": x_new, "prev": x, "sigma": state["sigma"]}, info

    def iterate(self, state: dict, lr: torch.Tensor, k: int) -> dict:
        return self._iterate(state, lr, k)[0]

    @torch.no_grad()
    def trace(self, lr: torch.Tensor) -> list[dict]:
        """What each iteration does, for diagnosis: per k the data-step output ``z`` (after the
        extrapolation), the estimate ``x``, the ERD residual's norm and the ball's radius (the
        projection binds when the norm exceeds the radius)."""
        state, steps = self.init_state(lr), []
        for k in range(self.iterations):
            state, info = self._iterate(state, lr, k)
            steps.append(dict(info, x=state["x"]))
        return steps

    def estimate(self, state: dict) -> torch.Tensor:
        return state["x"]

    def forward(self, lr: torch.Tensor, return_all: bool = False):
        """SR estimate after K iterations; with ``return_all`` the list x(1), ..., x(K)."""
        state = self.init_state(lr)
        outs = []
        for k in range(self.iterations):
            state = self.iterate(state, lr, k)
            outs.append(state["x"])
        return outs if return_all else outs[-1]
