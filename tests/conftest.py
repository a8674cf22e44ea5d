import os
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real datasets (SR_DATA, else ../shared/data); tests that need them skip if absent."""
    root = Path(os.environ.get("SR_DATA", SHARED_DATA))
    if not (root / "Set5").is_dir():
        pytest.skip(f"real datasets not found under {root} (set SR_DATA)")
    return root


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture(scope="session")
def small_images() -> list[np.ndarray]:
    """Deterministic synthetic RGB images with structure (gradients, edges, texture)."""
    g = np.random.default_rng(1)
    out = []
    for h, w in [(64, 72), (80, 60), (57, 91)]:
        yy, xx = np.mgrid[0:h, 0:w]
        base = 128 + 60 * np.sin(xx / 5.0)[:, :, None] * np.cos(yy / 7.0)[:, :, None]
        img = base + g.normal(0, 10, (h, w, 3)) + (xx > w // 2)[:, :, None] * 40
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


@pytest.fixture()
def folder(tmp_path, small_images):
    """The small test images as PNG files in a folder (what the command line reads)."""
    from PIL import Image

    hr = tmp_path / "hr"
    hr.mkdir()
    for i, img in enumerate(small_images):
        Image.fromarray(img).save(hr / f"{i}.png")
    return hr
