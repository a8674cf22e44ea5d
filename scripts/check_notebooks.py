"""Check committed chapter notebooks: executed top to bottom, no error outputs, a papermill
``parameters`` cell, a run banner naming the profile, hardware and sr_lib version, and at least
three exercise solutions collapsed with their outputs behind a "Solution" toggle, and checked
cells (nbval) that read benchmark data declaring it (``srbook.needs_data``), so that a fresh
clone without the data skips exactly those comparisons (scripts/nbval_prepare.py). A chapter on
the harness (sr_lib.harness) keeps its code lines within the page's 90 characters."""

import json
import re
import sys

# names through which a cell's output depends on the benchmark sets found under SR_DATA
DATA_USE = re.compile(r"\b(test_set|train_set|find_data|HAVE_DATA|catalog\.(load|find))\b")

problems = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in code):
        problems.append(f"{path}: no cell tagged 'parameters'")
    solutions = [c for c in code if "solution" in c.get("metadata", {}).get("tags", [])]
    if len(solutions) < 3:
        problems.append(f"{path}: {len(solutions)} cells tagged 'solution'; a chapter has at "
                        "least three exercises with hidden solutions")
    for c in solutions:
        meta = c["metadata"]
        if "hide-cell" not in meta["tags"] or "Solution" not in meta.get("mystnb", {}).get(
                "code_prompt_show", ""):
            problems.append(f"{path}: solution cell {c.get('id')} is not collapsed behind a "
                            "'Solution' toggle (tags hide-cell + solution, mystnb prompts)")
    for c in nb["cells"]:
        if (c["cell_type"] == "markdown" and "solution" in c["metadata"].get("tags", [])
                and "{dropdown}" not in "".join(c["source"])):
            problems.append(f"{path}: answer cell {c.get('id')} (markdown tagged 'solution') "
                            "is not collapsed: put it in a :::{dropdown} block")
    for i, c in enumerate(code):
        src = "".join(c["source"])
        meta = c.get("metadata", {})
        declared = meta.get("srbook", {}).get("needs_data")
        if "nbval-check-output" in meta.get("tags", []) and DATA_USE.search(src) and not (
                declared):
            problems.append(f"{path}: code cell {i} is checked by nbval and reads benchmark "
                            f"data ({DATA_USE.search(src).group(0)}) but declares no "
                            "srbook.needs_data: a fresh clone without the data would fail it")
    if any("sr_lib.harness import" in "".join(c["source"]) for c in code):  # on the harness
        for i, c in enumerate(code):
            for line in "".join(c["source"]).splitlines():
                if len(line) > 90:
                    problems.append(f"{path}: code cell {i} has a line of {len(line)} "
                                    f"characters (the page shows 90): {line.strip()[:50]}...")
    if not any(c.get("outputs") for c in code):
        problems.append(f"{path}: no outputs; commit the executed 'book' run")
        continue
    for i, c in enumerate(code):
        for out in c.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{path}: code cell {i} has an error output ({out.get('ename')})")
    text = json.dumps([c.get("outputs", []) for c in code])
    m = re.search(r"profile `(\w+)`", text)
    if not m:
        problems.append(f"{path}: no run banner (sr_lib.notebook.banner) in the outputs")
    elif m.group(1) == "smoke":
        problems.append(f"{path}: committed outputs come from the smoke profile, not 'book'")
    else:
        print(f"{path}: outputs from profile '{m.group(1)}'")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
