"""The student edition (scripts/student_edition.py): no solution reaches a student copy, every
exercise keeps its stub and its check, and the committed copies match their chapters."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("student_edition",
                                              ROOT / "scripts" / "student_edition.py")
edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(edition)
CHAPTERS = edition.chapters()


def source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_solution_code_reaches_the_student_copy(path):
    full = json.loads(path.read_text())
    student = edition.student_copy(full, path.name)
    shown = "\n".join(source(c) for c in student["cells"])
    shown_lines = {line.strip() for line in shown.splitlines()}
    elsewhere = {line.strip() for c in full["cells"] if not edition.is_solution(c)
                 for line in source(c).splitlines()}
    solutions = [c for c in full["cells"] if edition.is_solution(c)]
    assert len(solutions) >= 3
    for cell in solutions:
        own = [line.strip() for line in source(cell).splitlines()
               if line.strip() and line.strip() not in elsewhere]
        assert own, "a solution identical to other cells cannot be checked"
        leaked = [line for line in own
                  if line in shown_lines or (len(line) >= 30 and line in shown)]
        assert not leaked, f"{path.name}: solution lines in the student copy: {leaked}"
    assert not any(edition.is_solution(c) or edition.is_answer(c) for c in student["cells"])
    assert all(not c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_keeps_its_stub_and_its_check(path):
    """Putting the solutions back and unwrapping the checks gives the chapter's own cells, in
    order: the checks that run (in the smoke profile, after the reference solutions) in CI are
    the ones the students get."""
    full = json.loads(path.read_text())
    student = edition.student_copy(full, path.name)
    solutions = iter(c for c in full["cells"] if edition.is_solution(c))
    rebuilt = []
    for cell in student["cells"][:1] + student["cells"][2:]:  # without the edition's note
        meta = cell["metadata"].get("srbook", {})
        if meta.get("solution_removed"):
            rebuilt.append(source(next(solutions)))
        elif meta.get("check"):
            text = source(cell)
            assert "check(" in text and '"""' not in edition.unwrap_check(text)
            rebuilt.append(edition.unwrap_check(text))
        else:
            rebuilt.append(source(cell))
    expected = [source(c) for c in full["cells"] if not edition.is_answer(c)
                and "injected-parameters" not in c["metadata"].get("tags", [])]
    assert [s.rstrip("\n") for s in rebuilt] == [s.rstrip("\n") for s in expected]


def test_a_wrapped_check_reports_an_open_exercise(capsys):
    def stub():
        raise NotImplementedError("Exercise 1")

    namespace = {"stub": stub, "check": lambda ok, *_: print("Correct" if ok else "Wrong")}
    exec(edition.wrap_check("value = stub()\ncheck(value == 1, 'ok', 'hint')"), namespace)
    assert "Not done yet (Exercise 1)" in capsys.readouterr().out
    namespace["stub"] = lambda: 1
    exec(edition.wrap_check("value = stub()\ncheck(value == 1, 'ok', 'hint')"), namespace)
    assert capsys.readouterr().out.strip() == "Correct"


def test_the_committed_student_copies_are_up_to_date():
    assert edition.main(["--check"]) == 0, "run python scripts/student_edition.py"


def test_an_answer_cell_stays_out_of_the_student_copy():
    """A markdown cell tagged ``solution`` explains a solution's result: a copy leaves it out."""
    def cell(kind, text, tags=()):
        extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
        return {"cell_type": kind, "id": text[:8], "metadata": {"tags": list(tags)},
                "source": [text], **extra}

    nb = {"metadata": {}, "cells": [
        cell("markdown", "# Title"), cell("code", "def f():\n    raise NotImplementedError"),
        cell("code", "def f():\n    return 1", ("solution", "hide-cell")),
        cell("markdown", "The answer: f returns 1 because", ("solution",)),
        cell("code", "check(f() == 1, 'ok', 'hint')")]}
    student = edition.student_copy(nb, "99_test.ipynb")
    shown = "\n".join(source(c) for c in student["cells"])
    assert "The answer" not in shown and "return 1" not in shown
    assert "check(f() == 1" in shown
