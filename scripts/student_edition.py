"""The student edition: every chapter notebook without its exercise solutions.

    python scripts/student_edition.py            # writes notebooks/student/NN_*.ipynb
    python scripts/student_edition.py --check    # fails when a copy is missing or out of date

A teacher hands out the student copies (the book links each one for download and for Colab).
In a copy, every code cell tagged ``solution`` becomes a short note that says where the solution
is, and a markdown cell tagged ``solution`` (an answer that reads a solution's result) is left out;
the exercise stubs and the check cells stay, so an answer is checked where it is written. A check
cell catches the stub's ``NotImplementedError`` and says the exercise is still open, so that
"Run all" goes on to the end of the chapter. Outputs are removed (they are the book run's, and
some show what a solution prints); the ``smoke`` profile stays the default.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUDENT = NOTEBOOKS / "student"
REPO = "srbook/srbook"
OPEN = ("try:\n", "except NotImplementedError as exc:\n")


def is_solution(cell: dict) -> bool:
    return cell["cell_type"] == "code" and "solution" in cell["metadata"].get("tags", [])


def is_answer(cell: dict) -> bool:
    """A markdown cell that explains a solution's result: the book shows it, a student copy not."""
    return cell["cell_type"] == "markdown" and "solution" in cell["metadata"].get("tags", [])


def colab(path: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/main/{path}"


def wrap_check(source: str) -> str:
    """A check cell that reports an unfinished exercise instead of stopping the notebook."""
    body = "".join("    " + line if line.strip() else line
                   for line in source.splitlines(keepends=True))
    return (OPEN[0] + body.rstrip("\n") + "\n" + OPEN[1]
            + '    print(f"Not done yet ({exc}): write your answer above and run this cell '
              'again.")\n')


def unwrap_check(source: str) -> str:
    """The check cell's original source (inverse of :func:`wrap_check`; for the tests)."""
    lines = source.splitlines(keepends=True)
    if not lines or lines[0] != OPEN[0] or OPEN[1] not in lines:
        raise ValueError("not a wrapped check cell")
    body = lines[1:lines.index(OPEN[1])]
    return "".join(line[4:] if line.startswith("    ") else line for line in body).rstrip("\n")


def student_copy(nb: dict, name: str) -> dict:
    """The student edition of the chapter notebook ``nb`` (stored as ``notebooks/name``)."""
    out = copy.deepcopy(nb)
    for key in ("papermill", "widgets"):
        out["metadata"].pop(key, None)
    cells, exercise, check_next = [], 0, False
    for cell in out["cells"]:
        tags = cell["metadata"].get("tags", [])
        if "injected-parameters" in tags or is_answer(cell):
            continue
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            for key in ("srbook_run", "papermill", "execution"):
                cell["metadata"].pop(key, None)
        if is_solution(cell):
            exercise += 1
            cells.append({
                "cell_type": "markdown", "id": f"student-solution-{exercise}",
                "metadata": {"srbook": {"solution_removed": True}},
                "source": [f"*Solution {exercise}: not in the student edition.* It is under "
                           "this exercise in the book (collapsed), and in the full notebook, "
                           f"[`notebooks/{name}`]({colab('notebooks/' + name)})."]})
            check_next = True
            continue
        if check_next and cell["cell_type"] == "code":
            cell["source"] = wrap_check("".join(cell["source"])).splitlines(keepends=True)
            cell["metadata"].setdefault("srbook", {})["check"] = True
            check_next = False
        cells.append(cell)
    note = {"cell_type": "markdown", "id": "student-edition", "metadata": {},
            "source": ["> **Student edition.** The exercise solutions are removed and the "
                       "outputs cleared. Run the cells from the top; each exercise's check "
                       "cell tells you when your answer is right. The full chapter: "
                       f"[`notebooks/{name}`]({colab('notebooks/' + name)})."]}
    out["cells"] = cells[:1] + [note] + cells[1:]  # after the chapter's title
    return out


def chapters() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def render(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that the committed copies are up to date")
    args = parser.parse_args(argv)
    stale = []
    STUDENT.mkdir(exist_ok=True)
    for path in chapters():
        text = render(student_copy(json.loads(path.read_text()), path.name))
        target = STUDENT / path.name
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("student edition out of date: " + ", ".join(stale)
              + "; run python scripts/student_edition.py and commit the copies", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
