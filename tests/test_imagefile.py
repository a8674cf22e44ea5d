"""`upscale` keeps what a user's file holds: its alpha plane and its 16 bits; where the output
format cannot hold them, it says what it dropped."""

import io

import numpy as np
import png
import pytest
import torch
from PIL import Image

from sr_lib import cli
from sr_lib.evaluate import super_resolve, super_resolve_uint8
from sr_lib.imagefile import ImageFile, read_image_file, write_image_file
from sr_lib.imageio import write_png_stream
from sr_lib.models import build


def _read16(path):
    """A PNG read by pypng: the reference decoder for 16-bit files."""
    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows])
    return arr.reshape(height, width, info["planes"]), info


def _upscale(src, dst, capsys, *more):
    code = cli.main(["upscale", str(src), str(dst), "--model", "bicubic", "--scale", "2",
                     *more])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return cap.out, cap.err


def _bicubic_uint8(planes: np.ndarray) -> np.ndarray:
    lr = torch.from_numpy(np.ascontiguousarray(planes.transpose(2, 0, 1)))
    return super_resolve_uint8(build("bicubic", scale=2), lr).permute(1, 2, 0).numpy()


def test_rgba_keeps_its_alpha_plane(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (18, 22, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "in.png")
    out, _ = _upscale(tmp_path / "in.png", tmp_path / "out.png", capsys)
    assert "alpha upscaled bicubically" in out
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "RGBA" and im.size == (44, 36)
        got = np.asarray(im)
    # the colour is the model's upscale of the stored colour (not composited onto white) ...
    assert np.array_equal(got[:, :, :3], _bicubic_uint8(rgba[:, :, :3]))
    # ... and the alpha plane is upscaled bicubically, plane by plane
    assert np.array_equal(got[:, :, 3:], _bicubic_uint8(rgba[:, :, 3:]))


def test_grey_with_alpha_and_transparent_palette(tmp_path, capsys):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (10, 12, 2), dtype=np.uint8)).save(tmp_path / "la.png")
    _upscale(tmp_path / "la.png", tmp_path / "la_x2.png", capsys)
    with Image.open(tmp_path / "la_x2.png") as im:
        assert im.mode == "LA" and im.size == (24, 20)
    pal = Image.fromarray(rng.integers(0, 4, (10, 12), dtype=np.uint8), mode="L").convert("P")
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    _upscale(tmp_path / "p.png", tmp_path / "p_x2.png", capsys)
    with Image.open(tmp_path / "p_x2.png") as im:
        assert im.mode == "RGBA"


def test_16_bit_rgb_stays_16_bit(tmp_path, capsys):
    rng = np.random.default_rng(2)
    c16 = rng.integers(0, 65536, (16, 20, 3), dtype=np.uint16)
    write_image_file(tmp_path / "in.png", ImageFile(c16))
    assert np.array_equal(_read16(tmp_path / "in.png")[0], c16)  # a valid 16-bit PNG
    out, err = _upscale(tmp_path / "in.png", tmp_path / "out.png", capsys)
    assert "16-bit" in out and err == ""
    got, info = _read16(tmp_path / "out.png")
    assert info["bitdepth"] == 16 and got.shape == (32, 40, 3)
    x = torch.from_numpy(c16.astype(np.float32).transpose(2, 0, 1)) / 65535
    ref = super_resolve(build("bicubic", scale=2), x).mul(65535).add(0.5).floor().clamp(0, 65535)
    assert np.array_equal(got, ref.permute(1, 2, 0).numpy().astype(np.uint16))
    assert np.any(got % 257)  # not an 8-bit result stretched to 16 bits


def test_16_bit_grey_tiled_equals_whole(tmp_path, capsys):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 65536, (21, 17), dtype=np.uint16)).save(tmp_path / "g.png")
    assert read_image_file(tmp_path / "g.png").bits == 16
    _upscale(tmp_path / "g.png", tmp_path / "whole.png", capsys)
    _upscale(tmp_path / "g.png", tmp_path / "tiled.png", capsys, "--tile", "6")
    whole, info = _read16(tmp_path / "whole.png")
    assert info["bitdepth"] == 16 and info["planes"] == 1
    assert np.array_equal(whole, _read16(tmp_path / "tiled.png")[0])


def test_16_bit_tiff_with_alpha(tmp_path, capsys):
    pytest.importorskip("tifffile")
    rng = np.random.default_rng(4)
    c16 = rng.integers(0, 65536, (12, 14, 3), dtype=np.uint16)
    a16 = rng.integers(0, 65536, (12, 14, 1), dtype=np.uint16)
    write_image_file(tmp_path / "in.tif", ImageFile(c16, a16))
    back = read_image_file(tmp_path / "in.tif")
    assert np.array_equal(back.color, c16) and np.array_equal(back.alpha, a16)
    _upscale(tmp_path / "in.tif", tmp_path / "out.tif", capsys)
    up = read_image_file(tmp_path / "out.tif")
    assert up.bits == 16 and up.color.shape == (24, 28, 3) and up.alpha.shape == (24, 28, 1)


def test_a_format_that_cannot_hold_it_says_what_was_dropped(tmp_path, capsys):
    rng = np.random.default_rng(5)
    write_image_file(tmp_path / "in.png", ImageFile(
        rng.integers(0, 65536, (8, 8, 3), dtype=np.uint16),
        np.full((8, 8, 1), 0, np.uint16)))  # fully transparent
    out, err = _upscale(tmp_path / "in.png", tmp_path / "out.jpg", capsys)
    assert "no alpha channel: the result was composited onto white" in err
    assert "rounded to 8 bits" in err and "8-bit" in out
    with Image.open(tmp_path / "out.jpg") as im:
        assert im.mode == "RGB" and np.asarray(im).min() > 240  # white shows through


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_stream_writer_round_trip(dtype, channels):
    rng = np.random.default_rng(channels)
    top = np.iinfo(dtype).max
    img = rng.integers(0, top + 1, (11, 7, channels), dtype=np.int64).astype(dtype)
    buf = io.BytesIO()
    write_png_stream(buf, img, rows_per_chunk=3)
    width, height, rows, info = png.Reader(bytes=buf.getvalue()).asDirect()
    got = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows])
    assert info["bitdepth"] == 8 * np.dtype(dtype).itemsize
    assert np.array_equal(got.reshape(height, width, channels), img)
