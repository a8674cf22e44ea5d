"""ONNX export: every registered network (at a small size) and the pruned ones export with a
symbolic image size, and ONNX Runtime gives PyTorch's output to 1e-5 at two image sizes and on
a real image; the networks that cannot export are named with the reason."""

import pytest
import torch

from sr_lib.errors import SRLibError
from sr_lib.models import build, names
from sr_lib.resize import imresize, upscale_by_convolution

ort = pytest.importorskip("onnxruntime")
from sr_lib.export import NOT_EXPORTABLE, check_onnx, export_onnx  # noqa: E402

SMALL = {"edsr": dict(n_resblocks=2, n_feats=16), "edsr-baseline": dict(n_resblocks=2),
         "rcan": dict(n_resgroups=1, n_resblocks=1, n_feats=16),
         "srpn": dict(n_resgroups=1, n_resblocks=1), "srpn-lite": dict(n_resblocks=2),
         "drn": dict(n_blocks=1, n_feats=4), "drn-s": dict(n_blocks=1, n_feats=8),
         "drn-l": dict(n_blocks=1, n_feats=8), "drrn": dict(units=2, width=8),
         "vdsr": dict(depth=4, width=8), "srcnn": {},
         **{n: dict(features=8, growth=4, dcus=(1, 1, 1), layers=2, max_features=16)
            for n in ("prosr", "prosr-s", "prosr-l")},
         "prosr-pre": dict(features=8, growth=4, dcus=1, layers=2),
         "isrrescnet": dict(iterations=2, features=8, blocks=1, feedback=1),
         "back-projection": dict(iterations=2)}


def real_image(channels):
    """A 24x20 LR crop of a real photograph (scikit-image's astronaut), downscaled by 4."""
    from sr_lib.catalog import sample_images
    from sr_lib.color import rgb_to_y
    from sr_lib.imageio import uint8_to_tensor

    hr = uint8_to_tensor(sample_images(("astronaut",))[0])[:, 100:196, 150:230]
    lr = imresize(hr[None].double(), 1 / 4).clamp(0, 1).float()
    return rgb_to_y(lr) if channels == 1 else lr


def small(name, scale):
    return build(name, scale=scale, **SMALL.get(name, {}))


@pytest.mark.parametrize("name", [n for n in names() if n not in NOT_EXPORTABLE])
def test_every_registered_network_exports_for_any_image_size(name):
    scale = 4 if name.startswith(("drn", "prosr")) else 2
    torch.manual_seed(0)
    model = small(name, scale).eval()
    data = export_onnx(model, name=name)
    from sr_lib.export import input_channels

    worst = check_onnx(model, data, inputs=[real_image(input_channels(model))])
    assert worst < 1e-5, f"{name}: ONNX Runtime differs from PyTorch by {worst:.1e}"


def test_pruned_networks_export():
    from sr_lib.pruning import (
        analyze,
        internal_pairs,
        keep_channels,
        plan_srp,
        prune,
        select_l1,
        uniform_widths,
    )

    torch.manual_seed(0)
    dense = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=16)
    cut = prune(dense, analyze(dense), plan_srp(dense, analyze(dense), 0.5))  # SRP's cut
    drn = build("drn", scale=4, n_blocks=1, n_feats=8)
    pairs = internal_pairs(drn)
    slim = keep_channels(drn, pairs, select_l1(drn, pairs, uniform_widths(drn, pairs, 0.3)))
    for model in (cut, slim):
        assert check_onnx(model, export_onnx(model)) < 1e-5


def test_an_option_bound_to_one_image_size_is_refused_with_the_reason():
    assert not NOT_EXPORTABLE  # every registered network exports
    model = build("isrrescnet", scale=2, iterations=1, features=4, blocks=1,
                  data_step="released")
    with pytest.raises(SRLibError, match="data_step='released' cannot be exported for any "
                                         "image size: the released code's data step"):
        export_onnx(model, name="isrrescnet")


@pytest.mark.parametrize("s", [2, 3, 4])
def test_downscaling_and_its_adjoint_by_convolution_are_imresize_and_its_adjoint(s):
    from sr_lib.resize import (
        downscale_adjoint_by_convolution,
        downscale_by_convolution,
        imresize_adjoint,
    )

    for hw in ((24, 12), (12, 36)):
        x = torch.rand(2, 3, *hw, dtype=torch.float64)
        y = torch.rand(2, 3, hw[0] // s, hw[1] // s, dtype=torch.float64)
        assert torch.allclose(downscale_by_convolution(x, s), imresize(x, 1 / s), atol=1e-12)
        assert torch.allclose(downscale_adjoint_by_convolution(y, s),
                              imresize_adjoint(y, hw, 1 / s), atol=1e-12)


@pytest.mark.parametrize("s", [2, 3, 4, 8])
def test_upscaling_by_convolution_is_imresize(s):
    for hw in ((3, 5), (16, 11)):
        x = torch.rand(2, 3, *hw, dtype=torch.float64)
        assert torch.allclose(upscale_by_convolution(x, s), imresize(x, s), atol=1e-12)


def test_cli_export(tmp_path, capsys):
    from sr_lib.cli import main

    out = tmp_path / "vdsr.onnx"
    assert main(["export", str(out), "--model", "vdsr", "--scale", "2", "--depth", "3",
                 "--width", "4"]) == 0
    said = capsys.readouterr().out
    assert out.exists() and "ONNX Runtime against PyTorch" in said and "any image size" in said
    rgb = tmp_path / "vdsr_rgb.onnx"
    assert main(["export", str(rgb), "--model", "vdsr", "--scale", "2", "--depth", "3",
                 "--width", "4", "--rgb"]) == 0
    session = ort.InferenceSession(str(rgb), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1] == 3  # a photograph in, a photograph out


def test_on_rgb_is_the_y_convention_and_exports():
    """A Y network on a photograph: Y through the network, chroma by MATLAB bicubic, clamped;
    the wrapper's 1x1-convolution colour maps equal sr_lib.color's, and it exports."""
    from sr_lib.color import rgb_to_ycbcr, ycbcr_to_rgb
    from sr_lib.export import OnRGB

    torch.manual_seed(0)
    net = small("vdsr", 2).eval()
    x = real_image(3)
    with torch.no_grad():
        ycc = rgb_to_ycbcr(x)
        want = ycbcr_to_rgb(torch.cat([net(ycc[:, :1]), imresize(ycc[:, 1:], 2)], 1))
        got = OnRGB(net, 2)(x)
    assert got.shape == (1, 3, 48, 40)
    assert torch.allclose(got, want.clamp(0, 1), atol=1e-5)
    wrapped = OnRGB(net, 2)
    assert check_onnx(wrapped, export_onnx(wrapped), inputs=[x]) < 1e-5
    rgb_net = small("edsr-baseline", 2).eval()
    with torch.no_grad():
        assert torch.equal(OnRGB(rgb_net, 2)(x), rgb_net(x).clamp(0, 1))
    with pytest.raises(SRLibError, match="1 \\(Y\\) or 3"):
        OnRGB(torch.nn.Conv2d(2, 2, 3), 2)
