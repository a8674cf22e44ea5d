"""Fast paths that must give the slow paths' numbers: exact tiling at the receptive field,
the batched self-ensemble, SSIM against scikit-image, scoring on the images' device."""

import math

import pytest
import torch

from sr_lib.evaluate import forward_tiled, self_ensemble, super_resolve
from sr_lib.metrics import _ssim_map, psnr, ssim
from sr_lib.models import build
from sr_lib.receptive import receptive_field


def _trained_like(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights with the scale of trained ones, non-zero biases and a live residual
    branch, so every path of the receptive field carries signal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / p[0].numel()))
    return model.eval()


@pytest.mark.parametrize("name,scale,options,expected", [
    ("edsr-baseline", 2, {"n_resblocks": 2, "n_feats": 8}, 8),  # 1 + 2*2 + 1 + 1 LR, 1 HR
    ("vdsr", 2, {"width": 4, "depth": 4}, 4),  # 4 HR convs + bicubic's 2 LR taps
])
def test_receptive_field_of_plain_chains(name, scale, options, expected):
    assert receptive_field(build(name, scale=scale, **options)) == expected


def test_global_models_have_no_radius():
    rcan = build("rcan", scale=2, n_resgroups=1, n_resblocks=1, n_feats=16)
    isr = build("isrrescnet", scale=2, iterations=1, features=8, blocks=1)
    assert receptive_field(rcan) is None and receptive_field(isr) is None
    with pytest.warns(UserWarning, match="whole image"):
        forward_tiled(rcan.eval(), torch.rand(1, 3, 20, 20), 2, tile=8)


@pytest.mark.parametrize("name,options", [
    ("edsr-baseline", {"n_resblocks": 4, "n_feats": 16}),
    ("vdsr", {"width": 8, "depth": 6}),
    ("prosr-s", {}),
])
def test_tiled_output_is_exact_at_the_default_overlap(name, options):
    model = _trained_like(build(name, scale=2, **options)).double()  # float64: rounding of
    channels = getattr(model, "in_channels", 3)  # different conv algorithms stays far below
    x = torch.rand(1, channels, 45, 53, generator=torch.Generator().manual_seed(1),
                   dtype=torch.float64)
    with torch.no_grad():
        whole = model(x)
        tiled = forward_tiled(model, x, 2, tile=16)  # overlap: the model's radius
        short = forward_tiled(model, x, 2, tile=16, overlap=receptive_field(model) - 2)
    exact_err, short_err = (tiled - whole).abs().max(), (short - whole).abs().max()
    assert exact_err < 1e-10
    assert short_err > 100 * exact_err  # a narrower overlap really is wrong


@pytest.mark.parametrize("shape", [(1, 3, 12, 12), (2, 3, 11, 14)])
def test_batched_ensemble_equals_one_by_one(shape):
    model = _trained_like(build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8))
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(2))
    calls = []

    def fn(t):
        calls.append(t.shape[0])
        return model(t)

    with torch.no_grad():
        batched = self_ensemble(fn, x, batched=True)
        n_batched = len(calls)
        single = self_ensemble(fn, x, batched=False)
    assert n_batched == (1 if shape[-1] == shape[-2] else 2)
    assert torch.allclose(batched, single, atol=1e-6)


def test_ssim_equals_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(3)
    a = (torch.rand(1, 1, 67, 45, generator=g) * 255).round().double()
    b = (a + 9 * torch.randn(a.shape, generator=g)).clamp(0, 255)
    ours = float(_ssim_map(a, b).mean())
    ref = metrics.structural_similarity(a[0, 0].numpy(), b[0, 0].numpy(), gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, data_range=255)
    assert ours == pytest.approx(ref, abs=1e-12)


def test_scores_stay_on_the_device_and_in_float64():
    seen = []
    real = torch.Tensor.to

    def spy(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        seen.append((out.device.type, out.dtype))
        return out

    hr = torch.rand(3, 24, 24)
    sr = (hr + 0.05 * torch.randn(3, 24, 24)).clamp(0, 1)
    torch.Tensor.to = spy
    try:
        value = psnr(sr, hr, 2)
    finally:
        torch.Tensor.to = real
    assert ("cpu", torch.float64) in seen and all(d == "cpu" for d, _ in seen)
    assert value == pytest.approx(psnr(sr.double(), hr.double(), 2), abs=1e-12)
    assert 0 < ssim(sr, hr, 2) < 1


def test_super_resolve_tiled_default_is_exact():
    model = _trained_like(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8))
    x = torch.rand(3, 30, 41, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(super_resolve(model, x, tile=12), super_resolve(model, x), atol=1e-5)


def test_evaluate_returns_the_model_to_its_device_and_mode(monkeypatch, tmp_path):
    """A chapter keeps its networks on the CPU while evaluate() runs them on the best device,
    even when scoring fails part-way."""
    import importlib

    import numpy as np
    import pytest
    import torch

    from sr_lib.imageio import write_image
    from sr_lib.models import build

    write_image(tmp_path / "a.png", np.random.default_rng(0).integers(0, 256, (12, 12, 3),
                                                                        dtype=np.uint8))
    ev = importlib.import_module("sr_lib.evaluate")  # the module, not the function
    net = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4).train()
    moves = []

    def to(device, *args, **kwargs):  # records the moves; the weights stay where they are
        moves.append(torch.device(device))
        return net

    monkeypatch.setattr(net, "to", to)
    monkeypatch.setattr(ev, "pick_device", lambda device=None: torch.device("meta"))
    with pytest.raises((RuntimeError, NotImplementedError)):  # CPU weights, meta input
        ev.evaluate(net, tmp_path, progress=False)
    assert moves == [torch.device("meta"), torch.device("cpu")] and net.training
