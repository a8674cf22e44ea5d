import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from sr_lib.complexity import count_params
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.importance import (
    AdaptiveImportance,
    Distillation,
    importance_objective,
    importance_update,
    teacher_importance,
)
from sr_lib.models import build
from sr_lib.train import TrainConfig, Trainer


def test_student_and_teacher_parameter_counts():
    counts = {w: count_params(build("vdsr", scale=2, width=w)) for w in (13, 16, 22, 32, 64)}
    assert counts == {13: 27_612, 16: 41_760, 22: 78_804, 32: 166_464, 64: 664_704}
    assert count_params(build("drrn", scale=2)) == 297_216  # B1U25, 128 maps
    assert count_params(build("drrn", scale=2, width=25)) == 11_700  # DRRN-f25, ~12K


def test_drrn_shares_its_unit_weights_and_keeps_the_size():
    m = build("drrn", scale=3, width=8, units=4)
    assert m(torch.rand(1, 1, 7, 9)).shape == (1, 1, 21, 27)
    assert count_params(m) == count_params(build("drrn", scale=3, width=8, units=25))


def test_teacher_importance_matches_the_released_constants():
    g = teacher_importance(torch.tensor([0.0, 0.001, 0.01, 0.05]))
    # alpha0 = 100, mu0 = 0.01: g(mu0) = 0.5 / s(1) = 0.684; g(0.05) = s(-4) / s(1) = 0.0246
    np.testing.assert_allclose(g.numpy(), [1.0, 0.9725, 0.6839, 0.02464], atol=1e-3)
    assert torch.all(g[:-1] > g[1:])  # easier pixels are more important


@pytest.mark.parametrize("seed", range(5))
def test_closed_form_equals_a_1d_convex_solver(seed):
    rng = np.random.default_rng(seed)
    for _ in range(20):
        w0, d, lam = rng.uniform(0, 0.9), rng.uniform(0, 5), rng.uniform(0.01, 0.5)
        def f(w, w0=w0, d=d, lam=lam):
            return float(importance_objective(torch.tensor(w, dtype=torch.float64),
                                              torch.tensor(w0, dtype=torch.float64), d, lam))
        res = minimize_scalar(f, bounds=(w0 + 1e-12, 1.0), method="bounded",
                              options={"xatol": 1e-10})
        closed = float(importance_update(torch.tensor(w0), torch.tensor(d), lam))
        assert abs(closed - res.x) < 1e-5


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    imgs = [(torch.rand(48, 48, generator=g) * 255).to(torch.uint8).numpy() for _ in range(2)]
    return SRDataset([np.repeat(i[:, :, None], 3, 2) for i in imgs], 2, channels="y")


def test_rounds_snapshot_the_student_and_weights_grow(data):
    torch.manual_seed(0)
    teacher = build("vdsr", scale=2, width=8, depth=4)
    student = build("vdsr", scale=2, width=4, depth=4)
    hook = AdaptiveImportance(teacher, rounds=3, lam=0.15, rho=0.15)
    cfg = TrainConfig(iterations=6, batch_size=2, lr_patch=8, loss="l2", lr=1e-3, log_every=1,
                      progress=False)
    trainer = Trainer(student, data, cfg, hooks=[hook])
    trainer.fit()
    rounds = [r for _, r, _ in hook.mean_weight]
    assert rounds == [0, 0, 1, 1, 2, 2] and hook.previous is not None
    batch = data.batch(2, 8, 0, 0)
    hook.round = 0
    w0 = hook.importance(batch["lr"], batch["hr"])
    hook.round = 2
    w2 = hook.importance(batch["lr"], batch["hr"])
    assert torch.all(w2 >= w0 - 1e-7) and float(w2.mean()) > float(w0.mean())
    assert float(w2.max()) <= 1.0


