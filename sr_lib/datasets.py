"""(LR, HR) pairs from a folder of HR images: cached degradation, patches, augmentation, MixUp.

One class serves every chapter. ``SRDataset`` holds the HR images (uint8, modcropped) and their
LR counterparts (made once with a :class:`~sr_lib.degrade.Degradation` and kept in memory as
uint8, like the LR files of the benchmarks). Index it to get whole images for evaluation, or
call :meth:`SRDataset.batch` to draw a random patch batch for training. Batches are a function
of ``(seed, step)`` only, which makes a resumed run see exactly the data an uninterrupted run
would have seen.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from . import tiny
from .color import rgb_to_y
from .degrade import Degradation, modcrop
from .errors import SRLibError
from .imageio import atomic_write, list_images, read_image

Batch = dict


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th (0..7) of the 8 flips/rotations of the square acting on (..., H, W)."""
    if not 0 <= k < 8:
        raise SRLibError(f"dihedral index must be in 0..7, got {k}")
    if k >= 4:
        x = x.transpose(-2, -1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`dihedral` with the same k."""
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.transpose(-2, -1) if k >= 4 else x


def _to_uint8_tensor(image: np.ndarray, channels: str) -> torch.Tensor:
    """uint8 (H, W, C) -> (C', H, W): Y for ``"y"``; a grayscale image keeps its one channel."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise SRLibError(
            f"SRDataset takes uint8 (H, W, 1|3) images, got dtype {image.dtype} and shape "
            f"{image.shape}; convert float images with (x * 255).round().astype(np.uint8)")
    t = torch.from_numpy(np.array(image.transpose(2, 0, 1)))  # a copy: inputs may be read-only
    if channels == "y" and t.shape[0] == 3:
        return rgb_to_y(t.float().div(255.0)).mul(255.0).round().to(torch.uint8)
    return t


class SRDataset:
    """HR images and their degraded LR versions.

    Args:
        images: a folder, a list of files, or a list of uint8 (H, W, C) arrays.
        scale: the upscaling factor.
        degradation: a :class:`Degradation` or its name (``"BI"``, ``"BD"``, ``"DN"``,
            ``"nearest"``).
        channels: ``"rgb"`` or ``"y"`` (the HR Y channel, rounded to 8 bits, is degraded: the
            VDSR / AIL convention). Either way a grayscale image (Set14's ``bridge``) keeps its
            single channel: it is degraded and scored on that channel, as the MATLAB scripts
            behind the literature's tables do. Training batches of an ``"rgb"`` set replicate
            it to three channels; :func:`~sr_lib.evaluate.super_resolve` reduces a 3-channel
            model's output on it back to one (see :func:`~sr_lib.color.rgb_to_gray`).
        cache_dir: if given, the LR images are saved there and reused across sessions.
        names: names of the images when ``images`` are arrays.
    """

    def __init__(
        self,
        images: str | Path | Sequence[str | Path] | Sequence[np.ndarray],
        scale: int,
        degradation: Degradation | str = "BI",
        channels: str = "rgb",
        cache_dir: str | Path | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if channels not in ("rgb", "y"):
            raise SRLibError(f"channels must be 'rgb' or 'y', got {channels!r}")
        if isinstance(degradation, str):
            degradation = Degradation(degradation, scale)
        if degradation.scale != scale:
            raise SRLibError(f"degradation scale {degradation.scale} != dataset scale {scale}")
        self.scale, self.degradation, self.channels = scale, degradation, channels
        if isinstance(images, (str, Path)):
            files = list_images(images)
            if not files:
                raise SRLibError(f"no PNG/JPEG/BMP images in {images}")
            images = files
        arrays, self.names = [], []
        for i, item in enumerate(images):
            if isinstance(item, np.ndarray):
                arr, name = item, (names[i] if names else f"image{i:03d}")
            else:
                arr, name = read_image(item), Path(item).stem
            arrays.append(arr)
            self.names.append(name)
        small = [n for n, a in zip(self.names, arrays) if min(a.shape[:2]) < scale]
        if small:
            raise SRLibError(f"images smaller than the scale x{scale}: {', '.join(small[:5])}; "
                             "remove them or use a smaller scale")
        self.hr = [modcrop(_to_uint8_tensor(a, channels), scale) for a in arrays]
        self.lr = self._make_lr(cache_dir)

    def _make_lr(self, cache_dir: str | Path | None) -> list[torch.Tensor]:
        d = self.degradation
        tag = f"{d.kind}_x{d.scale}_{self.channels}_n{d.noise_sigma:g}_v2"  # v2: gray stays 1-ch
        cache = Path(cache_dir) / f"{tag}.pt" if cache_dir else None
        digest = self._digest() if cache is not None else ""
        if cache is not None and cache.exists():
            try:  # a corrupt, foreign or stale cache is rebuilt, never trusted
                stored = torch.load(cache, weights_only=True)
                if stored.get("digest") == digest and stored["names"] == self.names:
                    return stored["lr"]
                reason = "made from other images or settings"
            except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
                reason = f"unreadable: {type(exc).__name__}"
            print(f"[cache] {cache} is {reason}; rebuilding it", file=sys.stderr)
        gen = torch.Generator().manual_seed(0)
        lr = []
        for hr in self.hr:
            out = d(hr.float().div(255.0)[None], generator=gen)[0]
            lr.append(out.clamp(0, 1).mul(255.0).round().to(torch.uint8))
        if cache is not None:  # a private temporary file per writer: parallel builds are safe
            blob = {"names": self.names, "lr": lr, "digest": digest}  # digest covers shapes
            atomic_write(cache, lambda f: torch.save(blob, f))
        return lr

    def _digest(self) -> str:
        """A checksum of the HR pixels and the degradation: the cache is valid only for both."""
        d = self.degradation
        h = hashlib.sha256(f"{d.kind}|{d.scale}|{d.noise_sigma}|{self.channels}".encode())
        for name, hr in zip(self.names, self.hr):
            h.update(name.encode())
            h.update(str(tuple(hr.shape)).encode())
            h.update(hr.numpy().tobytes())
        return h.hexdigest()

    def __len__(self) -> int:
        return len(self.hr)

    def __getitem__(self, i: int) -> Batch:
        """Whole image ``i`` as float tensors in [0, 1]: {'lr', 'hr', 'name', 'scale'}.

        A grayscale image comes back with one channel, whatever ``channels`` is."""
        return {
            "lr": self.lr[i].float().div(255.0),
            "hr": self.hr[i].float().div(255.0),
            "name": self.names[i],
            "scale": self.scale,
        }

    def check_patch(self, lr_patch: int) -> None:
        """Raise if no LR image is large enough for ``lr_patch`` x ``lr_patch`` patches."""
        self._usable(lr_patch)

    def _usable(self, lr_patch: int) -> list[int]:
        """Indices of the images that hold an LR patch of this size (cached per size)."""
        cache = self.__dict__.setdefault("_usable_cache", {})
        if lr_patch not in cache:
            cache[lr_patch] = [
                i for i, lr in enumerate(self.lr) if min(lr.shape[-2:]) >= lr_patch
            ]
        if not cache[lr_patch]:
            raise SRLibError(
                f"every LR image is smaller than the {lr_patch}px patch; use a smaller patch"
            )
        return cache[lr_patch]

    def batch(
        self, batch_size: int, lr_patch: int, step: int, seed: int = 0, augment: bool = True,
        part: tuple[int, int] | None = None,
    ) -> Batch:
        """A random batch of aligned patches, determined by ``(seed, step)`` alone.

        ``lr_patch`` is the LR side; the HR patches are ``lr_patch * scale``. Images smaller
        than the patch are skipped. With ``augment`` each patch gets one of the 8 dihedral
        transforms. ``part=(first, count)`` cuts only those rows of the batch (one process's
        share under torch.distributed): every random number of the whole batch is still drawn,
        so the shares of N processes together are exactly the one-process batch. Patches are
        cut where the images live (see :meth:`to`).
        """
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
        s = self.scale
        lr_patch = tiny.patch(lr_patch)
        usable = self._usable(lr_patch)
        first, count = part if part is not None else (0, batch_size)
        lrs, hrs = [], []
        picks = torch.randint(len(usable), (batch_size,), generator=gen)
        for row, j in enumerate(picks.tolist()):
            i = usable[j]
            lr, hr = self.lr[i], self.hr[i]
            y = int(torch.randint(lr.shape[-2] - lr_patch + 1, (1,), generator=gen))
            x = int(torch.randint(lr.shape[-1] - lr_patch + 1, (1,), generator=gen))
            k = int(torch.randint(8, (1,), generator=gen)) if augment else 0
            if not first <= row < first + count:
                continue
            lp = lr[:, y : y + lr_patch, x : x + lr_patch]
            hp = hr[:, y * s : (y + lr_patch) * s, x * s : (x + lr_patch) * s]
            if self.channels == "rgb" and lp.shape[0] == 1:  # a grayscale image in an RGB set
                lp, hp = lp.expand(3, -1, -1), hp.expand(3, -1, -1)
            lrs.append(dihedral(lp, k))
            hrs.append(dihedral(hp, k))
        return {
            "lr": torch.stack(lrs).float().div_(255.0),
            "hr": torch.stack(hrs).float().div_(255.0),
            "scale": s,
        }

    def to(self, device: str | torch.device) -> SRDataset:
        """Keep the uint8 images on ``device`` (a GPU): batches are then cut, augmented and
        converted there, with no copy from the host per step. Returns ``self``."""
        self.hr = [t.to(device) for t in self.hr]
        self.lr = [t.to(device) for t in self.lr]
        return self

    def patches_per_epoch(self, lr_patch: int) -> int:
        """Number of non-overlapping LR patches in the set (a natural 'epoch' length)."""
        return sum(
            (lr.shape[-2] // lr_patch) * (lr.shape[-1] // lr_patch) for lr in self.lr
        )

    def nbytes(self) -> int:
        """Memory held by the cached HR and LR images."""
        return sum(t.numel() for t in self.hr) + sum(t.numel() for t in self.lr)


class MultiScaleData:
    """One :class:`SRDataset` per scale; each batch uses one scale (ProSR's batching).

    ``choose(step, generator) -> scale`` decides the scale of a batch; the default draws one
    uniformly from all scales. A curriculum passes a function of the step (e.g. ProSR's phases).
    """

    def __init__(
        self,
        datasets: dict[int, SRDataset],
        lr_patch: dict[int, int] | int,
        choose: Callable[[int, torch.Generator], int] | None = None,
    ) -> None:
        self.datasets = datasets
        if not isinstance(lr_patch, dict):
            lr_patch = dict.fromkeys(datasets, lr_patch)
        self.lr_patch = lr_patch
        self.choose = choose or self._uniform

    def _uniform(self, step: int, gen: torch.Generator) -> int:
        scales = sorted(self.datasets)
        return scales[int(torch.randint(len(scales), (1,), generator=gen))]

    def batch(
        self, batch_size: int, lr_patch: int | None = None, step: int = 0, seed: int = 0,
        augment: bool = True, part: tuple[int, int] | None = None,
    ) -> Batch:
        """Like :meth:`SRDataset.batch`; ``lr_patch`` is ignored (each scale has its own)."""
        gen = torch.Generator().manual_seed(int(seed) * 7_919 + int(step))
        s = self.choose(step, gen)
        return self.datasets[s].batch(batch_size, self.lr_patch[s], step, seed, augment, part)

    def to(self, device: str | torch.device) -> MultiScaleData:
        """Move every scale's images to ``device`` (see :meth:`SRDataset.to`)."""
        for data in self.datasets.values():
            data.to(device)
        return self


class MixUp:
    """MixUp in the sense of ISRResCNet: mix two HR patches, then degrade the mixture.

    ``lam ~ Beta(alpha, alpha)`` per sample; the partner is the next sample of the batch. The
    LR is recomputed from the mixed HR with the same :class:`Degradation` on the batch's device,
    so the pair still obeys the observation model y = Hx (+ n). ``p`` is the probability that a
    batch is mixed at all.
    """

    def __init__(self, degradation: Degradation, alpha: float = 1.2, p: float = 0.5) -> None:
        self.degradation, self.alpha, self.p = degradation, alpha, p

    def __call__(self, batch: Batch, step: int, seed: int = 0) -> Batch:
        gen = torch.Generator().manual_seed(int(seed) * 104_729 + int(step))
        if float(torch.rand((), generator=gen)) >= self.p:
            return batch
        hr = batch["hr"]
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=gen)))
        lam = torch.from_numpy(rng.beta(self.alpha, self.alpha, size=(hr.shape[0], 1, 1, 1)))
        lam = lam.to(hr.device, hr.dtype)
        mixed = lam * hr + (1 - lam) * hr.roll(1, dims=0)
        return {**batch, "lr": self.degradation(mixed, generator=gen), "hr": mixed}


def epoch_iterations(n_patches: int, batch_size: int) -> int:
    """Iterations for one pass over ``n_patches`` patches."""
    return max(1, math.ceil(n_patches / batch_size))


def downsized_copies(images: Sequence[str | Path | np.ndarray],
                     factors: Sequence[float] = (1.0, 0.7, 0.5)) -> list[np.ndarray]:
    """Each image at every factor (MATLAB bicubic, rounded to 8 bits): the down-sizing
    augmentation of VDSR's 291-image training set (AIL uses it; flips and rotations are
    :class:`SRDataset`'s own augmentation). Returns uint8 (H, W, C) arrays, factor-major."""
    from .imageio import quantize
    from .resize import imresize

    if not factors or any(not 0 < f <= 1 for f in factors):
        raise SRLibError(f"down-sizing factors must be in (0, 1], got {list(factors)}")
    arrays = [read_image(i) if not isinstance(i, np.ndarray) else i for i in images]
    out = []
    for f in factors:
        for a in arrays:
            if f == 1.0:
                out.append(a)
                continue
            x = torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 255.0
            small = quantize(imresize(x, f))
            out.append((small * 255).round().byte().permute(1, 2, 0).numpy())
    return out
