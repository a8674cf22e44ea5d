"""MATLAB-compatible ``imresize`` as a batched, differentiable torch operator, and its adjoint.

MATLAB's bicubic resize is separable: along each axis every output sample is a weighted sum of
input samples, so the whole resize is ``Y = A_h X A_w^T`` for two small matrices. We build those
matrices once (in float64, cached) exactly as ``imresize.m`` does:

* cubic kernel with a = -0.5 (Keys), support 4;
* when shrinking by ``s < 1`` the kernel is stretched to ``s * k(s x)`` (antialiasing);
* output pixel ``i`` (1-based) sits at input coordinate ``u = i / s + (1 - 1 / s) / 2``
  (pixel centres aligned);
* weights are normalised to sum to one and out-of-range taps are mirrored (symmetric border).

Because the operator is a pair of matrix products it runs on any device, back-propagates, and
its exact adjoint is ``X' = A_h^T Y A_w`` (what ISRResCNet calls H^T).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .errors import SRLibError

KERNELS = ("cubic", "nearest", "linear")


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * (ax <= 1)
    far = (a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a) * ((ax > 1) & (ax <= 2))
    return near + far


def _box(x: np.ndarray) -> np.ndarray:
    return ((x >= -0.5) & (x < 0.5)).astype(np.float64)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1 - np.abs(x), 0, None)


_KERNEL_FUNCS = {"cubic": (_cubic, 4.0), "nearest": (_box, 1.0), "linear": (_triangle, 2.0)}


@lru_cache(maxsize=256)
def resize_matrix(
    in_len: int, out_len: int, scale: float, kernel: str = "cubic", antialias: bool = True
) -> np.ndarray:
    """The (out_len, in_len) float64 matrix of one axis of MATLAB's ``imresize``."""
    if kernel not in _KERNEL_FUNCS:
        raise SRLibError(f"unknown resize kernel {kernel!r}; choose one of {KERNELS}")
    func, width = _KERNEL_FUNCS[kernel]
    if scale < 1 and antialias and kernel != "nearest":
        def h(t):
            return scale * func(scale * t)
        width = width / scale
    else:
        h = func
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    weights = h(u[:, None] - idx)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    mat = np.zeros((out_len, in_len))
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(mat, (rows, idx0.ravel()), weights.ravel())
    return mat


def _plan(in_hw: tuple[int, int], scale: float | None, size: tuple[int, int] | None):
    if (scale is None) == (size is None):
        raise SRLibError("imresize needs exactly one of scale= or size=")
    if size is not None:
        if len(size) != 2 or any(int(v) != v for v in size):
            raise SRLibError(f"size must be two whole numbers (h, w), got {tuple(size)}")
        out_hw = (int(size[0]), int(size[1]))
        if min(out_hw) < 1:
            raise SRLibError(f"size must be at least 1x1, got {out_hw}")
        scales = (out_hw[0] / in_hw[0], out_hw[1] / in_hw[1])
    else:
        if not (scale > 0 and math.isfinite(scale)):
            raise SRLibError(f"resize scale must be a finite number above 0, got {scale}")
        if scale * max(in_hw) < 1:  # the antialiasing kernel would span 4 / scale pixels
            raise SRLibError(f"resizing {in_hw} by {scale:g} leaves less than one pixel; use a "
                             f"scale of at least 1/{max(in_hw)}")
        out_hw = (math.ceil(in_hw[0] * scale - 1e-9), math.ceil(in_hw[1] * scale - 1e-9))
        scales = (scale, scale)
    if min(out_hw) < 1:
        raise SRLibError(f"resizing {in_hw} by {scale} leaves an empty image")
    if out_hw[0] * out_hw[1] > _MAX_PIXELS:
        raise SRLibError(f"resizing {in_hw} to {out_hw} asks for more than {_MAX_PIXELS:,} "
                         "pixels per channel; resize a crop or tile it")
    return out_hw, scales


_MAX_PIXELS = 1 << 30  # about 32768 x 32768: far beyond any SR benchmark


