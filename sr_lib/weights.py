"""Weights files: saving, loading with every check, and authors' releases read safely.

Every weights file sr_lib reads goes through :func:`load_weights`: ``torch.load`` with
``weights_only=True`` (nothing in the file can run), then checks that the tensors are finite
and fit the model, with an error that names what differs. A file that ``weights_only`` refuses
(an author's whole pickled model) is handed to :mod:`sr_lib.foreign`, which rebuilds only its
tensors and maps recognised layouts; :func:`load_foreign` checks the result against the model.
The imports go one way: ``train`` and ``cli`` use this module, this module uses ``foreign``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .errors import SRLibError
from .foreign import CheckpointMismatch, Converted, convert
from .imageio import atomic_write


def atomic_save(obj: dict, path: Path) -> None:
    """torch.save through a temporary file: the previous file survives any failure."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_weights(model: nn.Module, path: str | Path, **meta) -> None:
    """Save model weights with metadata (name, scale, options) for ``load_weights``."""
    atomic_save({"state_dict": model.state_dict(), "meta": meta}, Path(path))


def load_weights(model: nn.Module, path: str | Path) -> dict:
    """Load weights saved by :func:`save_weights` or a trainer checkpoint; returns the meta.

    A file ``torch.load(weights_only=True)`` refuses (an author's whole pickled model, e.g. the
    AIL release) is read by :func:`load_foreign`, which never runs code named
    by the file and accepts only layouts it recognises.
    """
    if not Path(path).is_file():
        raise SRLibError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem gets the same advice
        try:
            conv = load_foreign(model, path)
        except CheckpointMismatch:
            raise
        except SRLibError as foreign_exc:
            raise SRLibError(f"{path} is not a weights file sr_lib can read (torch.load with "
                             f"weights_only=True: {type(exc).__name__}; as a foreign "
                             f"checkpoint: {foreign_exc})") from None
        return {"name": conv.model, "options": conv.options, "source": conv.source,
                "scale": conv.scale}
    if not isinstance(state, dict):
        raise SRLibError(f"{path} holds a {type(state).__name__}, not a dict of weights; save "
                         "weights with sr_lib.weights.save_weights or "
                         "torch.save(model.state_dict())")
    weights = state.get("state_dict") or state.get("model") or state
    if not isinstance(weights, dict) or not all(torch.is_tensor(v) for v in weights.values()):
        raise SRLibError(f"{path} holds no state dict of tensors; save weights with "
                         "sr_lib.weights.save_weights or torch.save(model.state_dict())")
    bad = nonfinite_keys(weights)
    if bad:
        raise SRLibError(f"{path} holds NaN or infinite values in {len(bad)} tensors (first: "
                         f"{bad[0]}); it comes from a diverged run or is corrupt")
    problems = state_dict_mismatch(model, weights)
    if problems:
        raise SRLibError(f"{path} does not fit this {type(model).__name__}: {problems}; build "
                         "the model with the name, scale and options it was trained with "
                         f"(its meta: {state.get('meta', 'none saved')})")
    model.load_state_dict(weights)
    return state.get("meta", {})


def nonfinite_keys(weights: dict) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinite values."""
    return [k for k, v in weights.items()
            if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def state_dict_mismatch(model: nn.Module, weights: dict) -> str:
    """'' if ``weights`` fits ``model``; otherwise the missing, unexpected and misshapen keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    extra = [k for k in weights if k not in own]
    shapes = [f"{k} {tuple(weights[k].shape)} vs {tuple(own[k].shape)}" for k in own
              if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)]
    parts = []
    for label, items in (("missing", missing), ("unexpected", extra), ("shape", shapes)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label} ({', '.join(items[:3])}{more})")
    return "; ".join(parts)


def load_foreign(model: nn.Module, path: str | Path) -> Converted:
    """Load a foreign checkpoint into an sr_lib ``model`` after checking that it fits.

    The model must be the one the converter names, with the same options (e.g. ``width``);
    a file trained for one scale refuses a model built for another.
    """
    from .models import _resolve

    conv = convert(path)
    expected = _resolve(conv.model)
    if isinstance(expected, type) and not isinstance(model, expected):
        raise CheckpointMismatch(f"{path} holds a {conv.model!r} ({conv.source}), not a "
                                 f"{type(model).__name__}; use --model {conv.model}")
    for key, value in conv.options.items():
        have = _option(model, key)
        if have is not None and have != value:
            raise CheckpointMismatch(f"{path} holds a {conv.model} with {key}={value}, but the "
                                     f"model was built with {key}={have}; pass --{key} {value}")
    if conv.scale is not None and int(getattr(model, "scale", conv.scale)) != conv.scale:
        raise CheckpointMismatch(f"{path} was trained for x{conv.scale} (its name says so), "
                                 f"but the model is x{model.scale}; pass --scale {conv.scale}")
    bad = nonfinite_keys(conv.state_dict)
    if bad:
        raise SRLibError(f"{path} holds NaN or infinite values (first: {bad[0]}); it is corrupt")
    problems = state_dict_mismatch(model, conv.state_dict)
    if problems:
        raise CheckpointMismatch(f"{path} does not fit this model: {problems}")
    model.load_state_dict(conv.state_dict)
    return conv


def _option(model: nn.Module, key: str):
    """The value of a build option on a model, where it can be read off the layers."""
    if key == "width":
        first = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
        return None if first is None else first.out_channels
    if key == "depth":
        return sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return getattr(model, key, None)
