"""Reading and writing images, and the only place where dtypes and value ranges change.

Conventions used everywhere in sr_lib:

* a *uint8 image* is a ``numpy.ndarray`` of shape (H, W, C) and dtype uint8 (C = 1 or 3);
* a *tensor image* is a float32 ``torch.Tensor`` of shape (C, H, W) or (N, C, H, W) with
  values in [0, 1].

RGBA files are composited onto a white background (what a viewer shows), grayscale files keep
one channel (use :func:`to_rgb` to replicate it) and 16-bit files are scaled to 8 bits with
rounding, because every benchmark in the SR literature is 8-bit. To keep a file's alpha plane
and its 16 bits (when upscaling a user's image), use :mod:`sr_lib.imagefile`.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import SRLibError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 (H, W, C) with C = 1 (grayscale) or 3 (RGB)."""
    with open_image(path) as im:
        return pil_to_uint8(im, source=str(path))


@contextmanager
def open_image(path: str | Path):
    """The decoded PIL image of ``path``; a missing, unreadable, corrupt or oversized file is
    an SRLibError that says so (every reader of image files goes through here)."""
    path = Path(path)
    if not path.is_file():
        raise SRLibError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            yield im
    except Image.DecompressionBombError as exc:
        raise SRLibError(
            f"{path} is larger than Pillow's safety limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
            f"({exc}); if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS, or work on a "
            "crop") from None
    except UnidentifiedImageError:
        raise SRLibError(
            f"{path} is not an image PIL can read (PNG, JPEG or BMP expected)"
        ) from None
    except (OSError, SyntaxError) as exc:
        raise SRLibError(f"{path} looks corrupt or truncated: {exc}") from None


def image_format(path: str | Path) -> str:
    """Pillow's format name for the suffix of ``path`` (an unknown suffix is an error)."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise SRLibError(f"cannot tell the image format of {path}; use a .png, .jpg or .bmp name")
    return fmt


def pil_to_uint8(im: Image.Image, source: str = "image") -> np.ndarray:
    """Convert any common PIL mode to uint8 (H, W, 1|3); see the module docstring for rules."""
    mode = im.mode
    if mode in ("RGB", "L"):
        arr = np.asarray(im)
    elif mode in ("RGBA", "LA", "P", "PA"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        arr = np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    elif mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        wide = np.asarray(im).astype(np.float64)
        top = 65535.0 if wide.max() > 255 or mode.startswith("I;16") else 255.0
        arr = np.clip(np.round(wide / top * 255.0), 0, 255).astype(np.uint8)
    elif mode in ("1", "CMYK", "YCbCr"):
        arr = np.asarray(im.convert("RGB" if mode != "1" else "L"))
    else:
        raise SRLibError(
            f"{source}: unsupported image mode {mode!r}; convert it to RGB or L first"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr)


def write_image(path: str | Path, image: np.ndarray | torch.Tensor) -> None:
    """Write a uint8 array or a [0, 1] tensor image to a file (format from the suffix)."""
    if isinstance(image, torch.Tensor):
        image = tensor_to_uint8(image)
    if image.dtype != np.uint8:
        raise SRLibError(f"write_image expects uint8 data, got {image.dtype}; use tensor_to_uint8")
    if image.shape[-1] == 1:
        image = image[:, :, 0]
    path = Path(path)
    fmt = image_format(path)
    if fmt == "PNG" and image.size > STREAM_PNG_ABOVE:  # no second full copy inside Pillow
        atomic_write(path, lambda f: write_png_stream(f, image))
        return
    atomic_write(path, lambda f: Image.fromarray(image).save(f, format=fmt))


STREAM_PNG_ABOVE = 1 << 26  # bytes of image data (e.g. above about 4700x4700 RGB)


def write_png_stream(f, image: np.ndarray, rows_per_chunk: int = 256) -> None:
    """Write a uint8 or uint16 (H, W[, C]) array as PNG (C = 1 grey, 2 grey + alpha, 3 RGB,
    4 RGBA), compressing a few rows at a time.

    Pillow copies an image into its own buffer before encoding (and cannot write 16-bit
    colour); for an upscaled 16000x16000 result that doubles the memory. This writer reads the
    rows straight from ``image``.
    """
    def chunk(kind: bytes, data: bytes) -> None:
        f.write(struct.pack(">I", len(data)) + kind + data)
        f.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    arr = image if image.ndim == 3 else image[:, :, None]
    h, w, c = arr.shape
    if arr.dtype not in (np.uint8, np.uint16) or c not in (1, 2, 3, 4):
        raise SRLibError(f"write_png_stream takes uint8 or uint16 (H, W[, 1-4]) data, got "
                         f"{image.dtype} {image.shape}")
    depth = 8 * arr.dtype.itemsize
    f.write(b"\x89PNG\r\n\x1a\n")
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0))
    comp = zlib.compressobj(6)
    for r0 in range(0, h, rows_per_chunk):
        rows = np.ascontiguousarray(arr[r0:r0 + rows_per_chunk], dtype=f">u{depth // 8}")
        rows = rows.reshape(rows.shape[0], -1).view(np.uint8)  # big-endian bytes, as PNG wants
        lines = np.concatenate([np.zeros((rows.shape[0], 1), np.uint8), rows], axis=1)
        data = comp.compress(lines.tobytes())
        if data:
            chunk(b"IDAT", data)
    chunk(b"IDAT", comp.flush())
    chunk(b"IEND", b"")


def atomic_write(path: str | Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A crash, a full disk or a read-only folder never leaves a half-written ``path``, and never
    destroys a previous version of it; the error says what happened and what to do."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise SRLibError(f"cannot write {path}: {exc.strerror or exc} (is the folder read-only "
                         "or missing?); choose another output location") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as RuntimeError
        Path(tmp).unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        if _disk_full(path):
            reason = f"the disk is full ({reason})"
        raise SRLibError(f"could not write {path}: {reason}; nothing was overwritten. Free some "
                         "space or choose another output location") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _disk_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def uint8_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> float32 (C, H, W) in [0, 1]."""
    if image.dtype != np.uint8:
        raise SRLibError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    return torch.from_numpy(np.array(image.transpose(2, 0, 1))).float().div_(255.0)


def quantize(x: torch.Tensor, top: float = 255.0) -> torch.Tensor:
    """Round a [0, 1] tensor to the 256 levels of an 8-bit image (``top=65535.0``: the levels
    of a 16-bit one), still float, still [0, 1].

    Values outside [0, 1] are clamped: this is the saturation every image file applies, and it
    is what the SR literature does before scoring. Halves round up, like MATLAB's ``uint8``
    (``torch.round`` would round them to even).
    """
    return x.mul(top).add_(0.5).floor_().clamp_(0, top).div_(top)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (C, H, W) or (1, C, H, W) in [0, 1] -> uint8 (H, W, C), rounding and saturating."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise SRLibError(f"tensor_to_uint8 takes one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3:
        raise SRLibError(f"expected a (C, H, W) tensor, got shape {tuple(x.shape)}")
    arr = quantize(x.detach().float().cpu()).mul_(255.0).round_().to(torch.uint8)
    return arr.permute(1, 2, 0).contiguous().numpy()


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Replicate a single-channel uint8 image to three channels (no-op for RGB)."""
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def list_images(folder: str | Path) -> list[Path]:
    """Image files of a folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SRLibError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
