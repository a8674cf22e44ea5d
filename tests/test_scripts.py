"""The test command's own logic: the smoke budget counts CPU seconds, not a busy machine's
wall clock."""

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
