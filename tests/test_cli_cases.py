"""The command line under bad input, full disks, interrupted runs and hostile files: every case
ends with a readable error line and a non-zero exit, never a traceback, and nothing is lost."""

import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr_lib import cli
from sr_lib.models import build
from sr_lib.train import save_weights

ROOT = Path(__file__).resolve().parents[1]


def run(args, capsys):
    code = cli.main([str(a) for a in args])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return code, cap.out, cap.err


def srcnn_weights(path, fill=None):
    model = build("srcnn", scale=2, n1=8, n2=4)
    if fill is not None:
        with torch.no_grad():
            model.body[0].weight.fill_(fill)
    save_weights(model, path, name="srcnn", scale=2)
    return path


SRCNN = ["--model", "srcnn", "--scale", "2", "--n1", "8", "--n2", "4"]


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


# -- argument values rejected at parsing ---------------------------------------------------

@pytest.mark.parametrize("bad", [["--limit", "-1"], ["--limit", "0"], ["--tile", "0"],
                                 ["--scale", "0"], ["--scale", "x"]])
def test_bad_numbers_rejected_at_parsing(bad, folder, capsys):
    args = ["eval", "--model", "bicubic", "--scale", "2", "--data", folder, *bad]
    with pytest.raises(SystemExit) as exc:
        cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and ("must be" in err or "expected" in err)


@pytest.mark.parametrize("bad", [["--iterations", "0"], ["--batch-size", "-2"],
                                 ["--patch", "0"], ["--lr", "0"], ["--lr", "nan"],
                                 ["--grad-clip", "-1"], ["--ckpt-every", "-5"]])
