"""Static widgets: every view of a chapter's widget computed when the notebook runs, stored
in one self-contained HTML output whose controls switch between them with no kernel."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sr_lib.widgets import grid, static_widget, views_in  # noqa: E402


def test_grids_keep_the_default_and_stay_small():
    assert grid((0.0, 1.0, 0.25), 0.5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert grid([2, 3, 4, 8], 3) == [2, 3, 4, 8]
    many = grid((0.0, 40.0, 1.0), 10.0, per_control=8)
    assert len(many) == 8 and 10.0 in many and many[0] == 0.0 and many[-1] == 40.0
    assert all(isinstance(v, int) for v in grid((1, 10, 1), 4, per_control=4))
    assert len(grid((0.0, 1.0, 0.01), 0.3, per_control=2)) == 2


def line(a=1.0, kind="sin"):
    print(f"a = {a}, {kind}")
    plt.figure(figsize=(2, 1.5))
    plt.plot([0, 1, 2], [0, a, 2 * a if kind == "sin" else -a])
    plt.show()


def test_every_combination_is_stored_and_the_default_is_shown():
    text = static_widget(line, {"a": (0.0, 2.0, 1.0), "kind": ["sin", "cos"]},
                         {"a": 1.0, "kind": "sin"})
    assert views_in(text) == 6  # 3 x 2 combinations
    shown = re.findall(r'<div class="srbook-view" data-key="([^"]+)">', text)
    assert shown == ["1|0"]  # only the default view is visible before any script runs
    assert text.count("data:image/png;base64,") == 6 and "a = 2.0, cos" in text
    assert 'type="range"' in text and "<select" in text and "<script>" in text
    assert "6 views" in text and "http" not in text  # nothing from the network


def test_many_combinations_vary_one_control_at_a_time():
    text = static_widget(line, {"a": (0.0, 7.0, 1.0), "kind": ["sin", "cos"]},
                         {"a": 3.0, "kind": "sin"}, per_control=8, most_views=10)
    assert views_in(text) == 8 + 2 - 1  # the default view is shared
    assert "one control at a time" in text


def test_a_notebook_widget_stores_its_views_when_the_book_is_built(monkeypatch):
    from sr_lib import notebook

    shown = []
    monkeypatch.setenv("SRBOOK_STATIC", "1")
    monkeypatch.setattr("IPython.display.display", lambda obj, **_: shown.append(obj))
    monkeypatch.setattr(notebook, "ACTIVE_PROFILE", "smoke")
    notebook.widget(line, a=(0.0, 2.0, 0.5), kind=["sin", "cos"])
    (html,) = shown
    assert views_in(html.data) == 4  # smoke: two values per control


def test_the_controls_switch_views_in_a_browser(tmp_path):
    """The page's script in headless Chromium (skipped where there is none): moving a control
    shows the stored view for its value, and only that one."""
    import os
    import shutil

    import pytest

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    sync = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(chromium):
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    html = static_widget(line, {"a": (0.0, 2.0, 1.0), "kind": ["sin", "cos"]},
                         {"a": 1.0, "kind": "sin"})
    page_file = tmp_path / "w.html"
    page_file.write_text(f"<!doctype html><html><body>{html}</body></html>")
    with sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--disable-gpu"])
        page = browser.new_page()
        page.goto(page_file.as_uri())

        def shown():
            return page.eval_on_selector_all(".srbook-view:not([hidden])",
                                             "els => els.map(e => e.dataset.key)")

        assert shown() == ["1|0"]
        page.eval_on_selector('input[type="range"]', "el => { el.value = '2'; "
                              "el.dispatchEvent(new Event('input')); }")  # a = 2.0
        assert shown() == ["2|0"] and page.inner_text("output") == "2"
        page.select_option("select", "1")  # cos
        assert shown() == ["2|1"] and "a = 2.0, cos" in page.inner_text(".srbook-widget")
        browser.close()
