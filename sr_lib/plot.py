"""Figures the chapters share (matplotlib is imported only here)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .imageio import tensor_to_uint8


def show_images(
    images: dict[str, torch.Tensor], crop: tuple[int, int, int, int] | None = None,
    ncols: int | None = None, size: float = 3.0, suptitle: str | None = None,
):
    """Show [0, 1] tensors side by side; ``crop = (top, left, height, width)`` in the first
    image's pixels, scaled for images of other sizes. Returns the figure."""
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
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
