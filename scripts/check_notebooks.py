"""Check committed chapter notebooks: executed top to bottom, no error outputs, a papermill
``parameters`` cell, a run banner naming the profile, hardware and sr_lib version, and at least
three exercise solutions collapsed with their outputs behind a "Solution" toggle."""

import json
import re
import sys

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
