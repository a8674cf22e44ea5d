"""Helpers every chapter notebook uses: the run banner, data with fallbacks, widgets that
respond in the static book too, and exercise checks."""

from __future__ import annotations

import datetime
import inspect
import os
import platform
from collections.abc import Callable
from pathlib import Path

import torch

from . import __version__, catalog
from .chapters import PROFILES  # smoke, book, paper
from .device import hardware_summary, pick_device
from .errors import DatasetNotFoundError, SRLibError
from .records import run_commit, run_id

ACTIVE_PROFILE: str | None = None  # the profile this kernel's chapter runs (widgets use it)
STATIC_GRID = {"smoke": (2, 4)}  # (values per control, views) of static widgets; else default


def resolve_profile(profile: str) -> str:
    """The profile to run: ``SRBOOK_PROFILE_OVERRIDE`` wins (used by the nbval check, which
    re-executes the committed ``book`` notebook quickly); otherwise the notebook parameter."""
    global ACTIVE_PROFILE
    profile = os.environ.get("SRBOOK_PROFILE_OVERRIDE", profile)
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    ACTIVE_PROFILE = profile
    return profile


def banner(profile: str, device: str | torch.device | None = None) -> None:
    """Show a Markdown line stating what produced the outputs below (top of every chapter)."""
    dev = pick_device(device)
    try:  # every chapter calls this first: its figures follow the book's size rule
        from .plot import book_style

        book_style()
    except ImportError:  # matplotlib is optional for the library
        pass
    text = (
        f"**Run:** profile `{profile}` · {hardware_summary(dev)} · sr_lib {__version__}"
        f"{f' (commit {c})' if (c := run_commit()) else ''} · run `{run_id()}` · "
        f"torch {torch.__version__} · Python {platform.python_version()} · "
        f"{datetime.date.today().isoformat()}"
    )
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:
        print(text)


def find_data(names: list[str], download: bool = False) -> dict[str, list[Path]]:
    """Files of the requested registered datasets that can be found (or, with ``download``,
    fetched and verified); missing sets are reported, not fatal."""
    found = {}
    for name in names:
        try:
            found[name] = catalog.find(name)
        except DatasetNotFoundError:
            if download and catalog.info(name).files and catalog.data_root() is not None:
                catalog.download(name)
                found[name] = catalog.find(name)
            else:  # a page shows this line: the set's name and source, not this machine's paths
                entry = catalog.info(name)
                source = entry.how_to_get or (" + ".join(entry.parts) if entry.parts else
                                              "sr_lib.catalog.download")
                print(f"[data] {entry.name} is not under the data root (SR_DATA); source: "
                      f"{source}. catalog.find({entry.name!r}) lists the folders it tries.")
    return found


_SAMPLE_NAMES = ["astronaut", "coffee", "chelsea", "rocket"]
_BENCHMARKS: dict = {}


def benchmark_set(name: str, scale: int, data: dict[str, list[Path]], channels: str = "rgb"):
    """The benchmark set ``name`` at ``scale`` as an ``SRDataset``, cached across calls;
    the scikit-image sample images stand in (with a printed notice) when the set is missing,
    so a chapter still runs without data, and says which numbers are not benchmark numbers."""
    from .datasets import SRDataset

    key = (name, scale, channels, tuple(map(str, data.get(name, []))))
    if key not in _BENCHMARKS:
        if name in data:
            _BENCHMARKS[key] = SRDataset(data[name], scale, channels=channels)
        else:
            print(f"[data] {name} missing: using scikit-image sample images instead")
            _BENCHMARKS[key] = SRDataset(catalog.sample_images(), scale, channels=channels,
                                         names=_SAMPLE_NAMES)
    return _BENCHMARKS[key]


def in_colab() -> bool:
    try:
        import google.colab  # noqa: F401

        return True
    except ImportError:
        return False


