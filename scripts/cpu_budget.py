"""Run a command and hold it to a budget of CPU seconds, not wall-clock seconds.

    python scripts/cpu_budget.py --budget 240 --label "chapter 00" -- papermill ...

A smoke run must prove that a chapter is small, not that the machine was idle: on a loaded
laptop or CI runner the wall-clock time of a correct run can triple. The CPU time of the command
and every process it waited for (the notebook kernel included) is what the chapter itself
costs, so that is what the budget checks. Both figures are printed.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time


def run(cmd: list[str], budget: float, label: str) -> int:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = subprocess.call(cmd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0:
        print(f"{label}: FAILED (exit {code}) after {wall:.0f} s", file=sys.stderr)
        return code
    print(f"{label}: OK in {cpu:.0f} CPU s ({wall:.0f} s wall clock); budget {budget:.0f} CPU s")
    if cpu > budget:
        print(f"FAIL: {label} used {cpu:.0f} CPU seconds; the budget is {budget:.0f}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, required=True, help="CPU seconds allowed")
    ap.add_argument("--label", default="command")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command")
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("give the command after --")
    return run(cmd, args.budget, args.label)


if __name__ == "__main__":
    sys.exit(main())
