"""The ``paper`` profiles: each paper's training as its text and its authors' released code
describe it, translated into sr_lib settings, item by item.

A :class:`PaperProfile` holds the chapter's notebook parameters for the ``paper`` profile
(:attr:`PaperProfile.params`), the trainer settings of each phase (:meth:`configs`), the
training data it needs (:meth:`data_plan`, which says what is missing and where it looked
without loading anything), and the table that every chapter prints: the paper, the released
code and what sr_lib runs, one row per setting (:meth:`table`). Values of code that works on
[0, 255] pixels are converted with :mod:`sr_lib.ranges`. Sources: the seed papers and
``../shared/design/seed-facts.md`` (what the released code does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import ranges
from .errors import DatasetNotFoundError, SRLibError


@dataclass(frozen=True)
class Setting:
    """One row of a chapter's "paper profile vs released code" table."""

    name: str
    paper: str
    released: str
    ours: str


@dataclass(frozen=True)
class PaperProfile:
    key: str
    chapter: str
    scale: int
    train_data: str  # a catalog name (DF2K = DIV2K + Flickr2K)
    eval_sets: tuple[str, ...]
    phases: dict[str, dict]  # TrainConfig settings per training phase
    settings: tuple[Setting, ...]
    params: dict = field(default_factory=dict)  # the notebook's PROFILES["paper"]

    def configs(self) -> dict:
        """Every phase as a validated :class:`~sr_lib.train.TrainConfig` (nothing is trained)."""
        from .train import TrainConfig

        return {name: TrainConfig(**kw) for name, kw in self.phases.items()}

    def data_plan(self, root: str | Path | None = None) -> list[dict]:
        """The training and test sets with their image counts, or why they are missing."""
        from . import catalog

        rows = []
        for name, role in [(self.train_data, "train")] + [(s, "test") for s in self.eval_sets]:
            try:
                n, note = len(catalog.find(name, root)), ""
            except DatasetNotFoundError as exc:
                n, note = 0, str(exc)
            rows.append({"set": name, "role": role, "images": n, "missing": note})
        return rows

    def table(self) -> list[dict]:
        return [{"setting": s.name, "paper": s.paper, "released code": s.released,
                 "sr_lib paper profile": s.ours} for s in self.settings]


def _s(name: str, paper: str, released: str, ours: str) -> Setting:
    return Setting(name, paper, released, ours)


_EVAL = ("Set5", "Set14", "B100", "Urban100")
_SHAVE = "Y (BT.601), shave = scale"

# -- Chapter 1: ISRResCNet (seed 000). The training code is not released; the paper's numbers.
_ISR_EPOCH = 800 // 4  # DIV2K, batch 4
ISRRESCNET = PaperProfile(
    key="isrrescnet", chapter="01_isrrescnet", scale=4, train_data="DIV2K", eval_sets=_EVAL,
    phases={"train": dict(iterations=300 * _ISR_EPOCH, batch_size=4, lr_patch=40, lr=1e-3,
                          scheduler="multistep", gamma=0.5, loss="l1",
                          milestones=[e * _ISR_EPOCH for e in (100, 150, 200, 250)])},
    params=dict(train="DIV2K", limit=None, features=64, blocks=5, K=(10, 20), fb=4,
                iters=300 * _ISR_EPOCH, batch=4, patch=40, lr=1e-3, eval_sets=list(_EVAL),
                ensemble=True, init="kaiming", x0="bicubic"),
    settings=(
        _s("data", "DIV2K (800), flips, rotations, MixUp", "not released (training code)",
           "DIV2K via the catalog, dihedral augmentation, MixUp"),
        _s("LR patch / batch", "60 / 50 / 40 at x2 / x3 / x4; batch 4", "not released",
           "40 at x4; batch 4"),
        _s("optimiser", "Adam (0.9, 0.999, 1e-8), no weight decay", "not released", "the same"),
        _s("schedule", "lr 1e-3 for 100 epochs, then halved every 50", "not released",
           "multistep at epochs 100, 150, 200, 250 (200 iterations an epoch)"),
        _s("iterations", "300 epochs", "not released", f"{300 * _ISR_EPOCH:,}"),
        _s("unrolling", "K = 10 with FB = 4 at x4; K = 20 at x2, x3", "TBPTT k1 = k2 = 5, "
           "intermediate losses x0.5 (deep_demosaick)", "K = 10, FB = 4, TBPTT 5 / 5"),
        _s("initialisation", "Kaiming, zero biases", "PyTorch default",
           "Kaiming, zero biases (init='kaiming')"),
        _s("start x0 / operator", "not stated", "corner-aligned bilinear x0, decimation H, "
           "corner-aligned cubic H^T", "x0 = MATLAB bicubic, the exact H and its adjoint "
           "(x0='bicubic'); the released pair is data_step='released'"),
        _s("pixel range", "[0, 255], clamp in every iteration", "[0, 255]",
           "[0, 1], clamp to [0, 1]: the same function (sigma is divided by 255)"),
        _s("evaluation", _SHAVE, "Y, shave = scale", _SHAVE),
    ))