def widget(fn: Callable, **controls) -> None:
    """Show ``fn`` with controls: live ipywidgets in Jupyter and Colab; in the book's scripted
    runs (``SRBOOK_STATIC``), every view over a small grid of control values, stored in one
    self-contained HTML output whose controls respond in the static page
    (:func:`sr_lib.widgets.static_widget`; two values per control in the ``smoke`` profile).
    ``controls`` use ipywidgets' abbreviations: ``(min, max, step)`` or a list of options.
    """
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()
                if p.default is not inspect.Parameter.empty}
    if os.environ.get("SRBOOK_STATIC") or _non_interactive():
        # a live widget's output area can keep a headless kernel client waiting, and the
        # HTML page has no kernel: store the views instead
        try:
            from IPython.display import HTML, display
        except ImportError:
            fn(**defaults)
            print("Static view at the default settings; run the notebook for the controls.")
            return
        from .widgets import MOST_VIEWS, PER_CONTROL, static_widget

        per_control, most = STATIC_GRID.get(ACTIVE_PROFILE or "", (PER_CONTROL, MOST_VIEWS))
        display(HTML(static_widget(fn, controls, defaults, per_control, most)))
        return
    fn(**defaults)
    try:
        import matplotlib.pyplot as plt

        plt.show()
    except ImportError:
        pass
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        print("(install ipywidgets to get the interactive controls)")
        return
    display(ipywidgets.interactive(fn, **controls))


def _non_interactive() -> bool:
    try:
        from IPython import get_ipython

        ip = get_ipython()
        return ip is None or type(ip).__name__ != "ZMQInteractiveShell"
    except ImportError:
        return True


def check(condition: bool, success: str, hint: str) -> None:
    """Exercise checker: prints a success message or raises with a hint."""
    if not condition:
        raise AssertionError(f"Not yet: {hint}")
    print(f"Correct: {success}")


def _cell(text: object) -> str:
    """A table cell that cannot break the table: ``|`` escaped, line breaks as <br>."""
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def markdown_text(rows: list[dict], floatfmt: str = ".2f") -> str:
    """A list of dicts as the text of a Markdown table (columns: the union of the keys)."""
    if not rows:
        return ""
    keys = list(dict.fromkeys(k for r in rows for k in r))  # union, in first-seen order
    lines = ["| " + " | ".join(_cell(k) for k in keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [format(r[k], floatfmt) if isinstance(r.get(k), float) else str(r.get(k, "-"))
                 for k in keys]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def markdown_table(rows: list[dict], floatfmt: str = ".2f") -> str:
    """Render a list of dicts as a Markdown table (and display it in a notebook)."""
    text = markdown_text(rows, floatfmt)
    if not text:
        return ""
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:
        print(text)
    return text


class Scoreboard:
    """Memoised ``(Y-PSNR, SSIM)`` of trained networks on the benchmark sets.

    A chapter scores the same network in several tables and figures; evaluation is the slow part
    of re-running those cells, so each ``(key, scale, set)`` is computed once. ``key`` names the
    trained network (its weights must not change under the same key). Multi-scale networks
    (those with ``at_scale``) are scored at the requested scale.
    """

    def __init__(self, data: dict[str, list[Path]], sets: list[str]) -> None:
        self.data, self.sets = data, list(sets)
        self.results: dict[tuple[str, int, str], tuple[float, float]] = {}
        self.images: dict[tuple[str, int, str], list[float]] = {}  # per-image PSNR

    def __call__(self, model: torch.nn.Module, key: str, scale: int = 2,
                 sets: list[str] | None = None) -> dict[str, tuple[float, float]]:
        from .evaluate import evaluate

        out = {}
        for name in sets or self.sets:
            if (key, scale, name) not in self.results:
                net = model.at_scale(scale) if hasattr(model, "at_scale") else model
                r = evaluate(net, benchmark_set(name, scale, self.data), progress=False)
                self.results[key, scale, name] = (r.mean_psnr, r.mean_ssim)
                self.images[key, scale, name] = list(r.psnr)
            out[name] = self.results[key, scale, name]
        return out

    def add(self, key: str, scale: int, set_name: str, per_image) -> None:
        """Per-image PSNRs computed elsewhere, kept under ``key`` like a scored network's."""
        images = [float(v) for v in per_image]
        self.images[key, scale, set_name] = images
        self.results[key, scale, set_name] = (sum(images) / len(images), float("nan"))

    def per_image(self, key: str, scale: int = 2, sets: list[str] | None = None) -> list[float]:
        """The per-image PSNRs behind a scored key, concatenated over ``sets`` in order: the
        paired samples :func:`sr_lib.stats.compare` needs. The key must have been scored."""
        missing = [n for n in sets or self.sets if (key, scale, n) not in self.images]
        if missing:
            raise SRLibError(f"{key!r} at x{scale} was not scored on {missing}: call the "
                             "scoreboard with that network first")
        return [p for n in sets or self.sets for p in self.images[key, scale, n]]
