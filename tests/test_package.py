import subprocess
import sys

import pytest

from sr_lib.notebook import check, markdown_table, resolve_profile


def test_import_needs_only_runtime_requirements():
    code = ("import sys, sr_lib, sr_lib.cli; "
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'skimage', 'scipy') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_profile_override(monkeypatch):
    assert resolve_profile("book") == "book"
    monkeypatch.setenv("SRBOOK_PROFILE_OVERRIDE", "smoke")
    assert resolve_profile("book") == "smoke"
    monkeypatch.setenv("SRBOOK_PROFILE_OVERRIDE", "huge")
    with pytest.raises(ValueError):
        resolve_profile("book")


def test_notebook_helpers():
    text = markdown_table([{"a": 1.234, "b": "x"}, {"a": 2.0, "c": 3}])
    assert "| a | b | c |" in text and "| 1.23 | x | - |" in text and "| 2.00 | - | 3 |" in text
    norm = markdown_table([{"operator": "||H^T H||", "value": "1/s^2\nexact"}])
    rows = norm.splitlines()
    assert rows[2] == "| \\|\\|H^T H\\|\\| | 1/s^2<br>exact |"  # escaped, one row
    # every row splits into as many cells as the header once escaped bars are ignored
    widths = {len(r.replace("\\|", "").strip("|").split("|")) for r in rows}
    assert widths == {2}
    with pytest.raises(AssertionError, match="hint"):
        check(False, "ok", "hint")


def test_figures_fit_the_text_column():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from sr_lib.plot import COLUMN_INCHES, book_style, figsize, show_images

    book_style()
    assert figsize()[0] == COLUMN_INCHES and figsize(0.5, 1.0) == (COLUMN_INCHES / 2,) * 2
    fig = show_images({str(i): torch.rand(3, 8, 8) for i in range(6)}, size=3.0)
    assert fig.get_size_inches()[0] <= COLUMN_INCHES + 1e-9


def test_pareto_plot_draws_seeds_means_and_the_front():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sr_lib.plot import COLUMN_INCHES, pareto

    fig = pareto({"a": [(1.0, 30.0), (1.0, 30.2)], "b": [(4.0, 29.0)], "c": [(8.0, 31.0)]},
                 "GMACs", "PSNR (dB)")
    ax = fig.get_axes()[0]
    front = ax.get_lines()[-1]
    assert list(front.get_xdata()) == [1.0, 8.0]  # b is dominated by a
    assert ax.get_xscale() == "log" and fig.get_size_inches()[0] <= COLUMN_INCHES + 1e-9
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
def test_pruning_figures_show_kinds_and_filter_norms():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")

    from sr_lib.models import build
    from sr_lib.plot import COLUMN_INCHES, KIND_COLORS, filter_norms, layer_kinds
    from sr_lib.pruning import analyze

    structure = analyze(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8))
    kinds = structure.kinds()
    assert list(kinds) == structure.convs
    assert kinds["head.0"] == "constrained" and kinds["body.0.body.0"] == "free"
    assert kinds[structure.skipped[0]] == "not pruned"
    fig = layer_kinds(structure, label=lambda n: n[-3:])
    bars = fig.get_axes()[0].patches
    assert len(bars) == len(kinds)
    assert [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars] == [
        matplotlib.colors.to_hex(KIND_COLORS[k]) for k in kinds.values()]
    history = [{"step": s, "head.0": (1.0, 1.0 / (s + 1)), "body.0.body.0": (1.0, 0.5)}
               for s in range(3)]
    fig = filter_norms(history, ["head.0", "body.0.body.0"], kinds)
    assert fig.get_size_inches()[0] <= COLUMN_INCHES + 1e-9
    first = fig.get_axes()[0]
    assert first.get_title() == "head.0 (constrained)"
    assert list(first.get_lines()[1].get_ydata()) == [1.0, 0.5, 1.0 / 3]
    with pytest.raises(ValueError, match="record_every"):
        filter_norms([], ["head.0"], kinds)


def test_show_images_crops_and_titles():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import torch

    from sr_lib.plot import show_images

    fig = show_images({"a": torch.rand(3, 40, 40), "b": torch.rand(1, 1, 80, 80)},
                      crop=(0, 0, 20, 20))
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert axes[1].get_images()[0].get_array().shape[:2] == (40, 40)  # crop scaled x2