def _matrices(in_hw, out_hw, scales, kernel, antialias, like: torch.Tensor):
    dtype = like.dtype if like.is_floating_point() else torch.float32
    return (_device_matrix(in_hw[0], out_hw[0], float(scales[0]), kernel, antialias,
                           like.device, dtype),
            _device_matrix(in_hw[1], out_hw[1], float(scales[1]), kernel, antialias,
                           like.device, dtype))


@lru_cache(maxsize=256)
def _device_matrix(in_len: int, out_len: int, scale: float, kernel: str, antialias: bool,
                   device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """:func:`resize_matrix` as a tensor, kept per device and dtype: a training step on a GPU
    reuses it instead of rebuilding it in numpy and copying it over on every call."""
    mat = torch.from_numpy(resize_matrix(in_len, out_len, scale, kernel, antialias))
    return mat.to(device, dtype)


def imresize(
    x: torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    kernel: str = "cubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Resize (..., H, W) like MATLAB ``imresize(x, scale, 'bicubic')``; no rounding.

    ``scale`` follows MATLAB: the output size is ``ceil(scale * input)``. Pass ``size=(h, w)``
    instead to fix the output size. Integer inputs are converted to float32.
    """
    if x.dim() < 2:
        raise SRLibError(f"imresize needs at least a (H, W) tensor, got shape {tuple(x.shape)}")
    if exporting() and x.dim() == 4 and antialias:  # keep the image size symbolic
        factor = _integer_factor(x.shape[-2:], scale, size)
        if factor is not None and factor > 0:
            return upscale_by_convolution(x, factor, kernel)
        if factor is not None:
            return downscale_by_convolution(x, -factor, kernel)
    in_hw = (x.shape[-2], x.shape[-1])
    out_hw, scales = _plan(in_hw, scale, size)
    mh, mw = _matrices(in_hw, out_hw, scales, kernel, antialias, x)
    x = x.to(mh.dtype)
    return torch.matmul(torch.matmul(mh, x), mw.transpose(0, 1))


def exporting() -> bool:
    """Whether the call is being traced for ONNX export (where matrices built for one image
    size would be frozen into the graph)."""
    return torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()


def _integer_factor(in_hw, scale, size) -> int | None:
    """+s for an upscaling by a whole factor s, -s for a downscaling by 1/s, else None."""
    if size is not None:
        ratios = {int(size[0]) / int(in_hw[0]), int(size[1]) / int(in_hw[1])}
        scale = ratios.pop() if len(ratios) == 1 else None
    if scale is None:
        return None
    if scale >= 1 and float(scale).is_integer():
        return int(scale)
    if scale < 1 and abs(1 / scale - round(1 / scale)) < 1e-9:
        return -round(1 / scale)
    return None


_PAD = 3  # taps each side of an input pixel that MATLAB's cubic upscaling can reach


@lru_cache(maxsize=32)
def _phase_taps(s: int, kernel: str) -> np.ndarray:
    """(s, 7) weights: output pixel ``s*j + r`` of an integer upscaling by ``s`` mixes input
    pixels ``j-3 .. j+3`` with row ``r``; read off :func:`resize_matrix` away from the border."""
    n = 4 * _PAD + 4
    mat = resize_matrix(n, n * s, float(s), kernel)
    j = n // 2
    return np.stack([mat[s * j + r, j - _PAD:j + _PAD + 1] for r in range(s)])


def upscale_by_convolution(x: torch.Tensor, s: int, kernel: str = "cubic") -> torch.Tensor:
    """``imresize(x, s)`` for an integer factor ``s`` and a (N, C, H, W) tensor, written as
    symmetric padding, a 1-D convolution with one filter per output phase and an interleave,
    along each axis: the same numbers, with no matrix tied to the image size, so an exported
    ONNX graph takes any image size. Inputs need at least 3 pixels a side."""
    taps = torch.from_numpy(_phase_taps(s, kernel)).to(x.dtype if x.is_floating_point()
                                                          else torch.float32)
    weight = taps[:, None, :]  # (s, 1, 7)

    def along_width(t: torch.Tensor) -> torch.Tensor:
        left, right = t[..., [2, 1, 0]], t[..., [-1, -2, -3]]  # symmetric, as MATLAB mirrors
        padded = torch.cat([left, t, right], dim=-1)
        n, c, h = t.shape[0], t.shape[1], t.shape[2]
        out = torch.nn.functional.conv1d(padded.reshape(-1, 1, padded.shape[-1]), weight)
        return out.transpose(1, 2).reshape(n, c, h, -1)  # (.., W, s) -> (.., W * s)

    x = x if x.is_floating_point() else x.float()
    return along_width(along_width(x).transpose(2, 3)).transpose(2, 3)


@lru_cache(maxsize=32)
def _down_taps(s: int, kernel: str) -> tuple[np.ndarray, int, int]:
    """The weights of one output pixel of a downscaling by 1/s (the same for every pixel away
    from the border) and how far they reach left and right of input pixel ``s*j``."""
    n = 16 * s
    mat = resize_matrix(n, n // s, 1 / s, kernel)
    j = n // s // 2
    cols = np.nonzero(mat[j])[0]
    return mat[j, cols[0]:cols[-1] + 1], s * j - int(cols[0]), int(cols[-1]) - s * j


def _symmetric(t: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Pad the last axis by mirroring with the edge pixel repeated (MATLAB's rule)."""
    parts = [t[..., list(range(left - 1, -1, -1))]] if left else []
    parts.append(t)
    if right:
        parts.append(t[..., [-k for k in range(1, right + 1)]])
    return torch.cat(parts, dim=-1)


def _per_axis(x: torch.Tensor, along) -> torch.Tensor:
    """Apply a last-axis operation to the width, then to the height, of (N, C, H, W)."""
    return along(along(x).transpose(2, 3)).transpose(2, 3)


def downscale_by_convolution(x: torch.Tensor, s: int, kernel: str = "cubic") -> torch.Tensor:
    """``imresize(x, 1/s)`` for a whole factor ``s`` on (N, C, H, W): symmetric padding and a
    strided 1-D convolution per axis, with no matrix tied to the image size (for export)."""
    taps, left, right = _down_taps(s, kernel)
    x = x if x.is_floating_point() else x.float()
    weight = torch.from_numpy(taps).to(x.dtype)[None, None, :]

    def along_width(t: torch.Tensor) -> torch.Tensor:
        padded = _symmetric(t, left, right)
        n, c, h = t.shape[0], t.shape[1], t.shape[2]
        out = F.conv1d(padded.reshape(-1, 1, padded.shape[-1]), weight, stride=s)
        return out.reshape(n, c, h, -1)

    return _per_axis(x, along_width)


def downscale_adjoint_by_convolution(y: torch.Tensor, s: int, kernel: str = "cubic"
                                     ) -> torch.Tensor:
    """The exact adjoint of :func:`downscale_by_convolution` for inputs whose sides are
    multiples of ``s`` (an ISRResCNet estimate is ``s`` times its LR input): a transposed
    strided convolution, then the mirrored border folded back onto the pixels it copied."""
    taps, left, right = _down_taps(s, kernel)
    weight = torch.from_numpy(taps).to(y.dtype)[None, None, :]

    def along_width(t: torch.Tensor) -> torch.Tensor:
        n, c, h = t.shape[0], t.shape[1], t.shape[2]
        p = F.conv_transpose1d(t.reshape(-1, 1, t.shape[-1]), weight, stride=s,
                               output_padding=s - 1)
        x = p[..., left:p.shape[-1] - right] if right else p[..., left:]
        if left:
            x = torch.cat([x[..., :left] + p[..., list(range(left - 1, -1, -1))],
                           x[..., left:]], dim=-1)
        if right:
            x = torch.cat([x[..., :-right],
                           x[..., -right:] + p[..., [-k for k in range(1, right + 1)]]],
                          dim=-1)
        return x.reshape(n, c, h, -1)

    return _per_axis(y, along_width)


def imresize_adjoint(
    y: torch.Tensor,
    in_size: tuple[int, int],
    scale: float | None = None,
    kernel: str = "cubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Exact adjoint of ``imresize(., scale)`` applied to inputs of size ``in_size``.

    For all x, y: ``<imresize(x), y> == <x, imresize_adjoint(y, x.shape[-2:])>``.
    """
    in_hw = (int(in_size[0]), int(in_size[1]))
    if exporting() and y.dim() == 4 and antialias:
        factor = _integer_factor(in_hw, scale, None if scale is not None else y.shape[-2:])
        if factor is not None and factor < 0 and in_hw[0] % -factor == in_hw[1] % -factor == 0:
            return downscale_adjoint_by_convolution(y, -factor, kernel)
    out_hw, scales = _plan(in_hw, scale, None if scale is not None else tuple(y.shape[-2:]))
    if tuple(y.shape[-2:]) != out_hw:
        raise SRLibError(
            f"adjoint got a {tuple(y.shape[-2:])} input, but imresize of {in_hw} gives {out_hw}"
        )
    mh, mw = _matrices(in_hw, out_hw, scales, kernel, antialias, y)
    return torch.matmul(torch.matmul(mh.transpose(0, 1), y.to(mh.dtype)), mw)


def operator_norm_sq(
    in_size: tuple[int, int], scale: float, kernel: str = "cubic", exact: bool = True,
    tol: float = 1e-12, max_iters: int = 100_000,
) -> float:
    """||H^T H||_2 of ``imresize(., scale)``: ISRResCNet's data step 1/alpha majorises the data
    term only when alpha >= this value.

    ``exact``: ``imresize`` is separable, H = A_rows (x) A_cols, so ||H||_2 is the product of
    the two axes' largest singular values (:func:`resize_matrix`), at any size. Otherwise power
    iteration, run until the estimate changes by less than ``tol`` (relative): it approaches the
    value from below, and for downscaling the top eigenvalues lie close together, so a fixed
    small number of iterations underestimates it.
    """
    if exact:
        sides = [np.linalg.norm(resize_matrix(n, math.ceil(n * scale), scale, kernel), 2)
                 for n in in_size]
        return float((sides[0] * sides[1]) ** 2)
    x = torch.randn(1, 1, *in_size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    value = 0.0
    for _ in range(max_iters):
        x = x / x.norm()
        x = imresize_adjoint(imresize(x, scale, kernel=kernel), in_size, scale, kernel=kernel)
        previous, value = value, float(x.norm())
        if abs(value - previous) <= tol * value:
            return value
    raise SRLibError(f"power iteration did not settle to {tol:g} in {max_iters} iterations "
                     f"(last estimate {value:.6g}); use exact=True")


def least_norm_solution(
    y: torch.Tensor, in_size: tuple[int, int], scale: float, kernel: str = "cubic",
    iters: int = 500, tol: float = 1e-24,
) -> torch.Tensor:
    """The minimum-norm x with ``imresize(x, scale) == y``: x = H^T (H H^T)^-1 y, solved by
    conjugate gradients on H H^T (which is well conditioned for downscaling).

    Subtracting ``least_norm_solution(imresize(v))`` from any v leaves its null-space part:
    an image detail that the LR observation cannot see at all.
    """
    def hht(z):
        return imresize(imresize_adjoint(z, in_size, scale, kernel), scale, kernel=kernel)

    z = torch.zeros_like(y)
    r = y - hht(z)
    p = r.clone()
    rs = (r * r).sum()
    for _ in range(iters):
        ap = hht(p)
        alpha = rs / (p * ap).sum()
        z = z + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum()
        if float(rs_new) < tol * float((y * y).sum() + 1e-30):
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return imresize_adjoint(z, in_size, scale, kernel)


def pil_resize(x: torch.Tensor, size: tuple[int, int], method: str = "bicubic") -> torch.Tensor:
    """Resize a [0, 1] (C, H, W) tensor with PIL (8-bit, per channel) to ``size = (h, w)``.

    Not MATLAB-compatible (PIL's bicubic uses a = -0.5 too, but it rounds to 8 bits and
    differs at the borders); ProSR's released code makes its LR images this way, and the
    evaluation chapter measures how much the difference costs.
    """
    import numpy as np
    from PIL import Image

    methods = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}
    if method not in methods:
        raise SRLibError(f"unknown PIL method {method!r}; choose one of {tuple(methods)}")
    arr = x.detach().cpu().clamp(0, 1).mul(255).add(0.5).floor().to(torch.uint8).numpy()
    out = [np.asarray(Image.fromarray(c).resize((size[1], size[0]), methods[method]))
           for c in arr]
    return torch.from_numpy(np.stack(out)).float().div(255.0)
