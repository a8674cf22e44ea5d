"""The test command's own logic: the smoke budget counts CPU seconds, not a busy machine's
wall clock."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "cpu_budget.py"
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass"


def _budget(budget: float, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--budget", str(budget), "--label",
                           "job", "--", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)


def test_busy_machine_does_not_fail_a_cheap_run():
    hogs = [subprocess.Popen([sys.executable, "-c", BURN.format(s=30)]) for _ in range(3)]
    try:  # 1.5 s of wall clock, almost no CPU, while three hogs load the machine
        done = _budget(0.5, "import time; time.sleep(1.5)")
    finally:
        for h in hogs:
            h.kill()
    assert done.returncode == 0, done.stderr
    assert "CPU s" in done.stdout and "wall clock" in done.stdout


def test_expensive_run_fails_its_budget_and_failures_propagate():
    over = _budget(0.2, BURN.format(s=0.6))
    assert over.returncode == 1 and "budget is 0" in over.stderr
    broken = _budget(100, "raise SystemExit(3)")
    assert broken.returncode == 3 and "FAILED" in broken.stderr


PROVENANCE = Path(__file__).resolve().parents[1] / "scripts" / "provenance.py"


def _provenance(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROVENANCE), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_provenance_catches_code_changed_after_the_run(tmp_path):
    import json

    nb = {"cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": ["x = 1\n"],
                     "outputs": []},
                    {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["text"]},
                    {"cell_type": "code", "id": "b", "metadata": {}, "source": ["print(x)"],
                     "outputs": []}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ch.ipynb"
    path.write_text(json.dumps(nb))
    unstamped = _provenance("check", path)
    assert unstamped.returncode == 0 and "2 of 2 code cells predate" in unstamped.stdout
    assert _provenance("stamp", path, "--commit", "abc123").returncode == 0
    assert _provenance("check", path).returncode == 0
    nb = json.loads(path.read_text())
    nb["cells"][1]["source"] = ["prose may change freely"]
    path.write_text(json.dumps(nb))
    assert _provenance("check", path).returncode == 0
    nb["cells"][0]["source"] = ["x = 2\n"]  # the code behind every later output changed
    path.write_text(json.dumps(nb))
    stale = _provenance("check", path)
    assert stale.returncode == 1 and "changed after the run of commit abc123" in stale.stderr


def test_run_section_stores_only_the_section_and_refreshed_cells(tmp_path):
    """A section (and a refreshed set-up cell) re-run on its own: their outputs come from the
    run and are stamped; every other cell keeps the output of its earlier run."""
    import json

    def code(cid, src, outputs=(), **meta):
        return {"cell_type": "code", "id": cid, "metadata": meta, "source": [src],
                "outputs": list(outputs), "execution_count": None}

    old = [{"output_type": "stream", "name": "stdout", "text": ["old\n"]}]
    nb = {"cells": [code("p", 'profile = "smoke"', tags=["parameters"]),
                    code("d", 'print("data: MARK", profile)', old),
                    code("e", 'print("other set-up")', old),
                    {"cell_type": "markdown", "id": "h", "metadata": {}, "source": ["## 1. A"]},
                    code("s", 'print("section", profile)', srbook_section="a"),
                    code("n", 'print("not run")', old)],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}, "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "ch.ipynb"

    def run(*args):
        """Run the script on ``nb``; the cells it leaves, and each cell's printed text."""
        path.write_text(json.dumps(nb))
        res = subprocess.run([sys.executable, str(SCRIPT.with_name("run_section.py")), str(path),
                              *args, "--profile", "book"], capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        cells = {c["id"]: c for c in json.loads(path.read_text())["cells"]}
        return cells, {k: "".join("".join(o.get("text", "")) for o in c.get("outputs", []))
                       for k, c in cells.items()}

    cells, text = run("a", "--refresh", "MARK")
    assert text["d"] == "data: MARK book\n" and text["s"] == "section book\n"
    assert text["e"] == "old\n" and text["n"] == "old\n"
    assert "srbook_run" in cells["d"]["metadata"] and "srbook_run" in cells["s"]["metadata"]
    assert "srbook_run" not in cells["e"]["metadata"]
    # 'all' re-runs everything except the skipped sections, whose outputs stay as they were
    nb["cells"].append(code("t", 'print("own section")', old, srbook_section="b"))
    cells, text = run("all", "--skip", "b")
    assert text["e"] == "other set-up\n" and text["n"] == "not run\n" and text["t"] == "old\n"
    assert "srbook_run" in cells["n"]["metadata"] and "srbook_run" not in cells["t"]["metadata"]


def test_book_on_gpu_trains_each_seed_alone_then_runs_the_whole_chapter(tmp_path):
    """Stage 1 runs the notebook once per seed (`seeds=[k]`); stage 2 runs it whole, keeps the
    skipped section's outputs, and copies the executed notebook to the output folder."""
    import json
    import shutil

    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "notebooks").mkdir()
    for name in ("book_on_gpu.sh", "run_section.py", "provenance.py"):
        shutil.copy(SCRIPT.with_name(name), root / "scripts" / name)

    def code(cid, src, outputs=(), **meta):
        return {"cell_type": "code", "id": cid, "metadata": meta, "source": [src],
                "outputs": list(outputs), "execution_count": None}

    old = [{"output_type": "stream", "name": "stdout", "text": ["old\n"]}]
    train = ("import pathlib\nfor s in seeds or (0, 1):\n"
             "    pathlib.Path(f'runs/{profile}_seed{s}').mkdir(parents=True, exist_ok=True)\n"
             "print('seeds', list(seeds or (0, 1)))")
    nb = {"cells": [code("p", 'profile = "smoke"\nseeds = None', tags=["parameters"]),
                    {"cell_type": "markdown", "id": "h", "metadata": {}, "source": ["## 1. A"]},
                    code("t", train),
                    code("s", 'print("settings")', old, srbook_section="settings")],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}, "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "notebooks" / "ch.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "out"
    res = subprocess.run(["bash", str(root / "scripts" / "book_on_gpu.sh"), str(out),
                          "ch.ipynb:settings"], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PROFILE="smoke", SEEDS="0 1",
                                  PYTHON=sys.executable))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "stage 1 ch.ipynb:seed1: exit 0" in res.stdout
    assert "stage 2 ch.ipynb: exit 0" in res.stdout
    assert {p.name for p in (root / "notebooks" / "runs").iterdir()} == {"smoke_seed0",
                                                                          "smoke_seed1"}
    assert (out / "logs" / "stage1_ch_seed0.log").exists()
    cells = {c["id"]: c for c in json.loads((out / "ch.ipynb").read_text())["cells"]}
    text = {k: "".join("".join(o.get("text", "")) for o in c.get("outputs", []))
            for k, c in cells.items()}
    assert text["t"] == "seeds [0, 1]\n" and text["s"] == "old\n"
    assert "srbook_run" in cells["t"]["metadata"]


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _toy_notebook(path: Path, needs: list | None, source: str = "print(test_set('Set5', 2))"):
    meta = {"tags": ["nbval-check-output"]}
    if needs is not None:
        meta["srbook"] = {"needs_data": needs}
    nb = {"cells": [{"cell_type": "code", "source": [source], "metadata": meta,
                     "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(__import__("json").dumps(nb))
    return path


def test_nbval_prepare_leaves_out_only_checks_whose_data_is_missing(tmp_path):
    import json

    sys.path.insert(0, str(SCRIPTS))
    try:
        from nbval_prepare import CHECK, prepare
    finally:
        sys.path.pop(0)
    nb = _toy_notebook(tmp_path / "ch.ipynb", ["Set5"])
    said = prepare(tmp_path / "missing", [nb], {"Set5": False})
    assert len(said) == 1 and "needs Set5" in said[0] and "still runs" in said[0]
    cell = json.loads((tmp_path / "missing" / "ch.ipynb").read_text())["cells"][0]
    assert CHECK not in cell["metadata"]["tags"]
    assert prepare(tmp_path / "present", [nb], {"Set5": True}) == []
    cell = json.loads((tmp_path / "present" / "ch.ipynb").read_text())["cells"][0]
    assert CHECK in cell["metadata"]["tags"]


def test_check_notebooks_requires_data_cells_to_declare_their_data(tmp_path):
    undeclared = _toy_notebook(tmp_path / "a.ipynb", None)
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"), str(undeclared)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "declares no srbook.needs_data" in run.stderr
    declared = _toy_notebook(tmp_path / "b.ipynb", ["Set5"])
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"), str(declared)],
                         capture_output=True, text=True)
    assert "needs_data" not in run.stderr  # (it fails for other reasons: no outputs etc.)


def _harness_notebook(path: Path, banner_commit="abc123", stamp="abc123", seg_commit="abc123",
                      seg_run="r1", day="2026-12-02"):
    import json

    banner = (f"**Run:** profile `book` · CPU x86_64 · sr_lib 0.1.0 (commit {banner_commit}) · "
              f"run `r1` · torch 2.13.0 · Python 3.11.7 · 2026-12-02")
    records_out = {"output_type": "display_data", "data": {"text/markdown": "| result |"},
                   "metadata": {"srbook_records": {
                       "run": "r1", "commit": banner_commit,
                       "results": [{"name": "vdsr", "seed": 0, "steps": 4, "samples": 8,
                                    "segments": [{"run": seg_run, "commit": seg_commit}]}]}}}
    stamp_of = {"srbook_run": {"source": "", "commit": stamp}}
    cells = [{"cell_type": "code", "id": "a", "metadata": dict(stamp_of), "source": ["ch = 1"],
              "outputs": [{"output_type": "display_data", "metadata": {},
                           "data": {"text/markdown": banner}}]},
             {"cell_type": "code", "id": "b", "metadata": dict(stamp_of), "source": ["p()"],
              "outputs": [records_out]}]
    nb = {"cells": cells, "metadata": {"papermill": {"start_time": f"{day}T10:00:00"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    assert _provenance("stamp", path, "--commit", stamp).returncode == 0
    return path


def test_a_harness_chapter_must_be_one_run(tmp_path):
    ok = _provenance("check", _harness_notebook(tmp_path / "ok.ipynb"))
    assert ok.returncode == 0, ok.stderr
    stitched = _provenance("check", _harness_notebook(tmp_path / "s.ipynb", stamp="def456"))
    assert stitched.returncode == 1 and "outputs from several runs" in stitched.stderr
    old = _provenance("check", _harness_notebook(tmp_path / "o.ipynb", seg_commit="def456"))
    assert old.returncode == 1 and "trained in this run at commit def456" in old.stderr
    dated = _provenance("check", _harness_notebook(tmp_path / "d.ipynb", day="2026-11-22"))
    assert dated.returncode == 1 and "papermill ran it on 2026-11-22" in dated.stderr
    # a result resumed from another run is fine: its record says so, and so does the page
    other = _provenance("check", _harness_notebook(tmp_path / "r.ipynb", seg_run="r0",
                                                   seg_commit="def456"))
    assert other.returncode == 0, other.stderr
    import json

    path = _harness_notebook(tmp_path / "u.ipynb")
    nb = json.loads(path.read_text())
    del nb["cells"][1]["metadata"]["srbook_run"]  # an output from who knows which run
    path.write_text(json.dumps(nb))
    unstamped = _provenance("check", path)
    assert unstamped.returncode == 1 and "carry no provenance stamp" in unstamped.stderr


def test_check_notebooks_keeps_harness_chapters_within_the_page(tmp_path):
    long_line = "from sr_lib.harness import Chapter\nx = '" + "a" * 90 + "'"
    nb = _toy_notebook(tmp_path / "c.ipynb", None, source=long_line)
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"), str(nb)],
                         capture_output=True, text=True)
    assert "has a line of 96 characters" in run.stderr
    short = _toy_notebook(tmp_path / "d.ipynb", None, source="from sr_lib.harness import X")
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"), str(short)],
                         capture_output=True, text=True)
    assert "characters" not in run.stderr


def test_check_notebooks_wants_answer_cells_collapsed(tmp_path):
    import json

    nb = json.loads(_toy_notebook(tmp_path / "e.ipynb", None).read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "ans", "metadata": {"tags": ["solution"]},
                        "source": ["The answer is 1."]})
    (tmp_path / "e.ipynb").write_text(json.dumps(nb))
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"),
                          str(tmp_path / "e.ipynb")], capture_output=True, text=True)
    assert "answer cell ans" in run.stderr
    nb["cells"][-1]["source"] = [":::{dropdown} Answer\nThe answer is 1.\n:::"]
    (tmp_path / "e.ipynb").write_text(json.dumps(nb))
    run = subprocess.run([sys.executable, str(SCRIPTS / "check_notebooks.py"),
                          str(tmp_path / "e.ipynb")], capture_output=True, text=True)
    assert "answer cell" not in run.stderr
