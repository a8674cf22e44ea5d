"""The book as one PDF and as an offline HTML archive, from the built HTML.

    python scripts/book_pdf.py _build/html --out _build/srbook.pdf --zip _build/srbook-html.zip

Headless Chromium (the one the browser test uses, network blocked) prints every page of the
table of contents in order, after MathJax has typeset it, with the navigation hidden, figures
fitted to the page and the exercise solutions left collapsed. A cover with the contents and
their page numbers comes first, and the PDF's outline has one entry per page. Then the PDF is
checked: its page count, and that no formula is left as raw TeX; ``--shots DIR`` renders a few
pages as PNG images to look at. The archive is the built HTML as a zip: unpacked, it opens
from disk (``index.html``) with no server and no network.
"""

from __future__ import annotations

import argparse
import html as html_escape
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRINT_CSS = """
@media print {
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .header-article,
  .prev-next-area, .bd-header-article, .footer-article, .bd-footer-article,
  .headerlink, .skip-link, #pst-back-to-top { display: none !important; }
  .bd-main, .bd-content, .bd-article-container, .bd-page-width { max-width: 100% !important;
    width: 100% !important; margin: 0 !important; padding: 0 !important; }
  img { max-width: 100% !important; height: auto !important; page-break-inside: avoid; }
  .cell_output table { font-size: 0.75em; }
  pre { white-space: pre-wrap !important; word-break: break-word; font-size: 0.8em; }
  .tag_solution .cell_input, .tag_solution .cell_output,
  .tag_hide-cell .cell_input, .tag_hide-cell .cell_output { display: none !important; }
  .srbook-widget .srbook-controls { display: none !important; }
}
"""
RAW_TEX = re.compile(r"\\\(|\\\)|\$\$|\\begin\{|\\frac|\\mathrm")


def toc_pages(html: Path) -> list[tuple[str, Path]]:
    """(title, file) of every page in ``_toc.yml`` order (root first)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", [])
                             for c in part.get("chapters", [])]
    pages = []
    for f in files:
        path = html / f"{f}.html"
        if not path.exists():
            raise SystemExit(f"book_pdf: {path} was not built; build the book first "
                             "(jupyter-book build .)")
        title = re.search(r"<title>(.*?)</title>", path.read_text(), re.S)
        name = title.group(1).split("&#8212;")[0].split(" — ")[0].strip() if title else f
        pages.append((html_escape.unescape(name), path))
    return pages


def print_page(context, path: Path, out: Path) -> None:
    page = context.new_page()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => !window.MathJax || !window.MathJax.startup || "
                           "window.MathJax.startup.promise.then(() => true)", timeout=30000)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.add_style_tag(content=PRINT_CSS)
    page.emulate_media(media="print")
    page.pdf(path=str(out), format="A4", print_background=True,
             margin={"top": "15mm", "bottom": "15mm", "left": "15mm", "right": "15mm"})
    # no printed page numbers: each page is printed on its own, so they would restart per
    # chapter; the contents give the PDF's own page numbers, which every viewer shows
    page.close()


def cover(pages: list[tuple[str, int]], first: int) -> str:
    """The cover and contents, with each page's first page number in the PDF."""
    rows, at = [], first
    for title, n in pages:
        rows.append(f"<tr><td>{html_escape.escape(title)}</td><td style='text-align:right'>"
                    f"{at}</td></tr>")
        at += n
    return ("<!doctype html><html><head><meta charset='utf-8'><style>body{font-family:sans-"
            "serif;margin:40px}h1{font-size:28px}table{width:100%;border-collapse:collapse}"
            "td{padding:6px 0;border-bottom:1px solid #ddd}</style></head><body>"
            "<h1>srbook: lightweight and iterative single-image super-resolution</h1>"
            f"<p>Printed from the built HTML on {time.strftime('%Y-%m-%d')}. Every number comes"
            " from the run its chapter names in its first output. Exercise solutions are left "
            "collapsed; open the chapter notebooks for them.</p><h2>Contents</h2>"
            f"<table>{''.join(rows)}</table></body></html>")


def check_pdf(pdf: Path, expected_pages: int) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    problems = []
    if len(reader.pages) < expected_pages:
        problems.append(f"{pdf.name}: {len(reader.pages)} pages, fewer than the {expected_pages}"
                        " printed")
    for i, page in enumerate(reader.pages):
        found = RAW_TEX.search(page.extract_text() or "")
        if found:
            problems.append(f"{pdf.name}, page {i + 1}: raw TeX {found.group(0)!r}")
            break
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "srbook.pdf")
    ap.add_argument("--zip", type=Path, default=ROOT / "_build" / "srbook-html.zip")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--shots", type=Path, default=None, help="render a few pages as PNG here")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    start = time.perf_counter()
    html = args.html.resolve()
    pages = toc_pages(html)
    work = Path(tempfile.mkdtemp(prefix="srbook-pdf-"))
    counts = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=[
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-sync", "--disable-gpu"])
        context = browser.new_context()
        context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())  # offline
        for i, (_, path) in enumerate(pages):
            print_page(context, path, work / f"{i:03d}.pdf")
            counts.append(len(PdfReader(str(work / f"{i:03d}.pdf")).pages))
        front = work / "cover.html"
        front.write_text(cover(list(zip([t for t, _ in pages], counts)), 2))
        print_page(context, front, work / "cover.pdf")
        n_front = len(PdfReader(str(work / "cover.pdf")).pages)
        if n_front != 1:  # a longer contents list shifts every page number: print it again
            front.write_text(cover(list(zip([t for t, _ in pages], counts)), 1 + n_front))
            print_page(context, front, work / "cover.pdf")
        browser.close()
    writer = PdfWriter()
    writer.append(str(work / "cover.pdf"))
    at = len(writer.pages)
    for i, ((title, _), n) in enumerate(zip(pages, counts)):
        writer.append(str(work / f"{i:03d}.pdf"))
        writer.add_outline_item(title=title, page_number=at)
        at += n
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        writer.write(f)
    problems = check_pdf(args.out, sum(counts))
    if args.shots:
        import pypdfium2

        args.shots.mkdir(parents=True, exist_ok=True)
        doc = pypdfium2.PdfDocument(str(args.out))
        for k in sorted({0, 2, len(doc) // 2, len(doc) - 1}):
            doc[k].render(scale=1.2).to_pil().save(args.shots / f"pdf-page-{k + 1}.png")
    archive = shutil.make_archive(str(args.zip.with_suffix("")), "zip", html)
    shutil.rmtree(work, ignore_errors=True)
    mb = args.out.stat().st_size / 1e6
    print(f"PDF: {args.out} ({at} pages, {mb:.1f} MB); archive: {archive} "
          f"({Path(archive).stat().st_size / 1e6:.1f} MB); {time.perf_counter() - start:.0f} s")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
