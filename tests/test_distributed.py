"""torchrun with 2 CPU processes (gloo) trains to the weights of one process with the same
global batch, resumes exactly, and the training step never reads a value back from the device."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from sr_lib.datasets import SRDataset
from sr_lib.models import build
from sr_lib.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="this torch has no gloo backend")


def _train(folder, out, procs: int, iterations: int = 12, batch: int = 8, extra=()):
    """The issue's command (VDSR width 8, depth 4, x2, batch 8, patch 16) on the test images."""
    args = ["-m", "sr_lib", "train", "--model", "vdsr", "--width", "8", "--depth", "4",
            "--scale", "2", "--data", str(folder), "--iterations", str(iterations),
            "--batch-size", str(batch), "--patch", "16", "--seed", "0", "--ckpt-every", "3",
            "--out", str(out), *extra]
    if procs > 1:
        args = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
                *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, torch.load(out / "weights.pt", weights_only=True)["state_dict"]


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
def test_two_processes_equal_one_with_the_same_global_batch(folder, tmp_path):
    stdout, two = _train(folder, tmp_path / "two", 2)
    assert stdout.splitlines()[0].startswith("[distributed] world size 2")
    _, one = _train(folder, tmp_path / "one", 1)
    _, half = _train(folder, tmp_path / "half", 1, batch=4)  # what one rank alone would learn
    assert _max_diff(two, one) < 1e-6
    assert _max_diff(half, one) > 1e-5  # the comparison can tell batches apart


@pytest.mark.slow
def test_two_process_resume_equals_uninterrupted(folder, tmp_path):
    _, full = _train(folder, tmp_path / "full", 2)
    _train(folder, tmp_path / "cut", 2, iterations=6)
    stdout, resumed = _train(folder, tmp_path / "cut", 2)  # resumes at step 6 under torchrun
    assert _max_diff(resumed, full) == 0.0


def test_rank_shares_make_up_the_global_batch(small_images):
    data = SRDataset(small_images, 2)
    whole = data.batch(8, 8, step=5, seed=3)
    parts = [data.batch(8, 8, step=5, seed=3, part=(r * 4, 4)) for r in range(2)]
    assert torch.equal(torch.cat([p["hr"] for p in parts]), whole["hr"])
    assert torch.equal(torch.cat([p["lr"] for p in parts]), whole["lr"])


_SYNCS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


def test_no_host_sync_inside_the_step(small_images, monkeypatch):
    """Reading a float or bool tensor back (item, float(), bool(), .cpu(), ...) waits for the
    GPU. Between log steps the loop must not do it at all. Host values are not counted: the
    random integer draws of the CPU generator that picks patches, and Adam's step counter,
    which torch keeps on the host (reading it never waits for the GPU)."""
    data = SRDataset(small_images, 2)
    torch.manual_seed(0)
    config = TrainConfig(iterations=12, batch_size=4, lr_patch=8, log_every=6, progress=False,
                         prefetch=0, grad_clip=1.0, scheduler="cosine")
    trainer = Trainer(build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8), data, config)
    reads: list[tuple[int, str]] = []
    for name in _SYNCS:
        real = getattr(torch.Tensor, name)

        def spy(self, *args, _real=real, _name=name, **kwargs):
            host = any(self is st.get("step") for st in trainer.optimizer.state.values())
            if (self.is_floating_point() or self.dtype == torch.bool) and not host:
                reads.append((trainer.step, _name))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    trainer.fit()
    monkeypatch.undo()
    assert trainer.step == 12
    steps = sorted({s for s, _ in reads})
    assert steps == [6, 12], reads  # only at the two log steps (after the step counter moved)
    assert len(reads) <= 4, reads
