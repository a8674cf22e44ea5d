import math

import pytest
import torch

from sr_lib import catalog
from sr_lib.color import rgb_to_gray, rgb_to_y
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.evaluate import evaluate, forward_tiled, self_ensemble, super_resolve
from sr_lib.imageio import quantize
from sr_lib.metrics import psnr, ssim
from sr_lib.models import build
from sr_lib.resize import imresize

# The standard MATLAB bicubic rows most SR papers print (VDSR, EDSR, RCAN, ...): PSNR, SSIM.
STANDARD_BICUBIC = {
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
    ("B100", 2): (29.56, 0.8431), ("B100", 3): (27.21, 0.7385), ("B100", 4): (25.96, 0.6675),
}


def test_psnr_known_value():
    hr = torch.zeros(1, 20, 20)
    sr = torch.full((1, 20, 20), 10 / 255)
    assert psnr(sr, hr) == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr(hr, hr) == math.inf
    assert ssim(hr + 128 / 255, hr + 128 / 255) == pytest.approx(1.0)


def test_shave_and_quantize_matter():
    g = torch.Generator().manual_seed(0)
    hr = quantize(torch.rand(3, 32, 32, generator=g))
    sr = hr.clone()
    sr[:, :2] = 0  # damage only the border
    assert psnr(sr, hr, shave=2) > 100  # identical up to float rounding
    assert psnr(sr, hr, shave=0) < 40
    noisy = hr + 0.4 / 255  # below half a grey level: disappears after quantisation
    assert psnr(noisy, (hr * 255).round() / 255) > psnr(noisy, hr, do_quantize=False) - 1


def test_ssim_decreases_with_noise():
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(3, 40, 40, generator=g)
    a = ssim(hr + 0.02 * torch.randn(hr.shape, generator=g), hr)
    b = ssim(hr + 0.1 * torch.randn(hr.shape, generator=g), hr)
    assert 1 > a > b > 0


def test_metric_errors():
    with pytest.raises(SRLibError, match="modcrop"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))
    with pytest.raises(SRLibError, match="shave"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8), shave=4)


@pytest.mark.data
@pytest.mark.parametrize("name,scale", sorted(STANDARD_BICUBIC))
def test_standard_bicubic_table(data_root, name, scale):
    """All nine cells of the literature's bicubic table (Set14 holds the grayscale bridge)."""
    result = evaluate(build("bicubic", scale=scale), catalog.load(name, scale, data_root),
                      progress=False)
    p, s = STANDARD_BICUBIC[name, scale]
    assert abs(result.mean_psnr - p) <= 0.03, (name, scale, result.mean_psnr)
    assert abs(result.mean_ssim - s) <= 0.002, (name, scale, result.mean_ssim)


@pytest.mark.data
def test_grayscale_image_scored_on_its_own_channel(data_root):
    """bridge.png is one-channel: its LR/HR stay one channel in an RGB set, and an RGB model's
    output is reduced back to grey; replicating it and taking Y would add 1.32 dB."""
    data = catalog.load("Set14", 2, data_root, channels="rgb")
    i = data.names.index("bridge")
    assert data[i]["hr"].shape[0] == 1 and data[i]["lr"].shape[0] == 1
    one = evaluate(build("bicubic", scale=2), data, progress=False).psnr[i]
    rgb_model = build("bicubic", scale=2, in_channels=3)
    rgb_model.any_channels = False  # behave like a 3-channel network
    three = evaluate(rgb_model, data, progress=False).psnr[i]
    assert three == pytest.approx(one, abs=1e-6)
    replicated = psnr(imresize(data[i]["lr"], 2).expand(3, -1, -1),
                      data[i]["hr"].expand(3, -1, -1), shave=2)
    assert replicated - one == pytest.approx(20 * math.log10(255 / 219), abs=0.02)


def test_rgb_model_on_gray_image_returns_gray():
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8).eval()
    out = super_resolve(model, torch.rand(1, 12, 10))
    assert out.shape == (1, 24, 20)
    rgb = torch.rand(3, 5, 4)
    assert torch.allclose(rgb_to_gray(rgb.mean(0, keepdim=True).expand(3, -1, -1)),
                          rgb.mean(0, keepdim=True), atol=1e-6)
    assert torch.allclose(rgb_to_y(rgb_to_gray(rgb).expand(3, -1, -1)), rgb_to_y(rgb),
                          atol=1e-6)


def test_tiled_equals_full():
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8).eval()
    x = torch.rand(1, 3, 37, 45)
    with torch.no_grad():
        full = model(x)
        tiled = forward_tiled(model, x, 2, tile=16, overlap=8)  # 7 convs: radius 7 < 8
    assert torch.allclose(full, tiled, atol=1e-5)


