import math

import numpy as np
import pytest
import torch

from sr_lib.complexity import count_params
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.models import build
from sr_lib.models.isrrescnet import project_l2_ball
from sr_lib.noise import daubechies, estimate_sigma
from sr_lib.resize import imresize, operator_norm_sq
from sr_lib.train import TBPTT, TrainConfig, Trainer


def test_erd_parameter_counts_match_paper_table3():
    # ISRResCNet Table III: ERD ~380K without feedback, ~388K with FB = 4
    assert count_params(build("isrrescnet", scale=4).erd) == 380_355
    assert count_params(build("isrrescnet", scale=4, feedback=4).erd) == 388_803
    # plus one alpha and one extrapolation weight per iteration
    assert count_params(build("isrrescnet", scale=4, iterations=20)) == 380_355 + 40


def test_projection_is_the_proximal_map_of_the_ball():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(3, 2, 4, 4, dtype=torch.float64, generator=g)
    radius = torch.tensor([0.5, 100.0, 3.0], dtype=torch.float64)
    p = project_l2_ball(r, radius)
    for i in range(3):
        # generic solver: min ||q - r||^2 s.t. ||q|| <= eps, by bisection on the multiplier
        lo, hi = 0.0, 1e6
        for _ in range(200):
            mu = (lo + hi) / 2
            q = r[i] / (1 + mu)
            lo, hi = (mu, hi) if q.norm() > radius[i] else (lo, mu)
        q = r[i] / (1 + hi) if r[i].norm() > radius[i] else r[i]
        assert torch.allclose(p[i], q, atol=1e-8)
    assert torch.equal(p[1], r[1])  # inside the ball: unchanged


def test_daubechies_filters_and_sigma_estimate():
    assert np.allclose(daubechies(2), [0.48296291, 0.8365163, 0.22414387, -0.12940952])
    h = daubechies(7)
    assert len(h) == 14 and np.isclose((h**2).sum(), 1.0)
    assert all(abs(np.dot(h[: 14 - 2 * k], h[2 * k :])) < 1e-12 for k in range(1, 7))
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    smooth = (0.5 + 0.3 * torch.sin(xx / 9) * torch.cos(yy / 13)).expand(2, 3, 96, 96)
    noisy = smooth + torch.randn(smooth.shape, generator=g) * torch.tensor([5.0, 20.0]).view(
        2, 1, 1, 1) / 255
    sigma = estimate_sigma(noisy)
    assert sigma.shape == (2,) and abs(sigma[0] - 5) < 0.75 and abs(sigma[1] - 20) < 2


def test_initial_weights_follow_the_released_code():
    model = build("isrrescnet", scale=2, iterations=5)
    assert torch.allclose(torch.exp(model.log_alpha), torch.tensor([2.0, 2**0.75, 2**0.5,
                                                                    2**0.25, 1.0]))
    ext = torch.exp(model.log_extrapolation)[1:]
    assert torch.allclose(ext, torch.tensor([1 / 4, 2 / 5, 3 / 6, 4 / 7]))
    frozen = build("isrrescnet", scale=2, learn_extrapolation=False)
    assert not frozen.log_extrapolation.requires_grad
    with pytest.raises(SRLibError):
        build("isrrescnet", scale=2, data_step="fancy")


def test_data_step_reduces_the_residual_and_released_upsampler_interpolates():
    g = torch.Generator().manual_seed(0)
    model = build("isrrescnet", scale=2, features=8, blocks=1)
    hr = torch.rand(1, 3, 24, 24, dtype=torch.float64, generator=g)
    lr = imresize(hr, 0.5)
    x = torch.rand(1, 3, 24, 24, dtype=torch.float64, generator=g)
    z = model.data_fidelity_step(x, lr)
    assert (lr - model.H(z)).norm() < (lr - model.H(x)).norm()
    released = build("isrrescnet", scale=2, features=8, blocks=1, data_step="released")
    up = released.Ht(lr, (24, 24))
    assert torch.allclose(up[..., ::2, ::2], lr)  # HR pixel s*i is LR pixel i
    assert torch.equal(released.H(hr), hr[..., ::2, ::2])  # decimation


def test_unrolled_forward_and_tbptt_training(small_images):
    model = build("isrrescnet", scale=2, iterations=4, features=8, blocks=1)
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        outs = model(x, return_all=True)
    assert len(outs) == 4 and outs[-1].shape == (1, 3, 22, 26)
    assert 0 <= float(outs[-1].min()) and float(outs[-1].max()) <= 1
    data = SRDataset(small_images, 2)
    before = model.erd.encoder[1].parametrizations.weight.original1.detach().clone()
    cfg = TrainConfig(iterations=2, batch_size=2, lr_patch=12, lr=1e-3, progress=False)
    history = Trainer(model, data, cfg, hooks=[TBPTT(k1=2, k2=2)]).fit()
    assert math.isfinite(history.loss[-1])
    assert not torch.equal(before, model.erd.encoder[1].parametrizations.weight.original1)


