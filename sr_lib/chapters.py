"""Each chapter's three profiles in one typed place: ``smoke`` (CI), ``book`` (the rendered
page) and ``paper`` (the paper's own settings; for the seeded chapters it comes from
:mod:`sr_lib.profiles`, which also prints the paper / released code / ours table).

A notebook asks :func:`params` for its profile through the harness
(:class:`sr_lib.harness.Chapter`) and reads the fields as attributes, so a misspelt setting is
an error, not a silent default. A chapter moves here when it moves onto the harness.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from . import ranges
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


@dataclass(frozen=True)
class ISRResCNetRun(ChapterParams):
    """Chapter 1: ISRResCNet at x4 (K and FB as in Table III, the ERD at the profile's size),
    and the EDSR baselines sized to its multiply-adds and to its parameters."""

    features: int = 64
    blocks: int = 5
    K: tuple[int, int] = (10, 20)  # (the small K, the main model's K)
    fb: int = 4
    iterations: int = 60000
    batch: int = 4
    patch: int = 40  # LR patch
    lr: float = 1e-3
    ensemble: bool = True  # also score the x8 self-ensemble (ISRResCNet+)
    init: str = "kaiming"
    x0: str = "bicubic"
    extra_seeds: int = 1  # our own extra variants (not in the paper) get this many seeds
    convention_seeds: tuple[int, ...] = (0, 1)
    edsr_blocks: int = 16  # the EDSR sized to ISRResCNet's multiply-adds: depth fixed, width fit
    edsr_small_blocks: int = 4  # the EDSR sized to ISRResCNet's parameters


@dataclass(frozen=True)
class ProSRRun(ChapterParams):
    """Chapter 2: one pyramid trained for x2, x4 and x8 (curriculum or simultaneous) against
    single-scale networks given the same batches at each scale; Table 1's layouts at x4, Table
    3's Laplacian alternative, and a ProGanSR-style fine-tuning against an L1 control."""

    features: int = 64
    growth: int = 12
    layers: int = 6  # dense layers per DCU
    iterations: int = 240_000  # per multi-scale run (its single-scale partners get its share)
    table1_iterations: int | None = None  # Table 1's x4 layouts (None: ``iterations``)
    gan_iterations: int = 80_000
    batch: int = 16
    patch: tuple[int, int, int] = (48, 36, 24)  # LR patches at x2, x4, x8
    lr: float = 1e-4
    schedule: str = "plateau"  # "plateau" (the released code's) or "cosine" (short runs)
    val_every: int = 800  # Fig. 4's curves (and the plateau schedule's validations)
    d_every: int = 2  # discriminator steps: one every d_every generator steps


@dataclass(frozen=True)
class SRPChapterRun(ChapterParams):
    """Chapter 3: SRP on an EDSR-baseline at x2 against L1-norm pruning and training from
    scratch, the three reaching the same compact network with the same batches. The penalty
    (``delta``, ``ceiling``, ``bias_factor``) is the released code's balance against the L1
    loss, converted to [0, 1] pixels by :mod:`sr_lib.ranges`."""

    blocks: int = 16
    feats: int = 64
    pretrain: int = 300_000
    delta: float = ranges.penalty(1e-4)
    interval: int = 20
    ceiling: float = ranges.penalty(0.5)
    bias_factor: float = ranges.bias_factor()
    stabilize: int = 43_150
    finetune: int = 400_000
    batch: int = 16
    patch: int = 48  # LR patch
    lr: float = 1e-4
    schedule: str = "released"  # or "cosine" (short runs): a decay to lr / 10 in every phase
    ratios: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    record_every: int = 500  # Fig. 3's filter norms, at ratio 0.5

    def schedule_of(self, phase: str) -> dict:
        """The trainer's schedule settings for a phase ("pretrain", "regularise",
        "finetune"). The rate stays fixed while regularising, as in the released code (a
        decaying rate would also weaken the penalty's pull); otherwise the released code
        halves it every 200,000 iterations and short runs decay it by a cosine."""
        if self.schedule not in ("released", "cosine"):
            raise SRLibError(f"schedule must be 'released' or 'cosine', got {self.schedule!r}")
        if phase == "regularise":
            return dict(scheduler=None)
        if self.schedule == "cosine":
            return dict(scheduler="cosine", min_lr=self.lr / 10)
        return dict(scheduler="step", step_size=200_000, gamma=0.5)


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
    "ch01": {
        # CI: a tiny ERD, a few dozen iterations, Set5 only
        "smoke": ISRResCNetRun(train="T91", train_limit=12, features=8, blocks=1, K=(3, 6), fb=1,
                               iterations=20, batch=4, patch=12, eval_sets=("Set5",),
                               ensemble=False, init="pytorch", x0="bilinear", seeds=(0, 1),
                               extra_seeds=2, edsr_blocks=2, edsr_small_blocks=1),
        # the rendered book: a 32-map, 2-block ERD; K and FB half the paper's; three seeds
        # (B100 is left out: a K = 10 model takes about 15 CPU-minutes on its 100 images)
        "book": ISRResCNetRun(features=32, blocks=2, K=(5, 10), fb=2, iterations=300, batch=8,
                              patch=12, eval_sets=("Set5", "Set14"), init="pytorch",
                              x0="bilinear", seeds=(0, 1, 2), extra_seeds=3, edsr_blocks=8,
                              edsr_small_blocks=2),
        # the paper (DIV2K, 64 maps, 5 blocks, K = 20, FB = 4, 300 epochs of 200 batches of 4
        # 160x160 HR patches, Adam 1e-3 halved at 100/150/200/250 epochs); see
        # sr_lib.profiles.paper("isrrescnet") for the released code's side
        "paper": ISRResCNetRun(train="DIV2K", eval_sets=("Set5", "Set14", "B100", "Urban100"),
                               extra_seeds=1, convention_seeds=(0, 1)),
    },
    "ch02": {
        # CI: a tiny pyramid, 30 batches per multi-scale run (so that x8 gets some), Set5 only
        "smoke": ProSRRun(train="T91", train_limit=12, features=8, growth=4, layers=2,
                          iterations=30, gan_iterations=4, batch=2, patch=(12, 9, 6), lr=1e-3,
                          schedule="cosine", val_every=12, d_every=1, seeds=(0, 1)),
        # the rendered book, sized for a 2-core CPU: 24 features, k = 8, DCUs of 4 layers (the
        # paper's have 6), the 291 images, LR patches in the released 2 : 1.5 : 1 ratio; Table
        # 2's trainings with three seeds, the other ablations with seed 0
        "book": ProSRRun(features=24, growth=8, layers=4, iterations=1200, gan_iterations=600,
                         batch=8, patch=(16, 12, 8), lr=5e-4, schedule="cosine",
                         val_every=150, d_every=1, eval_sets=("Set5", "Set14", "B100"),
                         seeds=(0, 1, 2)),
        # ProSR's paper and released code (sr_lib.profiles.paper("prosr")): DIV2K, 300 epochs
        # of 800 batches of 16, the rate halved on a 30-epoch plateau
        "paper": ProSRRun(train="DIV2K", eval_sets=("Set5", "Set14", "B100", "Urban100"),
                          seeds=(0, 1, 2)),
    },
    "ch03": {
        # CI: a 4-block, 16-map EDSR-baseline, a few dozen iterations per phase
        "smoke": SRPChapterRun(train="T91", train_limit=12, blocks=4, feats=16, pretrain=40,
                               delta=ranges.penalty(0.05), interval=1,
                               ceiling=ranges.penalty(0.5), stabilize=5, finetune=20,
                               batch=4, patch=16, lr=1e-3, schedule="cosine",
                               ratios=(0.5, 0.9), record_every=2, seeds=(0, 1)),
        # the rendered book: 16 blocks of 32 maps, every phase 150-1,000 times shorter than
        # the paper's, the released balance (Delta and tau on the released scale: 2e-3
        # every iteration up to 0.5, converted), three seeds; Set5 (Table 1) and Set14.
        # Batches of 8: at 16, a dense pretraining took 13 minutes on a 2-core CPU and the
        # whole chapter would need about 4.5 hours
        "book": SRPChapterRun(blocks=16, feats=32, pretrain=2000, delta=ranges.penalty(2e-3),
                              interval=1, ceiling=ranges.penalty(0.5), stabilize=50,
                              finetune=400, batch=8, patch=24, lr=5e-4, schedule="cosine",
                              eval_sets=("Set5", "Set14"), record_every=10, seeds=(0, 1, 2)),
        # SRP's paper and released code (sr_lib.profiles.paper("srp")): DF2K, 300,000 +
        # 143,170 + 400,000 iterations of 16 patches of 48
        "paper": SRPChapterRun(train="DF2K", eval_sets=("Set5", "Set14", "B100", "Urban100"),
                               seeds=(0, 1, 2)),
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
