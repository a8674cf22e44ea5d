"""Which code produced a chapter's outputs: stamp it after a run, check it before a build.

    python scripts/provenance.py stamp NOTEBOOK [--cells ID ...] [--commit SHA]
    python scripts/provenance.py check NOTEBOOK ...

``stamp`` records, in each executed code cell's metadata, a hash of the cell's source and the
sr_lib commit of the run (``git rev-parse``; ``+dirty`` when sr_lib/ had uncommitted changes).
The execution scripts (``build_book.sh --execute``, ``run_section.py``) call it right after
papermill. ``check`` fails when a stamped cell's source changed since its run: its outputs (and
those of every cell after it) no longer come from the code on the page. Cells with no stamp
predate these records and only get a warning.

A chapter on the harness (``sr_lib.harness``: its outputs carry the training records) must also
be one run: every code cell stamped, and the banner's commit and run id, every cell stamp, the
papermill date and the record of every result the chapter says it trained agree. A page
stitched from several runs fails; with the source check above, every table and figure on it
comes from the code on the page, run at that commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from sr_lib.notebook import run_commit


def source_hash(cell: dict) -> str:
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stamp(path: Path, cells: set[str] | None, commit: str) -> int:
    nb = json.loads(path.read_text())
    n = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or (cells is not None and cell.get("id") not in cells):
            continue
        cell.setdefault("metadata", {})["srbook_run"] = {"source": source_hash(cell),
                                                         "commit": commit}
        n += 1
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return n


def check(path: Path) -> list[str]:
    """Problems: stamped cells whose source changed after their run. Cells without a stamp
    (outputs from before provenance records) are counted in a warning."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    unstamped = [c for c in code if "srbook_run" not in c.get("metadata", {})]
    if unstamped:
        print(f"warning: {path.name}: {len(unstamped)} of {len(code)} code cells predate "
              "provenance stamps; the next full run stamps them")
    problems = []
    for i, cell in enumerate(code):
        run = cell.get("metadata", {}).get("srbook_run")
        if run is not None and run["source"] != source_hash(cell):
            problems.append(f"{path.name}: code cell {i} ({cell.get('id')}) changed after the run "
                            f"of commit {run['commit']}; its outputs are stale, re-run it")
    return problems


BANNER = re.compile(r"\*\*Run:\*\* profile `(\w+)`.*?\(commit ([\w+]+)\) · run `(\w+)`.*· "
                    r"(\d{4}-\d\d-\d\d)")


def _texts(cell: dict):
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        for key in ("text/markdown", "text/plain"):
            if key in data:
                yield "".join(data[key]) if isinstance(data[key], list) else data[key]
        if "text" in out:
            yield "".join(out["text"]) if isinstance(out["text"], list) else out["text"]


def one_run(path: Path) -> list[str]:
    """For a harness chapter: problems that show the page is not one run at one commit."""
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    payloads = [out["metadata"]["srbook_records"] for c in code for out in c.get("outputs", [])
                if "srbook_records" in out.get("metadata", {})]
    if not payloads:
        return []  # not on the harness yet: its chapter issue moves it
    banners = [m for c in code for t in _texts(c) for m in BANNER.finditer(t)]
    if len(banners) != 1:
        return [f"{path.name}: {len(banners)} run banners with a commit and run id; a harness "
                "chapter shows exactly one"]
    _profile, commit, run, day = banners[0].groups()
    problems = []
    unstamped = [i for i, c in enumerate(code) if "srbook_run" not in c.get("metadata", {})]
    if unstamped:  # its outputs could come from any code: not a page of one run
        problems.append(f"{path.name}: code cells {unstamped} carry no provenance stamp; run "
                        "the whole chapter and stamp it (scripts/build_book.sh --execute)")
    stamps = {c["metadata"]["srbook_run"]["commit"] for c in code
              if "srbook_run" in c.get("metadata", {})}
    if stamps - {commit}:
        problems.append(f"{path.name}: cells stamped by commits {sorted(stamps - {commit})}, "
                        f"the banner says {commit}: outputs from several runs")
    started = nb.get("metadata", {}).get("papermill", {}).get("start_time", "")[:10]
    if started and started != day:
        problems.append(f"{path.name}: papermill ran it on {started}, the banner says {day}")
    for payload in payloads:
        if (payload["run"], payload["commit"]) != (run, commit):
            problems.append(f"{path.name}: training records written by run {payload['run']} "
                            f"at {payload['commit']}, the banner says run {run} at {commit}")
        for result in payload["results"]:
            for seg in result["segments"]:
                if seg["run"] == run and seg["commit"] != commit:
                    problems.append(f"{path.name}: {result['name']} (seed {result['seed']}) "
                                    f"was trained in this run at commit {seg['commit']}, the "
                                    f"banner says {commit}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stamp")
    s.add_argument("notebook", type=Path)
    s.add_argument("--cells", nargs="*")
    s.add_argument("--commit")
    c = sub.add_parser("check")
    c.add_argument("notebooks", type=Path, nargs="+")
    args = ap.parse_args()
    if args.cmd == "stamp":
        n = stamp(args.notebook, set(args.cells) if args.cells else None,
                  args.commit or run_commit() or "unknown")
        print(f"{args.notebook.name}: stamped {n} code cells")
        return 0
    problems = [p for path in args.notebooks for p in check(path) + one_run(path)]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
