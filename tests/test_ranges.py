"""The range rule of sr_lib.ranges, checked on a model and its [0, 255] twin: with the converted
values, the gradient balances sr_lib sees on [0, 1] are the released code's on [0, 255]."""

import pytest
import torch
import torch.nn.functional as F

from sr_lib import ranges
from sr_lib.models import build
from sr_lib.pruning import GrowingRegularizer
from sr_lib.train import pixel_loss


def _model():
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8).double()
    with torch.no_grad():  # non-zero biases, so the twin differs from the model
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
    return model


def _batch():
    g = torch.Generator().manual_seed(1)
    hr = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    lr = hr[..., ::2, ::2].contiguous()
    return lr, hr


def test_twin_computes_the_same_function():
    model, (lr, _) = _model(), _batch()
    twin = ranges.twin_at_range(model)
    assert torch.allclose(twin(255 * lr), 255 * model(lr), rtol=1e-10, atol=1e-9)


def _penalty_ratios(model, lr, hr, rgb_range, delta, bias_factor):
    """(weights, biases): |penalty gradient| / |data gradient| of the pruned filters of one
    layer, the penalty applied by GrowingRegularizer after 37 increments of ``delta``."""
    conv = model.body[0].body[0]
    pixel_loss(model(rgb_range * lr), rgb_range * hr).backward()
    data_w, data_b = conv.weight.grad.clone(), conv.bias.grad.clone()
    reg = GrowingRegularizer(model, {"body.0.body.0": list(range(4))}, delta=delta,
                             bias_factor=bias_factor)
    reg.increments = 37

    class _T:  # after_backward reads nothing else from the trainer
        pass

    reg.after_backward(_T())
    pen_w = conv.weight.grad[4:] - data_w[4:]
    pen_b = conv.bias.grad[4:] - data_b[4:]
    return (float(pen_w.norm() / data_w[4:].norm()), float(pen_b.norm() / data_b[4:].norm()))


def test_srp_penalty_balance_matches_the_released_code():
    """SRP (seed 002): Delta 1e-4 on [0, 255] (released), converted for [0, 1]."""
    lr, hr = _batch()
    ours = _penalty_ratios(_model(), lr, hr, 1.0, ranges.penalty(1e-4), ranges.bias_factor())
    released = _penalty_ratios(ranges.twin_at_range(_model()), lr, hr, 255.0, 1e-4, 1.0)
    assert ours == pytest.approx(released, rel=1e-6)
    copied = _penalty_ratios(_model(), lr, hr, 1.0, 1e-4, 1.0)  # the value copied as it is
    assert copied[0] == pytest.approx(255 * released[0], rel=1e-6)  # 255 times too strong


def test_weight_decay_balance_matches_the_released_code():
    """DRN's search (seed 003): weight decay 3e-4 with an L1 loss on [0, 255]."""
    lr, hr = _batch()

    def ratio(model, rgb_range, decay):
        w = model.body[1].body[2].weight
        pixel_loss(model(rgb_range * lr), rgb_range * hr).backward()
        return float((decay * w.detach()).norm() / w.grad.norm())

    assert ratio(_model(), 1.0, ranges.penalty(3e-4)) == pytest.approx(
        ratio(ranges.twin_at_range(_model()), 255.0, 3e-4), rel=1e-6)


def test_drn_eq5_task_to_feature_balance_matches_the_released_code():
    """DRN's Eq. 5 (seed 003): the released code adds the feature MSE and the dual-regression
    L1 with gamma = 1 on [0, 255]; sr_lib's gamma for [0, 1] is 1/255."""
    lr, hr = _batch()

    def scores(model, rgb_range, gamma):
        """Per-channel DCP scores of the task and of the feature term, for one consumer."""
        reference = ranges.twin_at_range(_model(), rgb_range) if rgb_range > 1 else _model()
        conv = model.body[1].body[0]
        feats = {}
        h1 = reference.body[1].body[0].register_forward_hook(lambda m, i, o: feats.update(x=o))
        h2 = conv.register_forward_hook(lambda m, i, o: feats.update(x_hat=o))
        with torch.no_grad():
            conv.weight.mul_(0.5)  # a partly pruned consumer: its features differ
        sr = model(rgb_range * lr)
        with torch.no_grad():
            reference(rgb_range * lr)
        task = gamma * F.l1_loss(sr, rgb_range * hr)
        feat = F.mse_loss(feats["x_hat"], feats["x"])
        h1.remove()
        h2.remove()
        g_task = torch.autograd.grad(task, conv.weight, retain_graph=True)[0]
        g_feat = torch.autograd.grad(feat, conv.weight)[0]
        per_channel = [g.flatten(2).norm(dim=2).sum(0) for g in (g_task, g_feat)]
        return per_channel[0] / per_channel[1]

    ours = scores(_model(), 1.0, ranges.from_released(1.0, "dual", "feature_mse"))
    released = scores(ranges.twin_at_range(_model()), 255.0, 1.0)
    assert torch.allclose(ours, released, rtol=1e-6)
    copied = scores(_model(), 1.0, 1.0)
    assert torch.allclose(copied, 255 * released, rtol=1e-6)


def test_named_conversions():
    assert ranges.penalty(0.5) == pytest.approx(0.5 / 255)
    assert ranges.grad_clip(5.0) == pytest.approx(5 / 255)
    assert ranges.sgd_lr(0.1) == pytest.approx(25.5)
    assert ranges.from_released(1.0, "dual", "feature_mse") == pytest.approx(1 / 255)
    assert ranges.penalty(1e-3, loss="l2") == pytest.approx(1e-3 / 255**2)
