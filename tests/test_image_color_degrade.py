import numpy as np
import pytest
import torch
from PIL import Image

from sr_lib.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from sr_lib.degrade import Degradation, gaussian_kernel, modcrop
from sr_lib.errors import SRLibError
from sr_lib.imageio import (
    quantize,
    read_image,
    tensor_to_uint8,
    to_rgb,
    uint8_to_tensor,
    write_image,
)


def test_read_modes(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    for suffix in (".png", ".bmp"):
        Image.fromarray(rgb).save(tmp_path / f"a{suffix}")
        assert np.array_equal(read_image(tmp_path / f"a{suffix}"), rgb)
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    assert read_image(tmp_path / "a.jpg").shape == (9, 7, 3)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").shape == (9, 7, 1)
    rgba = np.dstack([rgb, np.zeros((9, 7), np.uint8)])  # fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert (read_image(tmp_path / "t.png") == 255).all()  # composited on white
    wide = (np.arange(63, dtype=np.uint16).reshape(9, 7) * 1000)
    Image.fromarray(wide).save(tmp_path / "w.png")
    out = read_image(tmp_path / "w.png")
    assert out.dtype == np.uint8 and out[-1, -1, 0] == round(62000 / 65535 * 255)


def test_bad_files_get_clear_errors(tmp_path):
    (tmp_path / "not.png").write_text("hello")
    with pytest.raises(SRLibError, match="not an image"):
        read_image(tmp_path / "not.png")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(SRLibError):
        read_image(tmp_path / "cut.png")
    with pytest.raises(SRLibError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_uint8_roundtrip_and_write(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    t = uint8_to_tensor(img)
    assert t.shape == (3, 5, 6) and t.max() <= 1
    assert np.array_equal(tensor_to_uint8(t), img)
    write_image(tmp_path / "o.png", t)
    assert np.array_equal(read_image(tmp_path / "o.png"), img)
    assert np.array_equal(to_rgb(img[:, :, :1])[:, :, 2], img[:, :, 0])
    expected = torch.tensor([1 / 255, 0, 1])
    assert torch.equal(quantize(torch.tensor([0.5 / 255, -0.2, 1.3])), expected)


def test_ycbcr_matches_matlab_values():
    # MATLAB rgb2ycbcr(double([1 0 0; 0 1 0; 0 0 1; 1 1 1; 0 0 0])) * 255 (BT.601 table values)
    rgb = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]],
                       dtype=torch.float64).T.reshape(3, 5, 1)
    ycc = rgb_to_ycbcr(rgb)[:, :, 0].T * 255
    expected = torch.tensor([[81.481, 90.203, 240.0], [144.553, 53.797, 34.214],
                             [40.966, 240.0, 109.786], [235.0, 128.0, 128.0], [16.0, 128, 128]],
                            dtype=torch.float64)
    assert torch.allclose(ycc, expected, atol=1e-3)
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x)
    assert rgb_to_y(x).shape == (2, 1, 4, 4)


def test_modcrop_and_degradations():
    hr = torch.rand(1, 3, 25, 31)
    assert modcrop(hr, 4).shape[-2:] == (24, 28)
    hr = modcrop(hr, 4)
    for kind in ("BI", "BD", "DN", "nearest"):
        lr = Degradation(kind, 4)(hr, generator=torch.Generator().manual_seed(0))
        assert lr.shape[-2:] == (6, 7)
        assert torch.equal(lr, quantize(lr))  # 8-bit, like LR files
    assert torch.allclose(gaussian_kernel().sum(), torch.tensor(1.0, dtype=torch.float64))
    # nearest keeps the pixel MATLAB keeps: index floor(s/2) of each s-block
    ramp = torch.arange(12.0).repeat(12, 1)[None, None] / 255
    near = Degradation("nearest", 3, quantize=False)(ramp)
    assert torch.allclose(near[0, 0, 0] * 255, torch.tensor([1.0, 4, 7, 10]))
    with pytest.raises(SRLibError, match="multiple"):
        Degradation("BI", 4)(torch.rand(1, 3, 10, 12))
    with pytest.raises(SRLibError):
        Degradation("XX", 2)


@pytest.mark.parametrize("channels", [1, 3])
def test_streamed_png_is_pixel_identical(tmp_path, channels):
    import io

    from sr_lib.imageio import write_png_stream

    g = np.random.default_rng(0)
    img = g.integers(0, 256, (37, 29, channels), dtype=np.uint8)
    buf = io.BytesIO()
    write_png_stream(buf, img if channels == 3 else img[:, :, 0], rows_per_chunk=5)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    assert np.array_equal(back.reshape(img.shape), img)