# -- Chapter 2: ProSR (seed 001)
_PROSR_EPOCH = 800  # DIV2K file list repeated batch-size times: 800 iterations an epoch
PROSR = PaperProfile(
    key="prosr", chapter="02_prosr", scale=4, train_data="DIV2K", eval_sets=_EVAL,
    phases={"train": dict(iterations=300 * _PROSR_EPOCH, batch_size=16, lr_patch=36, lr=1e-4,
                          scheduler="plateau", gamma=0.5, patience=30, min_lr=1e-5,
                          val_every=_PROSR_EPOCH, loss="l1")},
    params=dict(train="DIV2K", limit=None, features=64, growth=12, layers=6,
                iters=300 * _PROSR_EPOCH, gan_iters=100 * _PROSR_EPOCH, batch=16,
                patch={2: 48, 4: 36, 8: 24}, lr=1e-4, val_every=_PROSR_EPOCH,
                eval_sets=list(_EVAL), d_every=2,
                schedule=dict(scheduler="plateau", gamma=0.5, patience=30, min_lr=1e-5,
                              val_every=_PROSR_EPOCH)),
    settings=(
        _s("data", "DIV2K", "DIV2K; LR made with PIL bicubic", "DIV2K, MATLAB bicubic LR"),
        _s("LR patch / batch", "not stated", "48 / 36 / 24 at x2 / x4 / x8; batch 16",
           "36 at x4; batch 16"),
        _s("optimiser", "Adam", "Adam (0.9, 0.999, 1e-8), lr 1e-4", "the same"),
        _s("schedule", "not stated", "halve on a validation plateau of 30 epochs, floor 1e-5",
           "plateau scheduler, patience 30 validations of one epoch each, floor 1e-5"),
        _s("iterations", "not stated", "300 epochs of 800 iterations", f"{300 * _PROSR_EPOCH:,}"),
        _s("curriculum", "levels added one at a time, blended in", "the same",
           "sr_lib.progressive curriculum"),
        _s("pixel range", "-", "(x - mean) * 255: L1 on the 0-255 scale",
           "[0, 1]; Adam and L1 make the scale irrelevant (no penalty to convert)"),
        _s("evaluation", "Y, border not stated", "Y, border = scale + 6",
           "Y, shave = scale (the tables' convention); scale + 6 shown beside it"),
    ))

