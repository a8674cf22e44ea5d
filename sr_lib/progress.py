"""Progress bars that a build can switch off.

Every long loop of sr_lib shows a tqdm bar when its caller asks for one. ``TQDM_DISABLE=1`` in
the environment silences all of them, whatever the caller asked: the book's builds set it, so
committed outputs hold results, not bars (tqdm itself lets an explicit ``disable=`` argument
win over that variable, hence this wrapper).
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

_OFF = {"1", "true", "yes", "on"}


def wanted(requested: bool = True) -> bool:
    """Whether a bar the caller ``requested`` should be drawn (False under TQDM_DISABLE=1)."""
    return bool(requested) and os.environ.get("TQDM_DISABLE", "").strip().lower() not in _OFF


def bar(*args, show: bool = True, **kwargs) -> tqdm:
    """``tqdm(*args, **kwargs)``, drawn only when ``show`` and the environment allow it."""
    return tqdm(*args, disable=not wanted(show), **kwargs)