def test_bad_training_numbers_rejected(bad, folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", *SRCNN, "--data", str(folder), "--out", str(tmp_path / "r"), *bad])
    assert exc.value.code == 2 and "error:" in capsys.readouterr().err


# -- nothing lost --------------------------------------------------------------------------

def test_upscale_never_overwrites_silently(folder, capsys):
    img = folder / "0.png"
    before = img.read_bytes()
    code, _, err = run(["upscale", img, img, "--model", "bicubic", "--scale", "2"], capsys)
    assert code == 2 and "is the input image" in err and img.read_bytes() == before
    out = folder.parent / "up.png"
    assert run(["upscale", img, out, "--model", "bicubic", "--scale", "2"], capsys)[0] == 0
    code, _, err = run(["upscale", img, out, "--model", "bicubic", "--scale", "2"], capsys)
    assert code == 2 and "--overwrite" in err
    assert run(["upscale", img, out, "--model", "bicubic", "--scale", "2", "--overwrite"],
               capsys)[0] == 0


def test_full_disk_keeps_previous_file(folder, monkeypatch, capsys):
    img, out = folder / "0.png", folder.parent / "up.png"
    out.write_bytes(b"previous result")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    code, _, err = run(["upscale", img, out, "--model", "bicubic", "--scale", "2",
                        "--overwrite"], capsys)
    assert code == 2 and "No space left" in err and "nothing was overwritten" in err
    assert out.read_bytes() == b"previous result"
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_unwritable_output_folder(folder, capsys):
    blocker = folder.parent / "a_file"
    blocker.write_text("x")
    code, _, err = run(["upscale", folder / "0.png", blocker / "out.png", "--model", "bicubic",
                        "--scale", "2"], capsys)
    assert code == 2 and "cannot write" in err


def test_checkpoint_write_failure_keeps_the_previous_checkpoint(folder, tmp_path, monkeypatch,
                                                                capsys):
    out = tmp_path / "run"
    base = ["train", *SRCNN, "--data", folder, "--out", out, "--batch-size", "2", "--patch", "8"]
    assert run([*base, "--iterations", "2"], capsys)[0] == 0
    ckpt = (out / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def disk_full(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos")

    monkeypatch.setattr(torch, "save", disk_full)
    code, _, err = run([*base, "--iterations", "4"], capsys)
    assert code == 2 and "could not write" in err and "nothing was overwritten" in err
    assert (out / "checkpoint.pt").read_bytes() == ckpt


def _uninterrupted_then_other(script: str, tmp_path):
    """Run ``script`` (argv: folder, mode) once uninterrupted into a/; return the command, its
    environment and the folders a/ and b/ for the interrupted and resumed runs to compare."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    cmd = [sys.executable, "-c", script]
    assert subprocess.run([*cmd, str(a), "plain"], env=env).returncode == 0
    return cmd, env, a, b


def test_kill_during_checkpoint_write_then_resume_is_exact(folder, tmp_path):
    """kill -9 while the third checkpoint is being written; the resumed run ends with exactly
    the weights of an uninterrupted one."""
    script = textwrap.dedent(f"""
        import os, signal, sys, torch
        import sr_lib
        from sr_lib.datasets import SRDataset
        from sr_lib.models import build
        crash = sys.argv[2] == "crash"
        real = torch.save
        calls = []
        def save(obj, f, *a, **k):
            calls.append(1)
            if crash and len(calls) == 3:
                f.write(b"half a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            real(obj, f, *a, **k)
        torch.save = save
        torch.manual_seed(0)
        model = build("srcnn", scale=2, n1=8, n2=4)
        data = SRDataset({str(folder)!r}, 2, channels="y")
        cfg = sr_lib.TrainConfig(iterations=5, batch_size=2, lr_patch=8, ckpt_every=1,
                                 ckpt_path=sys.argv[1] + "/ckpt.pt", progress=False)
        sr_lib.Trainer(model, data, cfg).fit()
        real(model.state_dict(), sys.argv[1] + "/final.pt")
    """)
    cmd, env, a, b = _uninterrupted_then_other(script, tmp_path)
    killed = subprocess.run([*cmd, str(b), "crash"], env=env)
    assert killed.returncode == -9 and (b / "ckpt.pt").exists()
    assert torch.load(b / "ckpt.pt", weights_only=True)["step"] == 2  # the last complete one
    assert subprocess.run([*cmd, str(b), "plain"], env=env).returncode == 0
    wa, wb = (torch.load(d / "final.pt", weights_only=True) for d in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_saves_the_current_step_and_resume_is_exact(sig, folder, tmp_path):
    """SIGTERM (Colab, Slurm) or SIGINT (Ctrl-C) at step 3 of 6, with no periodic checkpoint
    due before step 100: the run writes a checkpoint at step 3 and exits (143 for SIGTERM, a
    KeyboardInterrupt for SIGINT); the resumed run ends with exactly the uninterrupted weights."""
    script = textwrap.dedent(f"""
        import os, signal, sys, torch
        import sr_lib
        from sr_lib.datasets import SRDataset
        from sr_lib.models import build
        class SignalAt(sr_lib.train.Hook):
            def after_step(self, trainer, out, batch):
                if sys.argv[2] == "signal" and trainer.step == 2:  # during the third step
                    os.kill(os.getpid(), getattr(signal, {sig!r}))
        torch.manual_seed(0)
        model = build("srcnn", scale=2, n1=8, n2=4)
        data = SRDataset({str(folder)!r}, 2, channels="y")
        cfg = sr_lib.TrainConfig(iterations=6, batch_size=2, lr_patch=8, ckpt_every=100,
                                 log_every=4, ckpt_path=sys.argv[1] + "/ckpt.pt",
                                 progress=False)
        sr_lib.Trainer(model, data, cfg, hooks=[SignalAt()]).fit()
        torch.save(model.state_dict(), sys.argv[1] + "/final.pt")
    """)
    cmd, env, a, b = _uninterrupted_then_other(script, tmp_path)
    stopped = subprocess.run([*cmd, str(b), "signal"], env=env, capture_output=True, text=True)
    said = stopped.stdout + stopped.stderr
    if sig == "SIGTERM":
        assert stopped.returncode == 143, said
    else:  # an uncaught KeyboardInterrupt, as Ctrl-C would give
        assert stopped.returncode != 0 and "TrainingInterrupted" in said
    assert f"{sig} at step 3: stopped after writing a checkpoint" in said
    assert not (b / "final.pt").exists()
    assert torch.load(b / "ckpt.pt", weights_only=True)["step"] == 3
    assert subprocess.run([*cmd, str(b), "plain"], env=env).returncode == 0
    wa, wb = (torch.load(d / "final.pt", weights_only=True) for d in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cli_train_stopped_by_sigterm_resumes(folder, tmp_path):
    """The command line: a SIGTERM from outside ends `train` with status 143 and a checkpoint
    at the step it reached; the same command then finishes the run."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sr_lib", "train", *map(str, SRCNN), "--data", str(folder),
           "--out", str(out), "--batch-size", "2", "--patch", "8", "--iterations", "100000",
           "--ckpt-every", "1"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists():  # a checkpoint: the loop is running
        assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    said = "".join(proc.communicate(timeout=120))
    assert proc.returncode == 143, said
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert 0 < step < 100000 and f"SIGTERM at step {step:,}: stopped after writing" in said
    more = [*cmd[:cmd.index("100000")], str(step + 2), *cmd[cmd.index("100000") + 1:]]
    done = subprocess.run(more, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and f"trained {step + 2} iterations" in done.stdout
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == step + 2


# -- nothing silently wrong ----------------------------------------------------------------

def test_nan_weights_are_an_error(folder, tmp_path, capsys):
    w = srcnn_weights(tmp_path / "nan.pt", fill=float("nan"))
    code, out, err = run(["eval", *SRCNN, "--weights", w, "--data", folder, "--json"], capsys)
    assert code == 2 and "NaN" in err and out == ""


@pytest.mark.parametrize("payload", [[1, 2], torch.zeros(3), {"a": 1}])
def test_weights_file_without_a_state_dict(payload, folder, tmp_path, capsys):
    torch.save(payload, tmp_path / "w.pt")
    code, _, err = run(["eval", *SRCNN, "--weights", tmp_path / "w.pt", "--data", folder],
                       capsys)
    assert code == 2 and "state_dict" in err


def test_flat_image_is_flagged_not_averaged(tmp_path, small_images, capsys):
    hr = tmp_path / "hr"
    hr.mkdir()
    Image.fromarray(small_images[0]).save(hr / "a.png")
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(hr / "flat.png")
    code, out, err = run(["eval", "--model", "bicubic", "--scale", "2", "--data", hr,
                          "--json"], capsys)
    res = json.loads(out)  # valid JSON, no NaN / Infinity tokens
    assert code == 0 and res["perfect"] == ["flat"] and res["psnr"] < 60
    assert [r["psnr"] for r in res["per_image"]][1] is None and "left out" in err


def test_device_not_on_this_machine(folder, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run(["eval", "--model", "bicubic", "--scale", "2", "--data", folder,
                        "--device", "cuda"], capsys)
    assert code == 2 and "no CUDA" in err and "--device cpu" in err


def test_decompression_bomb(folder, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # a 64x72 image is now "huge"
    code, _, err = run(["upscale", folder / "0.png", folder.parent / "o.png", "--model",
                        "bicubic", "--scale", "2"], capsys)
    assert code == 2 and "safety limit" in err


def test_internal_error_says_where_to_report(monkeypatch, capsys):
    import sr_lib.complexity

    def boom(*a, **k):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(sr_lib.complexity, "summary", boom)
    code, _, err = run(["params", "vdsr", "--scale", "2"], capsys)
    assert code == 70 and "internal error" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        cli.main(["params", "vdsr", "--scale", "2", "--debug"])


# -- the resume trap -------------------------------------------------------------------------

def test_diverged_run_then_following_the_advice(folder, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--model", "edsr-baseline", "--scale", "2", "--n_resblocks", "1",
            "--n_feats", "4", "--data", folder, "--out", out, "--batch-size", "2", "--patch",
            "8", "--ckpt-every", "1"]
    code, _, err = run([*base, "--iterations", "6", "--lr", "1e10"], capsys)
    assert code == 2 and "--restart" in err and "--override lr" in err
    # the weights that blew up were never promoted to the checkpoint: nothing to resume
    assert "no checkpoint was written" in err and not (out / "checkpoint.pt").exists()
    assert not list(out.glob("*.pending"))
    assert run([*base, "--iterations", "6", "--lr", "1e-4"], capsys)[0] == 0  # the advice works
    code, _, err = run([*base, "--iterations", "8", "--lr", "1e-5"], capsys)
    assert code == 2 and "lr: 0.0001 in the checkpoint, 1e-05 now" in err
    code, _, err = run([*base, "--iterations", "8", "--lr", "1e-4", "--batch-size", "3"], capsys)
    assert code == 2 and "batch_size" in err
    assert run([*base, "--iterations", "8", "--lr", "1e-5", "--override", "lr",
                "--grad-clip", "0.4", "--override", "grad_clip"], capsys)[0] == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 8 and state["config"]["lr"] == 1e-5
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-5)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", "truncated", "foreign"])
def test_broken_checkpoints_refuse_to_resume(content, folder, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", *SRCNN, "--data", folder, "--out", out, "--batch-size", "2", "--patch", "8",
            "--iterations", "2"]
    assert run(base, capsys)[0] == 0
    ckpt = out / "checkpoint.pt"
    if content == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:300])
    elif content == "foreign":
        torch.save({"model": build("srcnn", scale=2, n1=8, n2=4)}, ckpt)  # not weights-only
    else:
        ckpt.write_bytes(content)
    code, _, err = run([*base, "--iterations", "3"], capsys)
    assert code == 2 and "cannot resume" in err and "--restart" in err
    assert run([*base, "--iterations", "3", "--restart"], capsys)[0] == 0


def test_extending_a_cosine_run_keeps_the_rate_falling(folder, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", *SRCNN, "--data", folder, "--out", out, "--batch-size", "2", "--patch", "8",
            "--scheduler", "cosine", "--lr", "1e-3"]
    assert run([*base, "--iterations", "4"], capsys)[0] == 0
    end = torch.load(out / "checkpoint.pt", weights_only=True)["optimizer"]["param_groups"][0]
    assert run([*base, "--iterations", "8"], capsys)[0] == 0
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert end["lr"] == pytest.approx(0.0, abs=1e-12)  # the 4-step run ended at min_lr
    assert state["scheduler"]["T_max"] == 8  # the new length, not the old period
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


# -- hostile pickles, on every path that loads a file ----------------------------------------

def test_hostile_pickle_on_every_loading_path(folder, tmp_path, capsys):
    from sr_lib.datasets import SRDataset
    from sr_lib.foreign import read_checkpoint

    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": Payload(marker)}, evil)
    cases = [
        ["eval", *SRCNN, "--weights", evil, "--data", folder],
        ["upscale", folder / "0.png", tmp_path / "o.png", *SRCNN, "--weights", evil],
        ["train", *SRCNN, "--init", evil, "--data", folder, "--out", tmp_path / "r1",
         "--iterations", "1", "--batch-size", "2", "--patch", "8"],
        ["convert", evil, tmp_path / "c.pt"],
    ]
    for args in cases:
        code, _, err = run(args, capsys)
        assert code == 2 and "error:" in err, args
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "checkpoint.pt").write_bytes(evil.read_bytes())
    code, _, err = run(["train", *SRCNN, "--data", folder, "--out", tmp_path / "r2",
                        "--iterations", "1", "--batch-size", "2", "--patch", "8"], capsys)
    assert code == 2 and "cannot resume" in err
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "BI_x2_rgb_n0_v2.pt").write_bytes(evil.read_bytes())
    data = SRDataset(folder, 2, cache_dir=cache)  # the hostile cache is rebuilt, not run
    assert len(data) == 3
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"m": Payload(marker)}, protocol=2))
    with pytest.raises(Exception):  # noqa: B017 - refused in whatever words; never run
        read_checkpoint(tmp_path / "raw.pkl")
    assert not marker.exists()


def test_same_command_twice_gives_the_same_weights(folder, tmp_path, capsys):
    """--seed covers the initial weights too (the model is built after seeding)."""
    weights = []
    for name in ("a", "b"):
        args = ["train", *SRCNN, "--data", folder, "--out", tmp_path / name, "--batch-size", "2",
                "--patch", "8", "--iterations", "3", "--seed", "5"]
        torch.manual_seed(len(name) * 123 + ord(name))  # different global state before each
        assert run(args, capsys)[0] == 0
        weights.append(torch.load(tmp_path / name / "weights.pt", weights_only=True))
    a, b = (w["state_dict"] for w in weights)
    assert all(torch.equal(a[k], b[k]) for k in a)
