"""Widgets that respond in the static book: every view computed when the notebook runs.

A chapter's widget calls a plotting function with the values of its controls. In Jupyter or
Colab, ipywidgets calls it live. The rendered book has no kernel, so when the notebook runs for
the book (``SRBOOK_STATIC``), :func:`static_widget` calls the function over a small grid of
control values instead and stores every view (figures as PNG, printed text) in one
self-contained HTML output: plain controls and a few lines of JavaScript that show the stored
view matching them. No network, no kernel, no widget library; a notebook viewer that does not
run scripts still shows the default view.

The grid: a ``(min, max[, step])`` range gives at most ``per_control`` values (always with the
default), a list gives its options (as many). With several controls the views cover every
combination when there are at most ``most_views`` of them; otherwise each control is varied on
its own with the others at their defaults, and moving one control puts the others back.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from typing import Any

PER_CONTROL = 8
MOST_VIEWS = 24


def _is_range(control: Any) -> bool:
    return (isinstance(control, tuple) and len(control) in (2, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in control))


def _thin(values: list, default: Any, most: int) -> list:
    """At most ``most`` of ``values``, evenly spread, always with the one nearest ``default``."""
    if len(values) <= most or most < 3:
        return values if len(values) <= most else [values[0], values[-1]][:max(most, 1)]
    picks = {round(i * (len(values) - 1) / (most - 1)) for i in range(most)}
    if default is not None:
        nearest = min(range(len(values)), key=lambda i: abs(values[i] - default)
                      if isinstance(values[i], (int, float)) else values[i] != default)
        if nearest not in picks:
            picks.remove(min(picks - {0, len(values) - 1},
                             key=lambda i: abs(i - nearest)))
            picks.add(nearest)
    return [values[i] for i in sorted(picks)]


def grid(control: Any, default: Any = None, per_control: int = PER_CONTROL) -> list:
    """The values a control is shown at in the static page."""
    if _is_range(control):
        low, high, *rest = control
        step = rest[0] if rest else (high - low) / (per_control - 1)
        n = int(math.floor((high - low) / step + 1e-9)) + 1
        integer = all(isinstance(v, int) for v in control)
        values = [low + i * step for i in range(n)]
        values = [int(v) for v in values] if integer else [round(v, 10) for v in values]
        return _thin(values, default, per_control)
    if isinstance(control, (list, tuple)) and control:
        return list(control)
    raise ValueError(f"a control is (min, max[, step]) or a list of options, got {control!r}")


def _capture(fn: Callable, values: Mapping[str, Any], dpi: int) -> str:
    """One view: what ``fn(**values)`` prints and draws, as HTML."""
    import matplotlib.pyplot as plt

    plt.close("all")
    text, shown = io.StringIO(), []
    show = plt.show
    plt.show = lambda *a, **k: None  # the figures are collected below, not displayed
    try:
        try:
            from IPython.utils.capture import capture_output
        except ImportError:
            with redirect_stdout(text):
                fn(**values)
        else:
            with capture_output(stdout=True, stderr=False, display=True) as cap:
                fn(**values)
            text.write(cap.stdout)
            for out in cap.outputs:
                data = out.data
                if "text/html" in data:
                    shown.append(data["text/html"])
                elif "text/markdown" in data:
                    shown.append(f"<pre>{html.escape(data['text/markdown'])}</pre>")
                elif "image/png" in data:
                    shown.append(f'<img alt="" src="data:image/png;base64,{data["image/png"]}">')
                elif "text/plain" in data:
                    shown.append(f"<pre>{html.escape(data['text/plain'])}</pre>")
    finally:
        plt.show = show
    parts = [f"<pre>{html.escape(text.getvalue())}</pre>"] if text.getvalue().strip() else []
    parts += shown
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png", dpi=dpi, bbox_inches="tight",
                                facecolor="white")
        png = base64.b64encode(buf.getvalue()).decode()
        parts.append(f'<img alt="view" style="max-width:100%" src="data:image/png;base64,{png}">')
    plt.close("all")
    return "\n".join(parts)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_SCRIPT = """
