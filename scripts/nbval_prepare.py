"""Copy the chapter notebooks for nbval, and keep its output checks honest about the data.

A checked cell (tag ``nbval-check-output``) whose output depends on a benchmark set declares it
in its metadata, ``"srbook": {"needs_data": ["Set5"]}``. When a declared set is not found under
``SR_DATA`` (a fresh clone with nothing beside it), that cell still runs, but its output is not
compared, and this script prints which cell and why. Every other check runs as usual.

    python scripts/nbval_prepare.py DEST notebooks/*.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CHECK = "nbval-check-output"


def needs_data(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("srbook", {}).get("needs_data", []))


def prepare(dest: Path, notebooks: list[Path], present: dict[str, bool]) -> list[str]:
    """Write the notebooks to ``dest``; return one line per check left out."""
    said = []
    dest.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        for i, cell in enumerate(code):
            tags = cell.get("metadata", {}).get("tags", [])
            missing = [name for name in needs_data(cell) if not present.get(name, False)]
            if CHECK in tags and missing:
                tags.remove(CHECK)
                said.append(f"[nbval] {path.name}, code cell {i}: output not compared (it "
                            f"needs {', '.join(missing)}, not found under SR_DATA); the cell "
                            "still runs")
        (dest / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return said


def main(argv: list[str]) -> int:
    from sr_lib import catalog

    dest, notebooks = Path(argv[0]), [Path(p) for p in argv[1:]]
    present = catalog.available()
    for line in prepare(dest, notebooks, present):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
