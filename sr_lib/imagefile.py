"""An image file as it is stored: its colour planes, its alpha plane and its bit depth.

Scoring works on 8-bit images without transparency (:func:`sr_lib.imageio.read_image`), as the
SR literature does. Upscaling a user's file is different: a logo with a transparent background
or a 16-bit photograph should come back with its transparency and its 16 bits. This module
reads and writes files that way; ``python -m sr_lib upscale`` uses it and says whenever the
output format cannot hold what the input had.

Pillow reads 16-bit RGB(A) PNGs as 8 bits without a word, so 16-bit PNGs are read with pypng
and written by :func:`sr_lib.imageio.write_png_stream`; 16-bit TIFFs go through tifffile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import SRLibError
from .imageio import atomic_write, image_format, open_image, pil_to_uint8, write_png_stream

# what each output format can hold, by Pillow's format name
_HOLDS_ALPHA = {"PNG", "TIFF", "WEBP"}
_HOLDS_16_BITS = {"PNG", "TIFF"}


@dataclass
class ImageFile:
    """``color`` is (H, W, 1|3) and ``alpha`` (H, W, 1) or None, both uint8 or both uint16."""

    color: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def bits(self) -> int:
        return 16 if self.color.dtype == np.uint16 else 8

    def planes(self) -> np.ndarray:
        """Colour and alpha stacked: (H, W, C) with C = 1-4."""
        if self.alpha is None:
            return self.color
        return np.concatenate([self.color, self.alpha], axis=2)


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _split(arr: np.ndarray, alpha: bool) -> ImageFile:
    arr = arr if arr.ndim == 3 else arr[:, :, None]
    if alpha:
        return ImageFile(np.ascontiguousarray(arr[:, :, :-1]), np.ascontiguousarray(arr[:, :, -1:]))
    return ImageFile(np.ascontiguousarray(arr))


def read_image_file(path: str | Path) -> ImageFile:
    """Read an image with its alpha plane (if any) at its own bit depth (8 or 16)."""
    path = Path(path)
    with open_image(path) as im:  # the same checks and messages as every other reader
        header = _png_header(path)
        if header is not None and header[0] == 16:
            import png  # pypng: Pillow reduced 16-bit RGB to 8 bits

            width, height, rows, info = png.Reader(filename=str(path)).asDirect()
            arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows])
            return _split(arr.reshape(height, width, info["planes"]), info["alpha"])
        if _tiff_bits(im) > 8:
            arr = _tifffile().imread(path)
            if arr.dtype != np.uint16 or arr.ndim not in (2, 3):
                raise SRLibError(f"{path}: a {arr.dtype} TIFF of shape {arr.shape}; sr_lib "
                                 "reads 8- and 16-bit grey, RGB and RGBA images")
            return _split(arr, arr.ndim == 3 and arr.shape[2] in (2, 4))
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
            return ImageFile(np.asarray(im).astype(np.uint16)[:, :, None])
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            target = "LA" if im.mode == "LA" else "RGBA"
            return _split(np.asarray(im.convert(target)), alpha=True)
        return ImageFile(pil_to_uint8(im, source=str(path)))


def _tifffile():
    try:
        import tifffile
    except ImportError:
        raise SRLibError("16-bit TIFF files need tifffile: pip install tifffile (or save the "
                         "image as a 16-bit PNG)") from None
    return tifffile


def _tiff_bits(im: Image.Image) -> int:
    if im.format != "TIFF":
        return 8
    bits = im.tag_v2.get(258, (8,))
    return max(bits) if isinstance(bits, tuple) else int(bits)


def fit_to_format(image: ImageFile, path: str | Path) -> tuple[ImageFile, list[str]]:
    """``image`` reduced to what the format of ``path`` can hold, and a sentence for each
    thing dropped (none for PNG and TIFF)."""
    fmt, notes = image_format(path), []
    if image.alpha is not None and fmt not in _HOLDS_ALPHA:
        top = 65535.0 if image.bits == 16 else 255.0
        a = image.alpha.astype(np.float64) / top
        flat = image.color.astype(np.float64) * a + top * (1 - a)  # onto white, as viewers do
        image = ImageFile(np.floor(flat + 0.5).astype(image.color.dtype))
        notes.append(f"{fmt} has no alpha channel: the result was composited onto white "
                     "(write a .png to keep the transparency)")
    if image.bits == 16 and fmt not in _HOLDS_16_BITS:
        def to8(x):
            return None if x is None else np.floor(x / 257.0 + 0.5).astype(np.uint8)
        image = ImageFile(to8(image.color), to8(image.alpha))
        notes.append(f"{fmt} holds 8 bits per channel: the 16-bit result was rounded to 8 bits "
                     "(write a .png or .tif to keep 16)")
    return image, notes


def write_image_file(path: str | Path, image: ImageFile) -> None:
    """Write ``image`` in the format of the suffix, atomically; call :func:`fit_to_format`
    first for formats that cannot hold its alpha plane or its bit depth."""
    fmt = image_format(path)
    arr = image.planes()
    if image.bits == 16:
        if fmt == "PNG":
            atomic_write(path, lambda f: write_png_stream(f, arr))
            return
        if fmt == "TIFF":
            import io

            tifffile = _tifffile()

            buf = io.BytesIO()  # tifffile wants a named file or a buffer, not a bare descriptor
            tifffile.imwrite(buf, arr if arr.shape[2] > 1 else arr[:, :, 0],
                             photometric="minisblack" if arr.shape[2] <= 2 else "rgb",
                             extrasamples=("unassalpha",) if image.alpha is not None else None)
            atomic_write(path, lambda f: f.write(buf.getvalue()))
            return
        raise SRLibError(f"{fmt} cannot hold 16 bits; call fit_to_format first")
    if image.alpha is not None and fmt not in _HOLDS_ALPHA:
        raise SRLibError(f"{fmt} cannot hold an alpha channel; call fit_to_format first")
    if fmt == "PNG":  # the streaming writer: no second copy of a large image
        atomic_write(path, lambda f: write_png_stream(f, arr))
        return
    atomic_write(path, lambda f: Image.fromarray(arr if arr.shape[2] > 1 else arr[:, :, 0])
                 .save(f, format=fmt))
