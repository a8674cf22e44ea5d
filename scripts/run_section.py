"""Execute one marked section of a chapter (plus its set-up cells) and store its outputs.

    python scripts/run_section.py notebooks/05_ail.ipynb paper-scale --profile book

Used when a new section is added to a chapter whose other outputs come from an earlier full
run: the set-up cells (everything before the first '## ' section, and any cell tagged
``section-setup``) and the section's cells (metadata ``srbook_section``) run in a fresh kernel
with papermill; only the section's outputs are written back. The section prints its own run
banner, so the page says when and where those outputs were produced.

    python scripts/run_section.py notebooks/01_isrrescnet.ipynb - --refresh "find_data("

``--refresh MARKER`` also writes back the outputs of the set-up cells whose source contains
MARKER (section ``-``: no section), e.g. a data cell whose messages changed. Every cell written
back is stamped by ``scripts/provenance.py``.

    python scripts/run_section.py notebooks/01_isrrescnet.ipynb all --skip conventions

Section ``all`` runs the whole chapter except the sections named by ``--skip`` (sections that
run on their own and whose stored outputs stay valid), and writes back every cell it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("section")
    ap.add_argument("--profile", default="book")
    ap.add_argument("--setup-source", action="append", default=[],
                    help="also run the code before this marker line of the cell that holds it")
    ap.add_argument("--refresh", action="append", default=[],
                    help="also store the outputs of set-up cells whose source contains this")
    ap.add_argument("--skip", action="append", default=[],
                    help="with section 'all': leave this section's cells and outputs alone")
    ap.add_argument("--log", action="store_true", help="print the cells' output as they run")
    args = ap.parse_args()
    path = Path(args.notebook).resolve()
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    first_section = next(i for i, c in enumerate(cells)
                         if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## "))
    whole = args.section == "all"
    if args.skip and not whole:
        raise SystemExit("--skip goes with section 'all'")

    def in_run(c: dict) -> bool:  # a cell of the section (or, for 'all', of any kept section)
        sec = c.get("metadata", {}).get("srbook_section")
        return sec not in args.skip if whole else sec == args.section

    keep = []
    for i, c in enumerate(cells):
        tags = c.get("metadata", {}).get("tags", [])
        if c["cell_type"] != "code" or "injected-parameters" in tags:
            continue
        src = "".join(c["source"])
        if whole:
            if in_run(c):
                keep.append(dict(c, outputs=[], execution_count=None))
            continue
        if i < first_section or "section-setup" in tags:
            keep.append(dict(c, outputs=[], execution_count=None))
        for marker in args.setup_source:
            if marker in src and c.get("metadata", {}).get("srbook_section") != args.section:
                head = src[: src.index(marker) + len(marker)]
                keep.append(dict(c, source=head.splitlines(keepends=True), outputs=[],
                                 execution_count=None, id=c["id"] + "s",
                                 metadata={"tags": []}))
        if in_run(c):
            keep.append(dict(c, outputs=[], execution_count=None))
    part = dict(nb, cells=keep)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        src.write_text(json.dumps(part))
        env = dict(os.environ, SRBOOK_STATIC="1", TQDM_DISABLE="1")  # no stored progress bars
        subprocess.run([sys.executable, "-m", "papermill", str(src), str(out), "-p", "profile",
                        args.profile, "--cwd", str(path.parent), "--execution-timeout", "36000",
                        *(["--log-output"] if args.log else ["--log-level", "ERROR"])],
                       check=True, env=env)
        done = {c["id"]: c for c in json.loads(out.read_text())["cells"]}
    def stored(c: dict) -> bool:
        src = "".join(c["source"])
        return c["cell_type"] == "code" and c["id"] in done and (
            in_run(c) or any(m in src for m in args.refresh))

    ids = [c["id"] for c in cells if stored(c)]
    for c in cells:
        if stored(c):
            c["outputs"] = done[c["id"]].get("outputs", [])
            c["execution_count"] = done[c["id"]].get("execution_count")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote the outputs of {len(ids)} cells (section {args.section!r}, refreshed "
          f"{args.refresh}) into {path}")
    subprocess.run([sys.executable, str(Path(__file__).with_name("provenance.py")), "stamp",
                    str(path), "--cells", *ids], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