# -- Chapter 3: SRP (seed 002), EDSR-baseline on DF2K, released code on [0, 255]
SRP = PaperProfile(
    key="srp", chapter="03_srp", scale=2, train_data="DF2K", eval_sets=_EVAL,
    phases={
        "pretrain": dict(iterations=300_000, batch_size=16, lr_patch=48, lr=1e-4,
                         scheduler="step", step_size=200_000, gamma=0.5, loss="l1"),
        "regularise": dict(iterations=5001 * 20 + 43_150, batch_size=16, lr_patch=48, lr=1e-4,
                           scheduler=None, loss="l1"),
        "finetune": dict(iterations=400_000, batch_size=16, lr_patch=48, lr=1e-4,
                         scheduler="step", step_size=200_000, gamma=0.5, loss="l1"),
    },
    params=dict(train="DF2K", limit=None, blocks=16, feats=64, pretrain=300_000,
                delta=ranges.penalty(1e-4), interval=20, ceiling=ranges.penalty(0.5),
                bias_factor=ranges.bias_factor(), stabilize=43_150, finetune=400_000,
                batch=16, patch=48, lr=1e-4, ratios=(0.1, 0.3, 0.5, 0.7, 0.9),
                schedules={"pretrain": dict(scheduler="step", step_size=200_000, gamma=0.5),
                           "regularise": dict(scheduler=None),
                           "finetune": dict(scheduler="step", step_size=200_000, gamma=0.5)},
                eval_sets=list(_EVAL), record_every=500),
    settings=(
        _s("data", "DIV2K + Flickr2K", "DF2K (images 1-3550 train)",
           "DF2K = DIV2K + Flickr2K (catalog)"),
        _s("patch / batch", "48x48 (LR or HR not stated) / not stated", "LR 48 / 16",
           "LR 48 / 16"),
        _s("optimiser", "Adam (0.9, 0.999, 1e-8)", "Adam (0.9, 0.999, 1e-8)", "the same"),
        _s("pretraining of the dense network", "not stated",
           "not stated (pretrained dense models are shipped)", "300,000 iterations (ours)"),
        _s("Delta (growth of alpha)", "not stated", "1e-4 on [0, 255]",
           f"{ranges.penalty(1e-4):.3g} on [0, 1] (sr_lib.ranges: / 255)"),
        _s("tau (ceiling of alpha)", "'like 0.5'", "0.5 on [0, 255]",
           f"{ranges.penalty(0.5):.3g} on [0, 1] (/ 255); biases x 255^2"),
        _s("update interval T, stabilisation", "T not stated; not stated",
           "20; 43,150 iterations", "20; 43,150"),
        _s("schedule while regularising", "not stated", "lr 1e-4 fixed", "lr 1e-4 fixed"),
        _s("fine-tuning", "lr 1e-4 halved every 2e5 iterations (for training; the phase "
           "is not stated); length not stated",
           "StepLR x0.5 every 200 epochs of 1,000 iterations; --epochs 5000 by default",
           "step scheduler, x0.5 every 200,000 iterations; 400,000 (ours)"),
        _s("pruned set", "random in the constrained layers, fixed",
           "one random permutation shared by constrained layers",
           "sr_lib.pruning.plan_srp (the same)"),
        _s("evaluation", "PSNR / SSIM on Y (YCbCr); border not stated", "Y, shave = scale",
           _SHAVE),
    ))

# -- Chapter 4: DRN (seed 003), released code on [0, 255]
DRN = PaperProfile(
    key="drn", chapter="04_drn", scale=4, train_data="DF2K", eval_sets=_EVAL,
    phases={
        "train": dict(iterations=1_000_000, batch_size=32, lr_patch=48, lr=1e-4,
                      betas=(0.9, 0.999), scheduler="cosine", min_lr=1e-7, loss="l1"),
        "search": dict(iterations=100_000, batch_size=16, lr_patch=48, lr=1e-2,
                       optimizer="sgd", momentum=0.9, weight_decay=ranges.penalty(3e-4),
                       grad_clip=ranges.grad_clip(5.0), loss="l1"),
    },
    params=dict(train="DF2K", limit=None, blocks=30, feats=16, iters=1_000_000, batch=32,
                patch=48, lr=1e-4, lams=(0.0, 0.001, 0.01, 0.1, 1.0, 10.0),
                ratios=(0.3, 0.5, 0.7), search_iters=100_000, alpha_lr=3e-4,
                alpha_decay=ranges.penalty(1e-3), search_lr=1e-2,
                search_decay=ranges.penalty(3e-4), search_clip=ranges.grad_clip(5.0),
                multiple=4, per_step=1, gamma=ranges.from_released(1.0, "dual", "feature_mse"),
                select_batches="epoch", select_lr=5e-5, finetune=300_000,
                adapt_iters=100_000, latency_in=96, gap_sizes=(8, 64, 512), gap_iters=20_000,
                edsr=(16, 64), eval_sets=list(_EVAL)),
    settings=(
        _s("data", "DF2K", "DF2K", "DF2K = DIV2K + Flickr2K (catalog)"),
        _s("LR patch / batch", "48 / 32", "HR 384 (LR 96 at x4) / 32", "48 / 32"),
        _s("optimiser", "Adam (0.9, 0.99)", "Adam (0.9, 0.999, 1e-8)", "Adam (0.9, 0.999)"),
        _s("schedule", "cosine, 1e-4 to 1e-7", "cosine per 1000-iteration epoch", "cosine "
           "per iteration, 1e-4 to 1e-7"),
        _s("iterations", "10^6", "1000 epochs of 1000", "1,000,000"),
        _s("lambda (dual weight)", "0.1", "0.1", "0.1 (both terms L1: no conversion)"),
        _s("search: weights", "not stated", "SGD 0.9, weight decay 3e-4, clip 5 (on [0, 255])",
           f"SGD 0.9, decay {ranges.penalty(3e-4):.3g}, clip {ranges.grad_clip(5.0):.3g} "
           "(/ 255)"),
        _s("search: alpha", "Adam 3e-4", "Adam 3e-4, weight decay 1e-3, init 1e-3 randn",
           f"Adam 3e-4, decay {ranges.penalty(1e-3):.3g}"),
        _s("selection (Eq. 5)", "gamma not stated", "feature MSE + DR loss (gamma 1) on "
           "[0, 255], gradient over the whole loader, 1 channel at a time, 1 epoch of SGD "
           "(Nesterov, lr 5e-5) after each", "gamma 1/255, gradient summed over one epoch, "
           "1 channel at a time, SGD Nesterov 5e-5"),
        _s("evaluation", _SHAVE, "Y, shave = scale", _SHAVE),
    ))