def test_self_ensemble_of_bicubic_is_bicubic():
    model = build("bicubic", scale=3)
    x = torch.rand(1, 3, 11, 14, dtype=torch.float64)
    assert torch.allclose(self_ensemble(model, x), model(x), atol=1e-10)


def test_evaluate_y_model_on_rgb(small_images):
    data = SRDataset(small_images, 2)
    model = build("vdsr", scale=2, width=4, depth=3)
    torch.nn.init.zeros_(model.body[-1].weight)  # VDSR with zero residual = bicubic on Y
    ycc = evaluate(model, data, progress=False)
    bic = evaluate(build("bicubic", scale=2), data, progress=False)
    assert ycc.mean_psnr == pytest.approx(bic.mean_psnr, abs=0.05)
    out = super_resolve(model, data[0]["lr"])
    assert out.shape == data[0]["hr"].shape


def test_evaluate_scale_mismatch(small_images):
    with pytest.raises(SRLibError, match="x3"):
        evaluate(build("bicubic", scale=2), SRDataset(small_images, 3), progress=False)


def test_bicubic_model_accepts_y_and_rgb(small_images):
    model = build("bicubic", scale=2)
    for channels in ("rgb", "y"):
        item = SRDataset(small_images, 2, channels=channels)[0]
        assert super_resolve(model, item["lr"]).shape == item["hr"].shape


@pytest.mark.parametrize("make,match", [
    (lambda t: (t * 255).to(torch.uint8), "dtype"), (lambda t: t * 255, "divide"),
    (lambda t: t.masked_fill(t > 0.5, float("nan")), "NaN")])
def test_metrics_refuse_wrong_input(make, match):
    hr = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0))
    for fn in (psnr, ssim):
        with pytest.raises(SRLibError, match=match):
            fn(make(hr), make(hr))
    with pytest.raises(SRLibError, match="shave"):
        psnr(hr, hr, shave=-1)


def test_identical_images_are_infinite_and_flagged():
    hr = quantize(torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(0)))
    assert psnr(hr, hr) == math.inf
    from sr_lib.evaluate import EvalResult

    r = EvalResult(2)
    r.add("same", hr, hr, 2)
    r.add("noisy", (hr + 0.05).clamp(0, 1), hr, 2)
    assert r.perfect == ["same"] and r.mean_psnr == pytest.approx(r.psnr[1])
    assert r.as_dict()["per_image"][0]["psnr"] is None and "1 perfect" in repr(r)


def test_dataset_refuses_float_arrays():
    import numpy as np

    with pytest.raises(SRLibError, match="uint8"):
        SRDataset([np.random.rand(32, 32, 3)], 2)


def test_unrounded_y_ground_truth_is_not_rounded():
    """A Y model is scored against the unrounded Y of the HR image (the MATLAB scripts'
    im2double + rgb2ycbcr); only 8-bit data is snapped back to its grid."""
    g = torch.Generator().manual_seed(1)
    rgb = quantize(torch.rand(3, 30, 30, generator=g))
    hr_y = rgb_to_y(rgb.double())
    sr_y = quantize(hr_y + 0.01 * torch.randn(hr_y.shape, generator=g, dtype=torch.float64))
    mse = float(((sr_y - hr_y) * 255).pow(2).mean())
    assert psnr(sr_y, hr_y) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


@pytest.mark.parametrize("y_model", [False, True])
def test_tiled_uint8_evaluation_matches_whole_image(small_images, y_model):
    torch.manual_seed(0)
    if y_model:
        model = build("vdsr", scale=2, width=4, depth=4)  # receptive field 4 < overlap 16
    else:
        model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4)
    data = SRDataset(small_images, 2)
    whole = evaluate(model, data, progress=False)
    tiled = evaluate(model, data, tile=16, progress=False)
    # equal up to the rare 8-bit rounding flip that float convolution order can cause
    assert tiled.psnr == pytest.approx(whole.psnr, abs=1e-4)
    assert tiled.ssim == pytest.approx(whole.ssim, abs=1e-4)
    sr = torch.randint(0, 256, (3, 40, 37), dtype=torch.uint8, generator=torch.Generator())
    hr = torch.randint(0, 256, (3, 40, 37), dtype=torch.uint8)
    from sr_lib.metrics import scores_uint8

    p, q = scores_uint8(sr, hr, 2, block=7)  # several row blocks, exactly the same numbers
    assert p == pytest.approx(psnr(sr.float() / 255, hr.float() / 255, 2), abs=1e-9)
    assert q == pytest.approx(ssim(sr.float() / 255, hr.float() / 255, 2), abs=1e-12)
