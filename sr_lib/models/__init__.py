"""One registry of SR models: ``build(name, scale=..., **options)`` and ``names()``.

Names are lower-case with hyphens. Entries point at ``module:callable`` strings and are
imported only when built, so one chapter's model can never break ``import sr_lib``. A chapter
adds its models with :func:`register`.
"""

from __future__ import annotations

import importlib
import inspect

from torch import nn

from ..errors import SRLibError

_REGISTRY: dict[str, str] = {
    "bicubic": "sr_lib.models.classic:Bicubic",
    "srcnn": "sr_lib.models.classic:SRCNN",
    "vdsr": "sr_lib.models.classic:VDSR",
    "edsr": "sr_lib.models.edsr:edsr",
    "edsr-baseline": "sr_lib.models.edsr:edsr_baseline",
    "rcan": "sr_lib.models.rcan:RCAN",
    "srpn-lite": "sr_lib.models.edsr:srpn_lite",
    "srpn": "sr_lib.models.rcan:srpn",
    "isrrescnet": "sr_lib.models.isrrescnet:ISRResCNet",
    "back-projection": "sr_lib.models.isrrescnet:BackProjection",
    "prosr": "sr_lib.models.prosr:ProSR",
    "prosr-s": "sr_lib.models.prosr:prosr_s",
    "prosr-l": "sr_lib.models.prosr:prosr_l",
    "prosr-pre": "sr_lib.models.prosr:PreUpsamplingDCUNet",
    "drrn": "sr_lib.models.drrn:DRRN",
    "drn": "sr_lib.models.drn:DRN",
    "drn-s": "sr_lib.models.drn:drn_s",
    "drn-l": "sr_lib.models.drn:drn_l",
}

_INTERNAL = {"conv"}  # constructor arguments that are not user options
_MAY_BE_ZERO = {"feedback", "n_resgroups", "seed", "padding"}  # counts where 0 is meaningful


def register(name: str, target: str) -> None:
    """Register ``name`` -> ``"package.module:callable"`` (the callable takes ``scale``)."""
    if name != name.lower() or " " in name or "_" in name:
        raise SRLibError(f"model names are lower-case with hyphens, got {name!r}")
    _REGISTRY[name] = target


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def _resolve(name: str):
    if name not in _REGISTRY:
        raise SRLibError(f"unknown model {name!r}; registered: {', '.join(names())}")
    module, attr = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)


def options(name: str) -> dict[str, object]:
    """The configurable options of a model and their defaults (``scale`` excluded)."""
    builder = _resolve(name)
    target = builder.__init__ if inspect.isclass(builder) else builder
    params = dict(inspect.signature(target).parameters)
    # builders that forward **kw to a class: include the class's options too
    if any(p.kind is p.VAR_KEYWORD for p in params.values()) and not inspect.isclass(builder):
        ret = inspect.signature(builder).return_annotation
        cls = getattr(importlib.import_module(builder.__module__), ret, None) if isinstance(
            ret, str) else ret
        if inspect.isclass(cls):
            for k, p in inspect.signature(cls.__init__).parameters.items():
                params.setdefault(k, p)
    return {
        k: p.default for k, p in params.items()
        if k not in ("self", "scale", *_INTERNAL)
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def build(name: str, scale: int = 4, **config) -> nn.Module:
    """Build a registered model; unknown options are an error that lists the valid ones."""
    builder = _resolve(name)
    valid = options(name)
    unknown = sorted(set(config) - set(valid) - _INTERNAL)
    if unknown:
        raise SRLibError(
            f"model {name!r} has no option {', '.join(unknown)}; options: "
            + ", ".join(f"{k}={v!r}" for k, v in valid.items())
        )
    for key, value in config.items():  # a number option given a word, and the like
        default = valid.get(key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SRLibError(f"option {key} of {name!r} is true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool) and (
                isinstance(value, bool) or not isinstance(value, (int, float))):
            raise SRLibError(f"option {key} of {name!r} is a number (default {default!r}), "
                             f"got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(
                value, (int, float)) and value < 1 and key not in _MAY_BE_ZERO:
            raise SRLibError(f"option {key} of {name!r} must be at least 1, got {value!r}")
    try:
        model = builder(scale=int(scale), **config)
    except (TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise SRLibError(f"could not build {name!r} with {config}: {first}") from None
    model.name = name
    return model
