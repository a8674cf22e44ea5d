"""The standard SR datasets: where they are on disk, how to get them, how to verify them.

Layout: ``<root>/<Name>/HR/*.png`` (also accepted: ``<root>/<Name>/*.png`` and, for DIV2K, the
official ``DIV2K_train_HR`` / ``DIV2K_valid_HR`` folders). ``root`` is an argument or the
``SR_DATA`` environment variable. ``291`` is T91 + BSD200, the VDSR / AIL training set;
``DF2K`` is DIV2K + Flickr2K, the EDSR / SRP / DRN training set.

Downloads are per file and verified against SHA-256 checksums of the decoded pixels, pinned in
``catalog_manifest.tsv`` for the sets whose reference copy we hold (Set5, Set14, B100, T91,
BSD200). The other sets have no pinned checksums: they can only be fetched with
``allow_unverified=True``, or placed by hand.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import tiny
from .errors import DatasetNotFoundError, SRLibError  # noqa: F401 (re-exported)
from .imageio import atomic_write, list_images, pil_to_uint8
from .progress import bar as progress_bar


@dataclass(frozen=True)
class DatasetInfo:
    """What we know about one standard set."""

    name: str
    role: str  # "train" or "test"
    n_images: int | None
    citation: str
    aliases: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # a union of other sets (291)
    subfolders: tuple[str, ...] = ("HR", "")
    how_to_get: str = ""
    archive_url: str | None = None
    files: tuple[tuple[str, str, str], ...] = field(default=(), repr=False)  # name, sha, url


def _load_manifest() -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    path = Path(__file__).with_name("catalog_manifest.tsv")
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t"):
        out.setdefault(row["dataset"], []).append(
            (row["name"], row["pixel_sha256"], row["source_url"])
        )
    return out


_MANIFEST = _load_manifest()


def _info(name: str, role: str, n: int | None, citation: str, **kw) -> DatasetInfo:
    return DatasetInfo(name, role, n, citation, files=tuple(_MANIFEST.get(name, ())), **kw)


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        _info("Set5", "test", 5, "Bevilacqua et al., BMVC 2012"),
        _info("Set14", "test", 14, "Zeyde et al., Curves and Surfaces 2010"),
        _info("B100", "test", 100, "Martin et al., ICCV 2001", aliases=("BSD100", "BSDS100")),
        _info("Urban100", "test", 100, "Huang et al., CVPR 2015",
              how_to_get="the x4 HR images of the SelfExSR repository (image_SRF_4/*_HR.png)"),
        _info("Manga109", "test", 109, "Matsui et al., MTAP 2017",
              how_to_get="request access at the Manga109 project page (academic use only)"),
        _info("T91", "train", 91, "Yang et al., TIP 2010", aliases=("yang91", "91")),
        _info("BSD200", "train", 200, "Martin et al., ICCV 2001", aliases=("BSDS200",)),
        _info("291", "train", 291, "Kim et al., CVPR 2016 (T91 + BSD200)", parts=("T91", "BSD200")),
        _info("General100", "train", 100, "Dong et al., ECCV 2016",
              how_to_get="the General-100 images released with FSRCNN"),
        _info("DIV2K", "train", 800, "Agustsson and Timofte, CVPRW 2017",
              subfolders=("HR", "DIV2K_train_HR", ""),
              archive_url="https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip",
              how_to_get="the DIV2K_train_HR.zip archive of the NTIRE 2017 challenge"),
        _info("Flickr2K", "train", 2650, "Lim et al., CVPRW 2017 (EDSR)",
              subfolders=("HR", "Flickr2K_HR", ""),
              how_to_get="the Flickr2K archive released with EDSR (its Flickr2K_HR folder)"),
        _info("DF2K", "train", 3450, "DIV2K + Flickr2K, as trained on by EDSR, SRP and DRN",
              parts=("DIV2K", "Flickr2K")),
    ]
}


def names() -> list[str]:
    """Names of the registered datasets."""
    return list(REGISTRY)


def info(name: str) -> DatasetInfo:
    """Registry entry of a dataset; aliases and any capitalisation are accepted."""
    key = name.lower()
    for entry in REGISTRY.values():
        if key == entry.name.lower() or key in (a.lower() for a in entry.aliases):
            return entry
    raise SRLibError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}")


def data_root(root: str | Path | None = None) -> Path | None:
    """The data root: the argument, else ``$SR_DATA``, else None."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("SR_DATA")
    return Path(env).expanduser() if env else None


def _candidates(entry: DatasetInfo, root: Path) -> list[Path]:
    out = []
    for folder in (entry.name, *entry.aliases):
        for sub in entry.subfolders:
            out.append(root / folder / sub if sub else root / folder)
    return out


def find(name: str, root: str | Path | None = None) -> list[Path]:
    """Image files of a registered dataset, or a :class:`DatasetNotFoundError` that says where
    we looked and how to get the data."""
    entry = info(name)
    if entry.parts:
        files = []
        for part in entry.parts:
            try:
                files += find(part, root)
            except DatasetNotFoundError as exc:
                raise DatasetNotFoundError(f"{entry.name} is {' + '.join(entry.parts)}, and "
                                           f"{part} is missing: {exc}") from None
        return tiny.files(files)
    base = data_root(root)
    if base is None:
        raise DatasetNotFoundError(
            f"dataset {entry.name}: no data root given; pass root=... (--root on the command "
            f"line) or set SR_DATA to the "
            f"folder that holds {entry.name}/HR/"
        )
    looked = _candidates(entry, base)
    for folder in looked:
        if folder.is_dir():
            files = list_images(folder)
            if files:
                return tiny.files(files)
    hint = entry.how_to_get or "sr_lib.catalog.download()"
    raise DatasetNotFoundError(
        f"dataset {entry.name} not found; looked in: {', '.join(str(p) for p in looked)}. "
        f"Put its HR images in {base / entry.name / 'HR'} (source: {hint})"
    )