def test_evaluate_iterations_matches_final_evaluation(small_images):
    from sr_lib.evaluate import evaluate, evaluate_iterations

    torch.manual_seed(0)
    model = build("isrrescnet", scale=2, iterations=3, features=8, blocks=1)
    data = SRDataset(small_images, 2)
    per_k = evaluate_iterations(model, data, progress=False)
    assert len(per_k) == 3
    final = evaluate(model, data, progress=False)
    assert per_k[-1].mean_psnr == pytest.approx(final.mean_psnr, abs=1e-6)
    ens = evaluate_iterations(model, data, ensemble=True, progress=False)
    assert ens[-1].mean_psnr == pytest.approx(
        evaluate(model, data, ensemble=True, progress=False).mean_psnr, abs=1e-4)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_default_step_is_the_tightest_majoriser(scale):
    """alpha = 1 / step must bound ||H^T H|| (the majoriser condition) and be close to it."""
    model = build("isrrescnet", scale=scale, features=8, blocks=1)
    assert model.step_size == scale**2
    norm = operator_norm_sq((12 * scale, 12 * scale), 1 / scale)  # exact
    assert norm * model.step_size == pytest.approx(1, abs=1e-12)  # alpha = ||H^T H||: tight
    assert build("isrrescnet", scale=scale, data_step="released").step_size == 1.0
    with pytest.raises(SRLibError):
        build("isrrescnet", scale=scale, step_size=0.0)


def test_tight_step_is_iterative_back_projection():
    """Without the denoiser, repeated data steps decrease ||y - Hx|| monotonically; the tight
    step gets much closer to data consistency than the unit step in the same number of steps."""
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(1, 3, 32, 32, dtype=torch.float64, generator=g)
    lr = imresize(hr, 1 / 4)
    tight = build("isrrescnet", scale=4, features=8, blocks=1)
    unit = build("isrrescnet", scale=4, features=8, blocks=1, step_size=1.0)
    x0 = torch.nn.functional.interpolate(lr, size=(32, 32), mode="bilinear", align_corners=True)
    res = {}
    for name, model in (("tight", tight), ("unit", unit)):
        x, norms = x0, []
        for _ in range(10):
            x = model.data_fidelity_step(x, lr)
            norms.append(float((lr - model.H(x)).norm()))
        assert all(b <= a + 1e-12 for a, b in zip(norms, norms[1:]))
        res[name] = norms[-1]
    assert res["tight"] < 0.1 * res["unit"]


def test_back_projection_is_isrrescnet_without_its_denoiser():
    # zero parameters; its K steps are exactly the model's data step, clipped, from its start
    torch.manual_seed(0)
    lr = torch.rand(1, 3, 10, 12)
    bp = build("back-projection", scale=2, iterations=3)
    assert count_params(bp) == 0
    isr = build("isrrescnet", scale=2, iterations=3, features=4, blocks=1)
    x = isr.init_state(lr)["x"]
    outs = bp(lr, return_all=True)
    assert len(outs) == 3
    for out in outs:
        x = isr.data_fidelity_step(x, lr).clamp(0, 1)
        assert torch.allclose(out, x)
    assert torch.equal(bp(lr), outs[-1])
    # the exact pair's steps pull H x towards y; the literal step 1 moves far less
    y_err = lambda m, out: float((m.H(out) - lr).norm())  # noqa: E731
    start = bp.start(lr)
    unit = build("back-projection", scale=2, iterations=3, step_size=1.0)
    assert y_err(bp, outs[-1]) < 0.5 * y_err(bp, start)
    assert y_err(bp, outs[-1]) < y_err(unit, unit(lr)) < y_err(bp, start)
    with pytest.raises(SRLibError, match="x0"):
        build("back-projection", x0="nearest")


def test_trace_matches_the_forward_pass_and_reports_the_projection():
    torch.manual_seed(0)
    model = build("isrrescnet", scale=2, iterations=3, features=8, blocks=1).eval()
    lr = torch.rand(2, 3, 8, 8)
    steps = model.trace(lr)
    with torch.no_grad():
        outs = model(lr, return_all=True)
    assert len(steps) == 3
    for step, out in zip(steps, outs):
        assert torch.allclose(step["x"], out)
        assert step["residual_norm"].shape == step["radius"].shape == (2,)
        # x = clip(z - P(r)): the step from z is never longer than the ball's radius
        moved = (step["z"] - step["x"]).flatten(1).norm(dim=1)
        unclipped = ((step["z"] >= 0) & (step["z"] <= 1)).all()
        if unclipped:
            assert (moved <= step["radius"] * (1 + 1e-5)).all()


def test_trace_iterations_scores_each_step():
    from sr_lib.evaluate import evaluate_iterations, trace_iterations

    rng = np.random.default_rng(0)
    data = SRDataset([rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(2)], 2)
    model = build("isrrescnet", scale=2, iterations=2, features=4, blocks=1)
    out = trace_iterations(model, data, progress=False)
    assert set(out) == {"z_psnr", "x_psnr", "binding"}
    assert len(out["x_psnr"]) == 3 and len(out["z_psnr"]) == len(out["binding"]) == 2
    per_k = evaluate_iterations(model, data, progress=False)
    assert out["x_psnr"][1:] == pytest.approx([r.mean_psnr for r in per_k], abs=1e-6)
    start = evaluate_iterations(build("back-projection", scale=2, iterations=1, step_size=1e-9),
                                data, progress=False)[0].mean_psnr  # a negligible step: x(0)
    assert out["x_psnr"][0] == pytest.approx(start, abs=1e-3)
    assert all(0 <= b <= 1 for b in out["binding"])
    with pytest.raises(SRLibError, match="trace"):
        trace_iterations(build("bicubic", scale=2), data, progress=False)
