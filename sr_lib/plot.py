"""Figures the chapters share (matplotlib is imported only here), and the one size rule.

The book's text column is 784 px wide; a figure drawn wider is shrunk to fit, its labels with
it. Every chapter figure is therefore at most :data:`COLUMN_INCHES` wide at
:data:`DPI` (:func:`figsize`), and :func:`book_style` sets font sizes that stay readable there
(and, halved, on a phone). :func:`sr_lib.notebook.banner` applies the style.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from .imageio import tensor_to_uint8
from .stats import pareto_front

DPI = 100
COLUMN_INCHES = 7.8  # 780 px at DPI: the text column, so figures are never shrunk on a desktop


def figsize(fraction: float = 1.0, aspect: float = 0.45) -> tuple[float, float]:
    """(width, height) in inches for a figure ``fraction`` of the column wide; ``aspect`` is
    height / width."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    width = COLUMN_INCHES * fraction
    return width, width * aspect


def book_style() -> None:
    """Matplotlib settings of the book: column-width figures, 10-pt text, fewer ticks."""
    plt.rcParams.update({
        "figure.figsize": figsize(), "figure.dpi": DPI, "savefig.dpi": DPI,
        "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
        "xtick.major.size": 3, "ytick.major.size": 3, "axes.formatter.limits": (-3, 4),
    })


def show_images(
    images: dict[str, torch.Tensor], crop: tuple[int, int, int, int] | None = None,
    ncols: int | None = None, size: float = 3.0, suptitle: str | None = None,
):
    """Show [0, 1] tensors side by side; ``crop = (top, left, height, width)`` in the first
    image's pixels, scaled for images of other sizes. ``size`` (inches per panel) shrinks so
    that the row fits the text column. Returns the figure."""
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    size = min(size, COLUMN_INCHES / ncols)  # the strip fits the text column
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    ref = next(iter(images.values())).shape[-1]
    for ax, (title, img) in zip(axes.flat, images.items()):
        img = img.detach().cpu()
        if img.dim() == 4:
            img = img[0]
        if crop is not None:
            f = img.shape[-1] / ref
            t, le, h, w = (int(round(v * f)) for v in crop)
            img = img[..., t : t + h, le : le + w]
        arr = tensor_to_uint8(img.clamp(0, 1))
        ax.imshow(arr[:, :, 0] if arr.shape[2] == 1 else arr, cmap="gray",
                  interpolation="nearest", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    for ax in list(axes.flat)[len(images):]:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def pareto(points: Mapping[str, Sequence[tuple[float, float]]], xlabel: str, ylabel: str,
           logx: bool = True) -> plt.Figure:
    """Quality against cost: a small marker per seed, a large one per method's mean, and the
    dashed line through the means that no other method beats on both axes
    (:func:`sr_lib.stats.pareto_front`). Returns the figure."""
    fig, ax = plt.subplots(figsize=figsize(1.0, 0.55))
    means = {}
    for name, pts in points.items():
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        dots = ax.plot(xs, ys, ".", alpha=0.5)[0]
        means[name] = (sum(xs) / len(xs), sum(ys) / len(ys))
        ax.plot(*means[name], "o", color=dots.get_color(), ms=6)
        ax.annotate(name, means[name], xytext=(4, 3), textcoords="offset points", fontsize=7)
    front = pareto_front(means)
    ax.plot([means[n][0] for n in front], [means[n][1] for n in front], "k--", lw=0.8,
            label="Pareto front (means)")
    ax.set(xlabel=xlabel, ylabel=ylabel, xscale="log" if logx else "linear")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


KIND_COLORS = {"constrained": "tab:red", "free": "tab:blue", "not pruned": "tab:gray"}


def layer_kinds(structure, label: Callable[[str], str] = str) -> plt.Figure:
    """One bar per convolution of an analysed network (:func:`sr_lib.pruning.analyze`), coloured
    by kind: constrained (tied by residual additions), free, or not pruned; ``label`` shortens
    the names on the axis. Returns the figure."""
    kinds = structure.kinds()
    fig, ax = plt.subplots(figsize=figsize(1.0, 0.3))
    for i, kind in enumerate(kinds.values()):
        ax.bar(i, 1, color=KIND_COLORS[kind])
    ax.set_xticks(range(len(kinds)), [label(n) for n in kinds], rotation=90)
    ax.set(yticks=[], xlim=(-0.6, len(kinds) - 0.4))
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in KIND_COLORS.values()],
              labels=list(KIND_COLORS), ncol=3, loc="lower center",
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def filter_norms(history: list[dict], layers: Sequence[str], kinds: dict[str, str]
                 ) -> plt.Figure:
    """SRP's Fig. 3 for any layers: the mean |w| of the kept and of the pruned filters during
    regularisation, from a :class:`~sr_lib.pruning.GrowingRegularizer`'s ``history``. Returns
    the figure."""
    if not history:
        raise ValueError("the penalty's history is empty: regularise with record_every > 0")
    steps = [h["step"] for h in history]
    fraction = min(1.0, 0.45 * len(layers))
    fig, axes = plt.subplots(1, len(layers), figsize=figsize(fraction, 2.6 / (7.8 * fraction)),
                             squeeze=False)
    for ax, name in zip(axes[0], layers):
        ax.plot(steps, [h[name][0] for h in history], label="kept filters")
        ax.plot(steps, [h[name][1] for h in history], "--", label="pruned filters")
        ax.set(title=f"{name} ({kinds[name]})", xlabel="iteration", ylabel="mean |w|")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
