import math

import pytest
import torch

from sr_lib import catalog
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.evaluate import evaluate, forward_tiled, self_ensemble, super_resolve
from sr_lib.imageio import quantize
from sr_lib.metrics import psnr, ssim
from sr_lib.models import build

# Literature bicubic row on Set5 (e.g. VDSR / EDSR / RCAN tables): PSNR, SSIM
SET5_BICUBIC = {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)}


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
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_set5_bicubic_anchor(data_root, scale):
    result = evaluate(build("bicubic", scale=scale), catalog.load("Set5", scale, data_root),
                      progress=False)
    p, s = SET5_BICUBIC[scale]
    assert abs(result.mean_psnr - p) <= 0.03
    assert abs(result.mean_ssim - s) <= 0.002


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
