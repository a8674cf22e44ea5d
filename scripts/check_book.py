"""Check the built HTML: every chapter page exists, its Colab button opens the .ipynb, it links
its student edition (download and Colab), and MathJax is served from the book itself."""

import pathlib
import re
import sys

html = pathlib.Path(sys.argv[1])
root = pathlib.Path(__file__).resolve().parents[1]
problems = []
if not (html / "_static" / "mathjax" / "tex-chtml.js").is_file():
    problems.append("the book carries no MathJax (_static/mathjax/tex-chtml.js): run "
                    "scripts/fetch_mathjax.sh (needs npm) before building, or pages show raw TeX "
                    "offline")
for page in sorted(html.rglob("*.html")):
    if re.search(r'src="https?://[^"]*mathjax', page.read_text(), re.I):
        problems.append(f"{page.relative_to(html)} loads MathJax from the network")
for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
    page = html / "notebooks" / f"{nb.stem}.html"
    if not page.exists():
        problems.append(f"{page} was not built")
        continue
    text = page.read_text()
    links = re.findall(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', text)
    if not links:
        problems.append(f"{page.name}: no Colab launch link")
    student = [link for link in links if "/notebooks/student/" in link]
    for link in student:
        if not link.endswith(f"notebooks/student/{nb.name}"):
            problems.append(f"{page.name}: student-edition link {link} does not open "
                            f"notebooks/student/{nb.name}")
    if not student:
        problems.append(f"{page.name}: no link to the student edition in Colab")
    if not re.search(rf'href="[^"]*_downloads/[^"]*/{re.escape(nb.name)}"', text):
        problems.append(f"{page.name}: no download link to the student edition")
    for link in set(links) - set(student):
        if not link.endswith(f"notebooks/{nb.name}"):
            problems.append(f"{page.name}: Colab link {link} does not open notebooks/{nb.name}")
    if "Traceback (most recent call last)" in text:
        problems.append(f"{page.name}: shows a traceback")
    figures = [src for src in re.findall(r'<img[^>]+src="([^"]+)"', text) if "_static" not in src]
    if not figures:
        problems.append(f"{page.name}: shows no figures (were the outputs saved with a GUI-less"
                        " matplotlib backend?)")
    elif links:
        print(f"{page.name}: OK ({len(figures)} figures, Colab: {links[0]})")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
