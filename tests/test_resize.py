import numpy as np
import pytest
import torch

from sr_lib.errors import SRLibError
from sr_lib.resize import imresize, imresize_adjoint, operator_norm_sq, resize_matrix

# MATLAB: imresize(reshape(0:15, 4, 4)', [3 3], 'bicubic') (public golden value).
GOLDEN_4x4_TO_3x3 = [
    [0.7506, 2.1004, 3.4503],
    [6.1501, 7.5000, 8.8499],
    [11.5497, 12.8996, 14.2494],
]


def test_golden_matlab_downscale():
    x = torch.arange(16, dtype=torch.float64).reshape(4, 4)
    out = imresize(x, size=(3, 3))
    assert torch.allclose(out, torch.tensor(GOLDEN_4x4_TO_3x3, dtype=torch.float64), atol=1e-4)


def test_upscale_weights_are_keys_cubic():
    # x2 upscaling: output pixel centres sit at 1/4 and 3/4 between input centres, so the
    # interior weights are the Keys cubic (a=-0.5) at distances 1.25, 0.25, 0.75, 1.75.
    m = resize_matrix(10, 20, 2.0)
    expected = np.array([-0.0703125, 0.8671875, 0.2265625, -0.0234375])
    assert np.allclose(m[9, 3:7], expected)
    assert np.allclose(m.sum(1), 1.0)


def test_downscale_antialias_kernel_is_wider():
    m = resize_matrix(40, 10, 0.25)
    assert (m[5] != 0).sum() == 16  # kernel support 4 / 0.25
    m_noaa = resize_matrix(40, 10, 0.25, antialias=False)
    assert (m_noaa[5] != 0).sum() == 4


def test_constant_image_is_preserved_and_symmetric_border():
    x = torch.full((1, 3, 17, 23), 0.37, dtype=torch.float64)
    for s in (0.5, 1 / 3, 0.25, 2, 3, 4):
        assert torch.allclose(imresize(x, s), torch.full_like(imresize(x, s), 0.37))


def test_output_size_follows_matlab_ceil():
    x = torch.zeros(2, 1, 10, 11)
    assert imresize(x, 1 / 3).shape[-2:] == (4, 4)
    assert imresize(x, 2).shape[-2:] == (20, 22)


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 2, 3])
def test_adjoint_identity(scale):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 19, 24, dtype=torch.float64, generator=g)
    hx = imresize(x, scale)
    y = torch.randn(hx.shape, dtype=torch.float64, generator=g)
    lhs = (hx * y).sum()
    rhs = (x * imresize_adjoint(y, x.shape[-2:], scale)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-12, atol=1e-10)


def test_adjoint_is_autograd_transpose():
    x = torch.randn(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    (imresize(x, 1 / 3) * y).sum().backward()
    assert torch.allclose(x.grad, imresize_adjoint(y, (12, 12), 1 / 3))


def test_differentiable_and_batched():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    imresize(x, 0.5).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    single = torch.stack([imresize(x[i].detach(), 0.5) for i in range(4)])
    assert torch.allclose(single, imresize(x.detach(), 0.5), atol=1e-6)


@pytest.mark.parametrize("s", [2, 3, 4])
def test_operator_norm_of_downscaling(s):
    # A constant image x gives ||Hx||^2 / ||x||^2 = 1/s^2 exactly (a lower bound of
    # ||H^T H||); the normalised, mostly positive taps keep the top eigenvalue at that value.
    x = torch.ones(1, 1, 24, 24, dtype=torch.float64)
    assert float(imresize(x, 1 / s).pow(2).sum() / x.pow(2).sum()) == pytest.approx(1 / s**2)
    exact = operator_norm_sq((24, 24), 1 / s)
    assert exact == pytest.approx(1 / s**2, abs=1e-12)
    # the separable computation equals the SVD of the whole (576-column) matrix
    n = 24 * 24
    whole = imresize(torch.eye(n, dtype=torch.float64).reshape(n, 1, 24, 24), 1 / s)
    assert float(torch.linalg.matrix_norm(whole.reshape(n, -1), 2) ** 2) == pytest.approx(
        exact, abs=1e-12)
    # power iteration approaches it from below; a short run stops visibly short
    short = operator_norm_sq((24, 24), 1 / s, exact=False, tol=1e-3)
    assert short <= exact + 1e-12 and short == pytest.approx(exact, rel=0.02)


def test_errors():
    with pytest.raises(SRLibError):
        imresize(torch.zeros(4, 4))
    with pytest.raises(SRLibError):
        imresize(torch.zeros(4, 4), 0.5, kernel="lanczos9")
    with pytest.raises(SRLibError):
        imresize_adjoint(torch.zeros(3, 3), (12, 12), 1 / 2)


def test_least_norm_solution_and_null_space():
    from sr_lib.resize import least_norm_solution

    g = torch.Generator().manual_seed(0)
    v = torch.rand(1, 3, 24, 24, dtype=torch.float64, generator=g)
    y = imresize(v, 1 / 3)
    x0 = least_norm_solution(y, (24, 24), 1 / 3)
    assert torch.allclose(imresize(x0, 1 / 3), y, atol=1e-8)
    null = v - x0
    assert imresize(null, 1 / 3).abs().max() < 1e-8  # invisible in the LR image
    assert null.norm() > 0.1 * v.norm()  # yet far from zero


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=1e-9), "less than one pixel"), (dict(scale=float("nan")), "finite"),
    (dict(scale=1e6), "more than"), (dict(size=(10.5, 4)), "whole numbers"),
    (dict(size=(0, 4)), "at least 1x1")])
def test_imresize_refuses_impossible_sizes(kwargs, match):
    with pytest.raises(SRLibError, match=match):
        imresize(torch.zeros(1, 1, 64, 64), **kwargs)