def test_init_variants_and_errors(data):
    batch = data.batch(2, 8, 0, 0)
    zero = AdaptiveImportance(None, init="zero").importance(batch["lr"], batch["hr"])
    assert not zero.any()
    rnd = AdaptiveImportance(None, init="random").importance(batch["lr"], batch["hr"], step=3)
    assert 0 <= float(rnd.min()) and float(rnd.max()) <= 1 and rnd.std() > 0.1
    with pytest.raises(SRLibError):
        AdaptiveImportance(None, init="teacher")
    with pytest.raises(SRLibError):
        AdaptiveImportance(None, init="hard")


def test_indicator_penalty_is_plain_training(data):
    """All weights 1 (the indicator penalty h = I(w, 1)) gives the ordinary loss exactly."""
    torch.manual_seed(0)
    student = build("vdsr", scale=2, width=4, depth=4)
    cfg = TrainConfig(iterations=1, batch_size=2, lr_patch=8, loss="l2", progress=False)
    trainer = Trainer(student, data, cfg)
    batch = data.batch(2, 8, 0, 0)
    out = trainer.forward(batch)
    plain = trainer.compute_loss(out, batch)
    ones = AdaptiveImportance(None, init="zero", lam=1.0, rho=0.0, sigma_d=0.0)
    ones.round, ones.previous = 1, student  # w = clip(0 + 1 * exp(0), 0, 1) = 1
    torch.testing.assert_close(trainer.compute_loss(out, batch) * 1, plain)
    weighted = TrainConfig(iterations=1, batch_size=2, lr_patch=8, loss="l2", progress=False)
    t2 = Trainer(student, data, weighted, hooks=[ones])
    torch.testing.assert_close(t2.compute_loss(t2.forward(batch), batch), plain)


def test_distillation_adds_beta_times_the_teacher_term(data):
    torch.manual_seed(0)
    teacher = build("vdsr", scale=2, width=8, depth=4)
    student = build("vdsr", scale=2, width=4, depth=4)
    cfg = TrainConfig(iterations=1, batch_size=2, lr_patch=8, loss="l2", progress=False)
    batch = data.batch(2, 8, 0, 0)
    plain = Trainer(student, data, cfg)
    t = Trainer(student, data, cfg, hooks=[Distillation(teacher, beta=0.1)])
    out = t.forward(batch)
    extra = 0.1 * torch.mean((out["sr"] - teacher(batch["lr"])) ** 2)
    torch.testing.assert_close(t.compute_loss(out, batch), plain.compute_loss(out, batch) + extra)


def test_sum_reduction_is_the_released_loss(data):
    """VDSR / AIL sum the squared error over batch and pixels (size_average=False)."""
    torch.manual_seed(0)
    student = build("vdsr", scale=2, width=4, depth=4)
    batch = data.batch(2, 8, 0, 0)
    mean = Trainer(student, data, TrainConfig(loss="l2", progress=False))
    total = Trainer(student, data, TrainConfig(loss="l2", reduction="sum", progress=False))
    out = mean.forward(batch)
    torch.testing.assert_close(total.compute_loss(out, batch),
                               mean.compute_loss(out, batch) * out["sr"].numel())
    with pytest.raises(SRLibError):
        TrainConfig(reduction="avg")


def test_vdsr_serves_every_scale_and_mixed_scale_training_runs(data):
    from sr_lib.datasets import MultiScaleData

    torch.manual_seed(0)
    m = build("vdsr", scale=2, width=4, depth=4)
    x = torch.rand(1, 1, 10, 10)
    assert m(x, scale=3).shape[-1] == 30 and m.at_scale(4)(x).shape[-1] == 40
    torch.testing.assert_close(m.at_scale(2)(x), m(x))
    imgs = [np.full((48, 48, 3), 90, np.uint8), np.full((48, 48, 3), 30, np.uint8)]
    mixed = MultiScaleData({s: SRDataset(imgs, s, channels="y") for s in (2, 3, 4)},
                           {2: 10, 3: 8, 4: 6})
    cfg = TrainConfig(iterations=3, batch_size=2, lr_patch=10, loss="l2", reduction="sum",
                      optimizer="sgd", lr=0.01, grad_clip=0.4, progress=False)
    Trainer(m, mixed, cfg).fit()
    assert m(x).shape[-1] == 20


