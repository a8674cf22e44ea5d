import math

import pytest
import torch
from torch import nn

from sr_lib.datasets import MixUp, SRDataset
from sr_lib.degrade import Degradation
from sr_lib.errors import SRLibError, TrainingDiverged
from sr_lib.models import build
from sr_lib.resize import imresize, imresize_adjoint
from sr_lib.train import (
    TBPTT,
    BatchTransform,
    Hook,
    TrainConfig,
    Trainer,
    load_weights,
    pixel_loss,
    save_weights,
)


@pytest.fixture(scope="module")
def data(small_images):
    return SRDataset(small_images, 2)


def tiny():
    return build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)


def cfg(**kw):
    base = dict(iterations=12, batch_size=2, lr_patch=12, lr=1e-3, progress=False, log_every=2)
    base.update(kw)
    return TrainConfig(**base)


def test_loss_goes_down(data):
    torch.manual_seed(0)
    history = Trainer(tiny(), data, cfg(iterations=40)).fit()
    assert history.loss[-1] < history.loss[0]
    assert len(history.step) == 20


def test_resume_gives_identical_weights(data, tmp_path):
    c = dict(scheduler="multistep", milestones=[5], ckpt_every=4)
    full = Trainer(tiny(), data, cfg(**c, ckpt_path=str(tmp_path / "a.pt")))
    full.fit()
    part = Trainer(tiny(), data, cfg(**c, iterations=8, ckpt_path=str(tmp_path / "b.pt")))
    part.fit()
    resumed = Trainer(tiny(), data, cfg(**c, ckpt_path=str(tmp_path / "b.pt")))
    resumed.fit(resume=True)
    assert resumed.step == 12
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert full.history.loss == resumed.history.loss
    assert resumed.current_lr == pytest.approx(5e-4)


def test_nan_stops_with_message_and_keeps_checkpoint(data, tmp_path):
    class Poison(Hook):
        def extra_loss(self, trainer, out, batch):
            return torch.tensor(math.nan) if trainer.step == 6 else None

    path = tmp_path / "c.pt"
    t = Trainer(tiny(), data, cfg(ckpt_every=4, ckpt_path=str(path)), hooks=[Poison()])
    with pytest.raises(TrainingDiverged, match="between iterations 7 and 8.*c.pt"):
        t.fit()
    assert torch.load(path, weights_only=True)["step"] == 4


def test_hooks_pixel_weights_penalty_and_dual(data):
    seen = {}

    class Weights(Hook):  # AIL-style: zero weights silence the pixel loss
        def pixel_weights(self, trainer, out, batch):
            return torch.zeros_like(out["target"])

    class Dual(Hook):  # DRN-style: a second model trained by the main optimiser
        def __init__(self):
            self.dual = nn.Conv2d(3, 3, 3, stride=2, padding=1)

        def parameters(self):
            return self.dual.parameters()

        def setup(self, trainer):
            self.dual.to(trainer.device)
            self.before = self.dual.weight.detach().clone()

        def extra_loss(self, trainer, out, batch):
            return 0.1 * (self.dual(out["sr"]) - batch["lr"]).abs().mean()

    class Penalty(Hook):  # SRP-style gradient penalty applied after backward
        def after_backward(self, trainer):
            seen["grad"] = trainer.model.head[0].weight.grad is not None

    model = tiny()
    dual = Dual()
    Trainer(model, data, cfg(iterations=3), hooks=[Weights(), dual, Penalty()]).fit()
    assert seen["grad"]
    assert not torch.equal(dual.before, dual.dual.weight)


def test_gan_style_second_optimiser_is_checkpointed(data, tmp_path):
    class GAN(Hook):
        def __init__(self):
            self.disc = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1))
            self.opt = torch.optim.Adam(self.disc.parameters(), 1e-3)
            self.updates = 0

        def extra_loss(self, trainer, out, batch):
            return 1e-3 * (self.disc(out["sr"]) - 1).pow(2).mean()

        def after_step(self, trainer, out, batch):
            fake, real = self.disc(out["sr"].detach()), self.disc(batch["hr"])
            loss = fake.pow(2).mean() + (real - 1).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.updates += 1

        def state_dict(self):
            return {"disc": self.disc.state_dict(), "opt": self.opt.state_dict(),
                    "updates": self.updates}

        def load_state_dict(self, state):
            self.disc.load_state_dict(state["disc"])
            self.opt.load_state_dict(state["opt"])
            self.updates = state["updates"]

    path = tmp_path / "g.pt"
    Trainer(tiny(), data, cfg(iterations=4, ckpt_path=str(path)), hooks=[GAN()]).fit()
    hook = GAN()
    t = Trainer(tiny(), data, cfg(iterations=6, ckpt_path=str(path)), hooks=[hook])
    t.fit()
    assert hook.updates == 6


