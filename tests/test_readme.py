"""The README's examples run as printed: every Python block of "Using sr_lib directly", in
order, in one fresh interpreter, then every command of its command-line block, all in tiny
mode (``SR_LIB_TINY=1``, see ``sr_lib.tiny``) so that they finish in about a minute."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else None]


def blocks(lang: str, title: str = "Using sr_lib directly") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", _section(README.read_text(), title), re.S)


def commands(block: str) -> list[str]:
    """Shell commands of a block, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.split("  #")[0].strip() for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_readme_has_the_blocks():
    assert len(blocks("python")) >= 6 and len(blocks("bash")) == 1
    assert all("python -m sr_lib" in c or c.startswith("torchrun ")
               for c in commands(blocks("bash")[0]))


@pytest.fixture()
def env(data_root, tmp_path):
    weights = Path(os.environ.get("SR_WEIGHTS", ROOT.parent / "shared" / "weights"))
    if not (weights / "ail").is_dir():
        pytest.skip(f"the authors' weights are not under {weights} (set SR_WEIGHTS)")
    return dict(os.environ, SR_LIB_TINY="1", SR_DATA=str(data_root), SR_WEIGHTS=str(weights),
                PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2",
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.data
@pytest.mark.slow
def test_python_blocks_run_in_order(env, tmp_path):
    script = "\n\n".join(blocks("python"))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "EvalResult(x2" in done.stdout
    for run in ("vdsr", "isrrescnet", "prosr", "edsr", "srp", "drn", "ail-teacher",
                "ail-student"):  # every block trained in a folder of its own
        assert (tmp_path / "runs" / run / "ckpt.pt").is_file(), run


@pytest.mark.data
@pytest.mark.slow
def test_cli_block_runs(env, tmp_path):
    for cmd in commands(blocks("bash")[0]):
        done = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{cmd}\n{done.stderr[-2000:]}"
    assert (tmp_path / "bird_x2.png").is_file() and (tmp_path / "teacher.pt").is_file()
    assert (tmp_path / "runs" / "ddp" / "weights.pt").is_file()  # the torchrun command