def test_downsized_copies_for_the_291_augmentation():
    from sr_lib.datasets import downsized_copies
    from sr_lib.resize import imresize

    img = (np.arange(40 * 30 * 3) % 251).astype(np.uint8).reshape(40, 30, 3)
    out = downsized_copies([img], (1.0, 0.7, 0.5))
    assert [o.shape for o in out] == [(40, 30, 3), (28, 21, 3), (20, 15, 3)]
    assert out[0] is img and out[1].dtype == np.uint8
    ref = imresize(torch.from_numpy(img).permute(2, 0, 1).float() / 255, 0.5)
    ref = ref.clamp(0, 1).permute(1, 2, 0).numpy() * 255
    assert np.abs(out[2].astype(float) - ref).max() <= 0.5 + 1e-4
    with pytest.raises(SRLibError):
        downsized_copies([img], (1.5,))


def test_uniform_control_and_round_snapshots(data, tmp_path):
    """init='one' keeps every weight at 1 under the same rounds; each finished round's
    student is kept, and survives a resume from the checkpoint."""
    torch.manual_seed(0)
    student = build("vdsr", scale=2, width=4, depth=4)
    control = AdaptiveImportance(None, rounds=3, init="one", lr_step=1, lr_gamma=0.5)
    cfg = TrainConfig(iterations=6, batch_size=2, lr_patch=8, loss="l2", lr=1e-3, log_every=1,
                      progress=False, ckpt_path=str(tmp_path / "c.pt"), ckpt_every=3)
    trainer = Trainer(student, data, cfg, hooks=[control])
    trainer.fit()
    assert [w for _, _, w in control.mean_weight] == [1.0] * 6
    assert control.previous is None and sorted(control.snapshots) == [0, 1]
    assert trainer.current_lr == pytest.approx(1e-3 * 0.5)  # restarted at round 2's start
    first = control.student_at(student, 0)
    assert not torch.equal(first.body[0].weight, student.body[0].weight)
    with pytest.raises(SRLibError):
        control.student_at(student, 2)

    torch.manual_seed(0)
    again = build("vdsr", scale=2, width=4, depth=4)
    hook = AdaptiveImportance(None, rounds=3, init="one", lr_step=1, lr_gamma=0.5)
    Trainer(again, data, cfg, hooks=[hook]).fit()  # resumes from the finished checkpoint
    assert sorted(hook.snapshots) == [0, 1]
    torch.testing.assert_close(hook.snapshots[0], control.snapshots[0])


def test_snapshots_are_the_students_that_set_the_next_rounds_weights(data):
    torch.manual_seed(0)
    teacher = build("vdsr", scale=2, width=8, depth=4)
    student = build("vdsr", scale=2, width=4, depth=4)
    hook = AdaptiveImportance(teacher, rounds=2)
    cfg = TrainConfig(iterations=4, batch_size=2, lr_patch=8, loss="l2", lr=1e-3,
                      progress=False)
    Trainer(student, data, cfg, hooks=[hook]).fit()
    for k, v in hook.previous.state_dict().items():
        torch.testing.assert_close(v, hook.snapshots[0][k])
    batch = data.batch(2, 8, 0, 0)
    lr, hr = batch["lr"], batch["hr"]
    g = teacher_importance((teacher(lr) - hr).abs())
    torch.testing.assert_close(hook.importance_at(student, lr, hr, 0), g)
    d = 10 * (hook.student_at(student, 0)(lr) - hr).abs()
    torch.testing.assert_close(hook.importance_at(student, lr, hr, 1),
                               importance_update(g, d, 0.15))
    assert hook.round == 1 and hook.previous is not None  # left as it was