class Landweber(nn.Module):
    """A toy unrolled model: x <- x + a_k H^T (y - H x) + conv(x), K iterations."""

    def __init__(self, iterations=6):
        super().__init__()
        self.scale, self.in_channels, self.iterations = 2, 3, iterations
        self.step_sizes = nn.Parameter(torch.full((iterations,), 1.0))
        self.refine = nn.Conv2d(3, 3, 3, padding=1)

    def init_state(self, lr):
        return imresize(lr, 2)

    def iterate(self, x, lr, k):
        grad = imresize_adjoint(imresize(x, 0.5) - lr, x.shape[-2:], 0.5)
        return x - self.step_sizes[k] * grad + 0.01 * self.refine(x)

    def estimate(self, x):
        return x

    def forward(self, lr):
        x = self.init_state(lr)
        for k in range(self.iterations):
            x = self.iterate(x, lr, k)
        return x


def test_tbptt_truncation(data):
    model = Landweber(iterations=6)
    grads = []

    class Record(Hook):
        def after_backward(self, trainer):
            grads.append(trainer.model.step_sizes.grad.clone())

    Trainer(model, data, cfg(iterations=2), hooks=[TBPTT(k1=3, k2=2), Record()]).fit()
    assert len(grads) == 2 * 2  # K / k1 optimiser steps per batch
    first, second = grads[0], grads[1]
    # segment 1 (iterations 0-2) back-propagates through iterations 1 and 2 only
    assert first[0] == 0 and first[1] != 0 and first[2] != 0 and (first[3:] == 0).all()
    assert (second[:4] == 0).all() and second[4] != 0 and second[5] != 0
    with pytest.raises(SRLibError):
        TBPTT(k1=2, k2=3)


def test_mixup_as_batch_hook(data):
    seen = []

    def spy(batch, step, seed):
        out = MixUp(Degradation("BI", 2), p=1.0)(batch, step, seed)
        seen.append(torch.equal(out["hr"], batch["hr"]))
        return out

    history = Trainer(tiny(), data, cfg(iterations=2), hooks=[BatchTransform(spy)]).fit()
    assert len(history.loss) == 1 and seen == [False, False]


def test_validation_plateau_and_weights_io(data, tmp_path):
    t = Trainer(tiny(), data, cfg(iterations=4, val_every=2, scheduler="plateau"), val_data=data)
    history = t.fit()
    assert history.val_step == [2, 4] and all(v > 10 for v in history.val_psnr)
    save_weights(t.model, tmp_path / "w.pt", name="edsr-baseline", scale=2)
    fresh = tiny()
    assert load_weights(fresh, tmp_path / "w.pt")["scale"] == 2
    with pytest.raises(SRLibError, match="does not fit"):
        load_weights(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8), tmp_path / "w.pt")


def test_losses_and_config_errors():
    a, b = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    assert float(pixel_loss(a, b, "l1")) == 1.0 and float(pixel_loss(a, 2 * b, "l2")) == 4.0
    assert float(pixel_loss(a, a, "charbonnier", eps=1e-3)) == pytest.approx(1e-3)
    assert float(pixel_loss(a, b, "l1", weights=torch.zeros_like(a))) == 0.0
    with pytest.raises(SRLibError, match="no parameters"):
        Trainer(build("bicubic", scale=2), None, cfg())
    for bad in ({"loss": "l3"}, {"scheduler": "warm"}, {"optimizer": "lion"}):
        with pytest.raises(SRLibError):
            TrainConfig(**bad)


def test_long_runs_say_their_cost_up_front(monkeypatch, capsys, small_images):
    """After a few timed steps, a run expected to be long prints one line with its estimate."""
    from sr_lib import train as train_mod

    data = SRDataset(small_images, 2)
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4)
    cfg = TrainConfig(iterations=6, batch_size=2, lr_patch=8, progress=False)
    monkeypatch.setattr(train_mod, "_WARN_SECONDS", 0.0)
    monkeypatch.delenv("SRBOOK_STATIC", raising=False)
    Trainer(model, data, cfg).fit()
    out = capsys.readouterr().out
    assert "[cost] 3 more iterations on cpu will take about" in out and "SR_LIB_TINY" in out
    monkeypatch.setenv("SRBOOK_STATIC", "1")  # a scripted book run stores no log line
    Trainer(model, data, TrainConfig(iterations=6, batch_size=2, lr_patch=8,
                                     progress=False)).fit()
    assert "[cost]" not in capsys.readouterr().out
    monkeypatch.delenv("SRBOOK_STATIC")
    monkeypatch.setattr(train_mod, "_WARN_SECONDS", 1e9)
    Trainer(model, data, TrainConfig(iterations=6, batch_size=2, lr_patch=8,
                                     progress=False)).fit()
    assert "[cost]" not in capsys.readouterr().out


def test_tiny_mode_caps_runs_and_only_when_set(monkeypatch, small_images):
    data = SRDataset(small_images, 2)
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4)
    cfg = TrainConfig(iterations=500, batch_size=16, lr_patch=24, ckpt_every=50, progress=False)
    monkeypatch.delenv("SR_LIB_TINY", raising=False)
    assert Trainer(model, data, cfg).config.iterations == 500
    monkeypatch.setenv("SR_LIB_TINY", "1")
    tr = Trainer(model, data, cfg)
    assert (tr.config.iterations, tr.config.batch_size, tr.config.lr_patch) == (2, 2, 8)
    assert data.batch(4, 24, 0)["lr"].shape[-1] == 8
    tr.fit()
    assert tr.step == 2 and cfg.iterations == 500  # the caller's config is left alone
