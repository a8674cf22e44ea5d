"""Check committed chapter notebooks: executed top to bottom, no error outputs, a papermill
``parameters`` cell, and a run banner naming the profile, hardware and sr_lib version."""

import json
import re
import sys

problems = []
for path in sys.argv[1:]:
    nb = json.load(open(path))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in code):
        problems.append(f"{path}: no cell tagged 'parameters'")
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