(function () {
  const root = document.getElementById(%(id)s);
  const inputs = [...root.querySelectorAll('[data-control]')];
  const labels = %(labels)s, defaults = %(defaults)s, oneAtATime = %(one)s;
  function show(moved) {
    if (oneAtATime && moved !== undefined) {
      inputs.forEach((el, i) => { if (i !== moved) el.value = defaults[i]; });
    }
    inputs.forEach((el, i) => {
      const out = el.parentElement.querySelector('output');
      if (out) out.textContent = labels[i][el.value];
    });
    const key = inputs.map(el => el.value).join('|');
    root.querySelectorAll('.srbook-view').forEach(v => { v.hidden = v.dataset.key !== key; });
  }
  inputs.forEach((el, i) => el.addEventListener('input', () => show(i)));
  show();
})();
"""


def static_widget(fn: Callable, controls: Mapping[str, Any], defaults: Mapping[str, Any],
                  per_control: int = PER_CONTROL, most_views: int = MOST_VIEWS,
                  dpi: int = 72) -> str:
    """HTML with every view of ``fn`` over the controls' grids and the controls to pick one
    (see the module's docstring); the view at ``defaults`` is the one shown first."""
    names = list(controls)
    values = [grid(controls[n], defaults.get(n), per_control) for n in names]
    start = []
    for n, vals in zip(names, values):
        d = defaults.get(n, vals[0])
        start.append(vals.index(d) if d in vals else min(
            range(len(vals)), key=lambda i: abs(vals[i] - d) if isinstance(d, (int, float))
            else 0))
    combos = math.prod(len(v) for v in values)
    one_at_a_time = combos > most_views
    if one_at_a_time:
        keys = {tuple(start)}
        for j, vals in enumerate(values):
            keys |= {tuple(i if k == j else s for k, s in enumerate(start))
                     for i in range(len(vals))}
        keys = sorted(keys)
    else:
        keys = list(itertools.product(*(range(len(v)) for v in values)))
    views = {key: _capture(fn, {**defaults, **{n: values[j][i] for j, (n, i) in
                                                 enumerate(zip(names, key))}}, dpi)
             for key in keys}
    ident = "srbook-w-" + hashlib.sha1(
        (getattr(fn, "__qualname__", "fn") + repr(names) + repr(values)).encode()
    ).hexdigest()[:10]
    rows = []
    for j, (n, vals) in enumerate(zip(names, values)):
        if _is_range(controls[n]):
            rows.append(f'<label>{html.escape(n)} <input type="range" data-control min="0" '
                        f'max="{len(vals) - 1}" step="1" value="{start[j]}"> '
                        f"<output>{html.escape(_label(vals[start[j]]))}</output></label>")
        else:
            options = "".join(f'<option value="{i}"{" selected" if i == start[j] else ""}>'
                              f"{html.escape(_label(v))}</option>" for i, v in enumerate(vals))
            rows.append(f"<label>{html.escape(n)} <select data-control>{options}</select>"
                        "</label>")
    body = "\n".join(
        f'<div class="srbook-view" data-key="{"|".join(map(str, key))}"'
        f'{"" if list(key) == start else " hidden"}>{view}</div>'
        for key, view in views.items())
    size = len(body.encode())
    note = (f"Every view of this figure was computed when the book was built: {len(views)} "
            f"views, {size / 1024:.0f} KB"
            + ("; one control at a time (moving one resets the others)" if one_at_a_time else "")
            + ". Run the notebook for any other value.")
    script = _SCRIPT % {"id": json.dumps(ident),
                        "labels": json.dumps([[_label(v) for v in vals] for vals in values]),
                        "defaults": json.dumps([str(s) for s in start]),
                        "one": "true" if one_at_a_time else "false"}
    return (f'<div class="srbook-widget" id="{ident}">\n'
            f'<div class="srbook-controls">{" ".join(rows)}</div>\n{body}\n'
            f'<p class="srbook-widget-note"><small>{html.escape(note)}</small></p>\n'
            f"<script>{script}</script>\n</div>")


def views_in(html_text: str) -> int:
    """How many stored views an output of :func:`static_widget` holds (for tests)."""
    return html_text.count('class="srbook-view"')


__all__ = ["grid", "static_widget", "views_in"]