# -- Chapter 5: AIL (seed 004); the released code already works on [0, 1] (MATLAB im2double)
_AIL_EPOCH = 5_000  # iterations in one epoch of batch 128 over the 291 HDF5 patches (approx.)
AIL = PaperProfile(
    key="ail", chapter="05_ail", scale=2, train_data="291", eval_sets=("Set5", "Set14", "B100"),
    phases={"round": dict(iterations=50 * _AIL_EPOCH, batch_size=128, lr_patch=21, lr=0.1,
                          optimizer="sgd", momentum=0.9, weight_decay=1e-4, grad_clip=0.4,
                          loss="l2", reduction="sum", scheduler="step",
                          step_size=10 * _AIL_EPOCH, gamma=0.1)},
    params=dict(train="291", limit=None, downsize=(1.0, 0.7, 0.5), depth=20, teacher_width=64,
                width=13, sweep=(13, 16, 22, 32), train_scales=(2, 3, 4), ail_scales=(2, 3, 4),
                batch=128, teacher_iters="50 epochs", base_iters="50 epochs", rounds=10,
                round_iters="50 epochs", decay=0.2,
                drrn=dict(teacher_width=128, width=25, units=25, iters="50 epochs"),
                eval_sets=list(_EVAL), curve_sets=["Set14", "B100", "Urban100"],
                latency_in=128),
    settings=(
        _s("data", "291, Y channel", "291 HDF5 patches: 3 flips x 4 rotations x 3 scales",
           "291 via the catalog, dihedral augmentation, downsized copies"),
        _s("patch / batch", "41 / 128", "41 x 41 HR-size patches, stride 41 / 128",
           "41 HR (21 LR at x2) / 128"),
        _s("optimiser", "SGD", "SGD 0.9, weight decay 1e-4, clip 0.4, summed MSE",
           "the same (reduction='sum'); [0, 1] like the released code: no conversion"),
        _s("schedule", "lr 0.1, x0.1 every 10 epochs", "reset to 0.1 each round, x0.1 every "
           "10 epochs", "step scheduler per round"),
        _s("rounds", "10 x 50 epochs", "10 x 50 epochs from the pretrained f13", "10 x 50"),
        _s("evaluation", _SHAVE, "Y, shave = scale, MATLAB .mat inputs", _SHAVE),
    ))

PAPER: dict[str, PaperProfile] = {p.key: p for p in (ISRRESCNET, PROSR, SRP, DRN, AIL)}


def paper(key: str) -> PaperProfile:
    """The ``paper`` profile of one chapter: ``isrrescnet``, ``prosr``, ``srp``, ``drn``,
    ``ail``."""
    if key not in PAPER:
        raise SRLibError(f"no paper profile {key!r}; known: {', '.join(PAPER)}")
    return PAPER[key]
