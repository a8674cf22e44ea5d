"""Open the built book in headless Chromium with the network blocked and check every page as a
reader sees it; save a desktop, a phone and a dark-mode screenshot of every chapter.

    python scripts/browser_check.py _build/html [--shots DIR] [--chromium /usr/bin/chromium]

Per page: no raw TeX left (every inline and display formula rendered by MathJax), every image
loaded with a non-zero size, every table row as wide as its header, no solution output visible
before a click, no console errors, no absolute file-system path in the text, and every static
widget's view changes when one of its controls moves. Needs the
``playwright`` package and a Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

CHECKS_JS = r"""
() => {
  const out = {raw_tex: [], images: [], tables: [], solutions: [], paths: []};
  const root = document.querySelector('main, article') || document.body || document.documentElement;
  const text = root ? root.innerText : '';
  for (const m of text.matchAll(/\\\(|\\\)|\$\$|\\begin\{/g)) {
    out.raw_tex.push(text.slice(Math.max(0, m.index - 30), m.index + 30));
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) out.images.push(img.src.slice(-80));
  }
  for (const table of document.querySelectorAll('table')) {
    const head = table.querySelector('thead tr') || table.querySelector('tr');
    if (!head) continue;
    const width = [...head.children].reduce((n, c) => n + (c.colSpan || 1), 0);
    for (const row of table.querySelectorAll('tbody tr')) {
      const n = [...row.children].reduce((k, c) => k + (c.colSpan || 1), 0);
      if (n !== width) { out.tables.push(`${n} cells under a ${width}-column header`); break; }
    }
  }
  for (const cell of document.querySelectorAll('.tag_solution, .tag_hide-input')) {
    const output = cell.querySelector('.cell_output');
    if (output && output.offsetParent !== null && output.innerText.trim()) {
      out.solutions.push(output.innerText.trim().slice(0, 60));
    }
  }
  for (const m of text.matchAll(/(?:^|[\s'"(])(\/(?:work|home|root|tmp|usr|Users)\/[^\s'")]+)/g)) {
    out.paths.push(m[1]);
  }
  return out;
}
"""


WIDGETS_JS = r"""
() => {
  const out = [];
  for (const w of document.querySelectorAll('.srbook-widget')) {
    const visible = () => [...w.querySelectorAll('.srbook-view')]
      .filter(v => !v.hidden).map(v => v.dataset.key);
    const before = visible();
    for (const el of w.querySelectorAll('[data-control]')) {
      const n = el.tagName === 'SELECT' ? el.options.length : Number(el.max) + 1;
      if (n < 2) continue;
      el.value = String((Number(el.value) + 1) % n);
      el.dispatchEvent(new Event('input'));
      const after = visible();
      out.push(before.length === 1 && after.length === 1 && after[0] !== before[0]
               ? 'ok' : `view did not change (${before} -> ${after})`);
      break;
    }
  }
  return out;
}
"""


def check_widgets(page) -> tuple[int, list[str]]:
    """Move one control of every static widget (sr_lib.widgets) and check that the shown view
    changes: the page's figures respond with no kernel and no network."""
    results = page.evaluate(WIDGETS_JS)
    return results.count("ok"), [f"static widget: {r}" for r in results if r != "ok"]


def check_switch(context, path: Path) -> list[str]:
    """The header's colour-mode switch turns a light page dark, with no console error."""
    page, errors = context.new_page(), []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(path.as_uri(), wait_until="load")
    button = page.locator(".theme-switch-button").first
    if not button.count():
        page.close()
        return ["no colour-mode switch in the page header"]
    themes = []
    for _ in range(3):
        button.click()
        themes.append(page.evaluate("() => document.documentElement.dataset.theme"))
    page.close()
    problems = [f"console error after switching modes: {e[:120]}" for e in errors]
    if "dark" not in themes or "light" not in themes:
        problems.append(f"the colour-mode switch gave {themes}, not both light and dark")
    return problems


def check_page(page, path: Path) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(path.as_uri(), wait_until="load")
    try:  # MathJax typesets after load; wait for it when the page has maths
        page.wait_for_function("() => !window.MathJax || !window.MathJax.startup || "
                               "window.MathJax.startup.promise.then(() => true)", timeout=20000)
        page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    except Exception as exc:  # noqa: BLE001 - reported as a problem of this page
        errors.append(f"MathJax did not finish: {exc}")
    found = page.evaluate(CHECKS_JS)
    problems = [f"console error: {e[:120]}" for e in errors]
    labels = {"raw_tex": "raw TeX", "images": "image not loaded", "tables": "table row width",
              "solutions": "solution output visible", "paths": "file-system path in text"}
    for key, label in labels.items():
        for item in found[key][:3]:
            problems.append(f"{label}: {item!r}")
        if len(found[key]) > 3:
            problems.append(f"{label}: ... {len(found[key]) - 3} more")
    return problems


def shoot(page, shots: Path, stem: str) -> None:
    """The top of the page, then the view around its first result table and around its first
    (collapsed) solution, so the screenshots show maths, tables and exercises as a reader does."""
    page.screenshot(path=str(shots / f"{stem}.png"))
    for what, selector in (("table", ".cell_output table"), ("solution", ".tag_solution")):
        target = page.locator(selector).first
        if target.count():
            target.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / f"{stem}-{what}.png"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--shots", type=Path, default=None)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    args.html = args.html.resolve()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser check: the playwright package is missing (pip install playwright)",
              file=sys.stderr)
        return 2
    if not Path(args.chromium).exists():
        print(f"browser check: no Chromium at {args.chromium}; install it (Debian: apt-get "
              "install chromium) or pass --chromium PATH", file=sys.stderr)
        return 2
    shots = args.shots or Path(tempfile.mkdtemp(prefix="srbook-shots-"))
    shots.mkdir(parents=True, exist_ok=True)
    skip_dirs, skip_pages = {"_static", "_sources", "_images"}, {"search.html", "genindex.html"}
    pages = sorted(p for p in args.html.rglob("*.html")
                   if not skip_dirs & set(p.parts) and p.name not in skip_pages)
    failures = 0
    with sync_playwright() as pw:
        # no background traffic of Chromium's own (updates, sync): the machine may be offline
        browser = pw.chromium.launch(executable_path=args.chromium, args=[
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-gpu"])
        for name, viewport, scheme in (("desktop", (1400, 1000), "light"),
                                       ("phone", (400, 850), "light"),
                                       ("dark", (1400, 1000), "dark")):
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                          color_scheme=scheme)
            context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())  # offline
            if name == "desktop":
                switch = check_switch(context, args.html / "book" / "intro.html")
                failures += bool(switch)
                print("colour-mode switch: " + ("; ".join(switch) or "OK"))
            for path in pages:
                page = context.new_page()
                problems = check_page(page, path)
                rel = path.relative_to(args.html)
                if name == "dark":  # a dark system setting gives a dark page, without errors
                    theme = page.evaluate("() => document.documentElement.dataset.theme")
                    if theme != "dark":
                        problems.append(f"dark system setting, but the page's theme is {theme}")
                    if problems:
                        failures += 1
                        print(f"{rel} (dark mode): " + "; ".join(problems))
                    if "notebooks" in rel.parts:
                        shoot(page, shots, f"{path.stem}-{name}")
                    page.close()
                    continue
                responsive, widget_problems = check_widgets(page)
                problems += widget_problems
                if "notebooks" in rel.parts:
                    shoot(page, shots, f"{path.stem}-{name}")
                if name == "desktop":  # content checks once; screenshots for both
                    if problems:
                        failures += 1
                        print(f"{rel}: " + "; ".join(problems))
                    else:
                        print(f"{rel}: OK" + (f" ({responsive} static widgets respond)"
                                              if responsive else ""))
                page.close()
            context.close()
        browser.close()
    print(f"screenshots: {shots}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
