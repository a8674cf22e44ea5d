"""Each chapter's three profiles in one typed place: ``smoke`` (CI), ``book`` (the rendered
page) and ``paper`` (the paper's own settings; for the seeded chapters it comes from
:mod:`sr_lib.profiles`, which also prints the paper / released code / ours table).

A notebook asks :func:`params` for its profile through the harness
(:class:`sr_lib.harness.Chapter`) and reads the fields as attributes, so a misspelt setting is
an error, not a silent default. A chapter moves here when it moves onto the harness.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import SRLibError

PROFILES = ("smoke", "book", "paper")


@dataclass(frozen=True)
class ChapterParams:
    """What every chapter's profile states: its training set and its size cap, its test sets
    and its seeds."""

    train: str = "291"  # a catalog name: T91, 291 (= T91 + BSD200), DIV2K, DF2K ...
    train_limit: int | None = None  # only the first N training images (None: all)
    eval_sets: tuple[str, ...] = ("Set5",)
    seeds: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class VDSRRun(ChapterParams):
    """Chapter 0: one VDSR on Y at x2, VDSR's protocol at the profile's size."""

    width: int = 64
    depth: int = 20
    iterations: int | None = None  # None: ``epochs`` over the training patches
    epochs: int | None = None
    batch: int = 64
    patch: int = 21  # LR patch
    lr: float = 0.1
    optimizer: str = "sgd"
    scheduler: str = "step"
    grad_clip: float = 0.4
    val_every: int = 0


CHAPTERS: dict[str, dict[str, ChapterParams]] = {
    "ch00": {
        # CI: a tiny VDSR, a few hundred iterations, Set5 only
        "smoke": VDSRRun(train="T91", train_limit=20, width=16, depth=6, iterations=150,
                         batch=8, patch=24, lr=1e-3, optimizer="adam", scheduler="cosine",
                         grad_clip=1.0),
        # the rendered book: minutes on a GPU, about ten minutes on 2 CPU cores
        "book": VDSRRun(width=32, depth=10, iterations=3000, batch=16, patch=24, lr=1e-3,
                        optimizer="adam", scheduler="cosine", grad_clip=1.0,
                        eval_sets=("Set5", "Set14", "B100"), val_every=500),
        # VDSR (Kim et al. 2016): 20 layers x 64 maps, 291 images, 41x41 HR patches, batch 64,
        # SGD 0.1 (momentum 0.9, weight decay 1e-4), x0.1 every 20 of 80 epochs, clipping
        "paper": VDSRRun(width=64, depth=20, epochs=80, batch=64, patch=21, lr=0.1,
                         optimizer="sgd", scheduler="step", grad_clip=0.4,
                         eval_sets=("Set5", "Set14", "B100"), val_every=2000),
    },
}


def params(chapter: str, profile: str) -> ChapterParams:
    """The settings of ``chapter`` (e.g. ``"ch00"``) in ``profile``."""
    if chapter not in CHAPTERS:
        raise SRLibError(f"no profiles for chapter {chapter!r}; chapters on the harness: "
                         f"{', '.join(CHAPTERS)}")
    if profile not in PROFILES:
        raise SRLibError(f"profile must be one of {PROFILES}, got {profile!r}")
    return CHAPTERS[chapter][profile]


def with_changes(p: ChapterParams, **changes) -> ChapterParams:
    """A copy of ``p`` with some fields changed (an unknown field is an error)."""
    known = {f.name for f in fields(p)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise SRLibError(f"{type(p).__name__} has no setting {unknown}; it has "
                         f"{', '.join(sorted(known))}")
    return replace(p, **changes)