def available(root: str | Path | None = None) -> dict[str, bool]:
    """Which registered datasets are present under the root."""
    out = {}
    for n in REGISTRY:
        try:
            find(n, root)
            out[n] = True
        except DatasetNotFoundError:
            out[n] = False
    return out


def pixel_sha256(image: np.ndarray) -> str:
    """Checksum of decoded uint8 pixels (shape included), independent of the file format."""
    return hashlib.sha256(str(image.shape).encode() + image.tobytes()).hexdigest()


def _http_get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed https URLs)
        return response.read()


def download(
    name: str,
    root: str | Path | None = None,
    allow_unverified: bool = False,
    fetch: Callable[[str], bytes] = _http_get,
) -> Path:
    """Fetch a dataset into ``<root>/<Name>/HR`` and verify every image; returns that folder.

    Files already present and valid are kept. A checksum mismatch deletes nothing and raises.
    ``fetch`` maps a URL to bytes (swap it for a mirror or a test double).
    """
    entry = info(name)
    if entry.parts:
        for part in entry.parts:
            download(part, root, allow_unverified, fetch)
        return data_root(root) or Path(".")
    base = data_root(root)
    if base is None:
        raise SRLibError("download needs a root folder: pass root=... (--root on the command "
                         "line) or set SR_DATA")
    target = base / entry.name / "HR"
    if not entry.files:
        if not (allow_unverified and entry.archive_url):
            raise SRLibError(
                f"{entry.name} has no pinned checksums in sr_lib; get {entry.how_to_get or 'it'} "
                f"and place the HR images in {target}"
                + (" (or call download(..., allow_unverified=True))" if entry.archive_url else "")
            )
        return _unpack_archive(fetch(entry.archive_url), target)
    created = [p for p in (target.parent, target) if not p.exists()]
    target.mkdir(parents=True, exist_ok=True)
    try:
        for stem, sha, url in progress_bar(entry.files, desc=f"download {entry.name}", unit="img"):
            dest = target / f"{stem}.png"
            if dest.exists() and _verified(dest, sha):
                continue
            try:
                with Image.open(io.BytesIO(fetch(url))) as im:
                    im.load()
                    arr = pil_to_uint8(im, source=url)
            except OSError as exc:
                raise SRLibError(f"could not fetch or decode {url}: {exc}") from None
            if pixel_sha256(arr) != sha:
                raise SRLibError(f"checksum mismatch for {url}: the file differs from the "
                                 "reference")
            pic = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
            atomic_write(dest, lambda f, pic=pic: pic.save(f, format="PNG"))  # no half files
    except BaseException:
        for folder in reversed(created):  # a failed first download leaves no empty folder
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return target


MAX_RATIO = 200  # PNG barely compresses; a member that inflates more is a zip bomb


def _unpack_archive(blob: bytes, target: Path) -> Path:
    """Extract the PNG files of a zip archive (flattened) into ``target``.

    Refused before anything is written: two members with the same file name (one would replace
    the other), and members that inflate more than ``MAX_RATIO`` times. Members are streamed to
    temporary files and renamed into place, so a link already in ``target`` is replaced, never
    followed."""
    import shutil

    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = [m for m in archive.infolist()
                   if not m.is_dir() and m.filename.lower().endswith(".png")]
        names = [Path(m.filename).name for m in members]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SRLibError(f"the archive holds several files named {dupes[:3]}; refusing to "
                             "flatten it (one would silently replace another)")
        for m in members:
            if m.file_size > MAX_RATIO * max(m.compress_size, 1) and m.file_size > 1 << 20:
                raise SRLibError(f"{m.filename} inflates from {m.compress_size:,} to "
                                 f"{m.file_size:,} bytes: not an image archive (zip bomb?)")
        target.mkdir(parents=True, exist_ok=True)
        for m, name in zip(members, names):
            with archive.open(m) as src:
                atomic_write(target / name, lambda f, src=src: shutil.copyfileobj(src, f))
    return target


def _verified(path: Path, sha: str) -> bool:
    """Whether ``path`` holds the reference image (a partial or broken file does not)."""
    try:
        with Image.open(path) as im:
            return pixel_sha256(pil_to_uint8(im)) == sha
    except Exception:  # noqa: BLE001 - truncated, empty or not an image: fetch it again
        return False


def verify(name: str, root: str | Path | None = None) -> list[str]:
    """Names of the files of a dataset whose pixels do not match the pinned checksums."""
    entry = info(name)
    files = {p.stem: p for p in find(name, root)}
    bad = []
    for stem, sha, _ in entry.files:
        if stem not in files or not _verified(files[stem], sha):
            bad.append(stem)
    return bad


def load(
    name: str,
    scale: int,
    root: str | Path | None = None,
    limit: int | None = None,
    **dataset_kwargs,
):
    """An :class:`~sr_lib.datasets.SRDataset` of a registered set (``limit`` keeps the first
    images, for quick runs)."""
    from .datasets import SRDataset

    files = find(name, root)
    return SRDataset(files[:limit] if limit else files, scale, **dataset_kwargs)


def sample_images(names_: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket")) -> list:
    """Offline RGB test images shipped in scikit-image's wheel (for smoke runs and tests)."""
    try:
        from skimage import data as skdata
    except ImportError:
        raise SRLibError("sample images need scikit-image: pip install scikit-image") from None
    out = []
    for n in names_:
        img = getattr(skdata, n)()
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        out.append(np.ascontiguousarray(img[:, :, :3]).astype(np.uint8))
    return out