def test_cli_datasets_lists_sets(tmp_path, capsys):
    from sr_lib.cli import main

    assert main(["datasets", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "missing Set5" in out and "DIV2K" in out


def test_benchmark_set_uses_files_caches_and_falls_back(tmp_path, capsys):
    pytest.importorskip("skimage")
    import numpy as np

    from sr_lib.imageio import write_image
    from sr_lib.notebook import benchmark_set

    files = []
    for i in range(2):
        files.append(tmp_path / f"img{i}.png")
        write_image(files[-1], np.full((24, 24, 3), 40 * i, np.uint8))
    found = benchmark_set("Set5", 2, {"Set5": files})
    assert len(found) == 2 and found is benchmark_set("Set5", 2, {"Set5": files})
    assert found[0]["lr"].shape[-1] == 12
    fallback = benchmark_set("Set14", 2, {})
    assert "Set14 missing" in capsys.readouterr().out
    assert fallback.names == ["astronaut", "coffee", "chelsea", "rocket"]


def test_scoreboard_scores_each_network_once_per_scale_and_set(tmp_path):
    import numpy as np
    import pytest
    import torch

    from sr_lib import SRLibError
    from sr_lib.evaluate import evaluate
    from sr_lib.imageio import write_image
    from sr_lib.models import build
    from sr_lib.notebook import Scoreboard, benchmark_set

    g = np.random.default_rng(0)
    files = [tmp_path / f"t{i}.png" for i in range(2)]
    for f in files:
        write_image(f, g.integers(0, 256, (36, 36, 3), dtype=np.uint8))
    data = {"Toy": files}
    calls = []

    class Counting(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net, self.scale, self.in_channels = net, net.scale, net.in_channels
            self.any_channels = getattr(net, "any_channels", False)

        def forward(self, x):
            calls.append(1)
            return self.net(x)

    net = Counting(build("bicubic", scale=2, in_channels=1))
    board = Scoreboard(data, ["Toy"])
    first = board(net, "bicubic", 2)
    n = len(calls)
    assert n == 2 and board(net, "bicubic", 2) == first and len(calls) == n
    ref = evaluate(build("bicubic", scale=2, in_channels=1), benchmark_set("Toy", 2, data),
                   progress=False)
    assert first["Toy"] == (ref.mean_psnr, ref.mean_ssim)
    vdsr = build("vdsr", scale=2, width=4, depth=4)
    assert board(vdsr, "vdsr", 3)["Toy"] == board(vdsr.at_scale(3), "vdsr-x3", 3)["Toy"]
    # the per-image PSNRs behind a mean, for paired comparisons; unscored keys are refused
    assert board.per_image("bicubic", 2) == list(ref.psnr)
    assert np.mean(board.per_image("bicubic", 2)) == first["Toy"][0]
    with pytest.raises(SRLibError, match="not scored"):
        board.per_image("bicubic", 3)


def test_find_data_reports_missing_sets_without_paths(tmp_path, monkeypatch, capsys):
    from sr_lib.notebook import find_data

    monkeypatch.setenv("SR_DATA", str(tmp_path))
    assert find_data(["Urban100", "DF2K"]) == {}
    out = capsys.readouterr().out
    assert "Urban100 is not under the data root" in out and "DF2K" in out
    assert str(tmp_path) not in out


def test_colab_pin_matches_the_package_version():
    import json
    import re
    from pathlib import Path

    import sr_lib

    root = Path(__file__).resolve().parents[1]
    project = re.search(r'^version = "([^"]+)"', (root / "pyproject.toml").read_text(),
                        re.M).group(1)
    assert project == sr_lib.__version__
    for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        text = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
        pins = set(re.findall(r"git\+https://github\.com/[^@\s\"]+@v([0-9][^\s\"]*)", text))
        assert pins == {sr_lib.__version__}, f"{nb.name} pins {pins or 'nothing'}"


def test_tqdm_disable_silences_every_sr_lib_bar(monkeypatch, capsys):
    """Builds set TQDM_DISABLE=1 so that committed outputs hold no progress bars; tqdm alone
    lets an explicit disable= win over the variable, so sr_lib's bars must honour it."""
    from sr_lib import progress

    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not progress.wanted(True)
    for _ in progress.bar(range(3), show=True, desc="quiet"):
        pass
    assert "quiet" not in capsys.readouterr().err
    monkeypatch.delenv("TQDM_DISABLE")
    assert progress.wanted(True) and not progress.wanted(False)
    for _ in progress.bar(range(3), show=True, desc="shown"):
        pass
    assert "shown" in capsys.readouterr().err


def test_run_commit_prefers_the_senders_commit_then_git_head(monkeypatch):
    import subprocess

    from sr_lib import notebook

    monkeypatch.delenv("SRBOOK_COMMIT", raising=False)
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if head:  # in a checkout: git's HEAD (with +dirty when sr_lib/ has changes)
        assert notebook.run_commit().startswith(head)
    # a copied tree may hold an older .git than its files: the sender's variable wins
    monkeypatch.setenv("SRBOOK_COMMIT", "0123456789ab")
    assert notebook.run_commit() == "0123456789ab"

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    monkeypatch.delenv("SRBOOK_COMMIT")
    assert notebook.run_commit() == ""
