"""sr_lib: the library behind the srbook, an executable book on lightweight and iterative SISR.

Submodules (imported on demand):

* :mod:`sr_lib.imageio`, :mod:`sr_lib.color`, :mod:`sr_lib.resize`, :mod:`sr_lib.degrade`:
  images, BT.601 colour, MATLAB-compatible bicubic resize and its adjoint, degradations;
* :mod:`sr_lib.datasets`, :mod:`sr_lib.catalog`: (LR, HR) data and the standard sets;
* :mod:`sr_lib.metrics`, :mod:`sr_lib.evaluate`, :mod:`sr_lib.complexity`: the protocol;
* :mod:`sr_lib.models`: the model registry; :mod:`sr_lib.train`: the one trainer, which
  :mod:`sr_lib.distributed` runs on several processes under torchrun;
* :mod:`sr_lib.receptive`: receptive-field radii (the overlap that makes tiling exact);
* :mod:`sr_lib.ranges`: the [0, 1] convention and the rule that converts hyper-parameters of
  code that works on [0, 255];
* :mod:`sr_lib.stats`: seed-replicated comparisons, 95% intervals and claim verdicts;
* :mod:`sr_lib.profiles`: each chapter's ``paper`` profile, item by item;
* :mod:`sr_lib.notebook`: helpers for the chapters (profiles, banners, widgets).
"""

__version__ = "0.1.0"

from . import catalog, color, complexity, datasets, degrade, metrics, models, resize  # noqa: E402
from .datasets import SRDataset  # noqa: E402
from .errors import SRLibError  # noqa: E402
from .evaluate import evaluate, super_resolve  # noqa: E402
from .imageio import read_image, write_image  # noqa: E402
from .metrics import psnr, ssim  # noqa: E402
from .resize import imresize, imresize_adjoint  # noqa: E402
from .train import Hook, TrainConfig, Trainer  # noqa: E402

__all__ = [
    "Hook", "SRDataset", "SRLibError", "TrainConfig", "Trainer", "__version__", "catalog",
    "color", "complexity", "datasets", "degrade", "evaluate", "imresize", "imresize_adjoint",
    "metrics", "models", "psnr", "read_image", "resize", "ssim", "super_resolve", "write_image",
]
