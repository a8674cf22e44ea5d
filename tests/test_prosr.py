import math
import warnings

import pytest
import torch

from sr_lib.complexity import count_params
from sr_lib.datasets import MultiScaleData, SRDataset
from sr_lib.errors import SRLibError
from sr_lib.evaluate import evaluate
from sr_lib.gan import (
    ProGanTraining,
    ProgressiveDiscriminator,
    VGG16Features,
    load_vgg16,
    lsgan_d_loss,
    lsgan_g_loss,
)
from sr_lib.models import build
from sr_lib.models.prosr import ABLATIONS, ProSR
from sr_lib.progressive import MultiScaleTraining, ScaleValidation, curriculum_phase
from sr_lib.resize import imresize
from sr_lib.train import TrainConfig, Trainer

TINY = dict(features=8, growth=4, dcus=(2, 1, 1), layers=2)


def tiny_prosr(**kw):
    return build("prosr-s", scale=4, **{**TINY, **kw})


def test_parameter_counts_match_the_paper_and_the_released_config():
    assert count_params(build("prosr-l", scale=4)) == 15_537_609  # paper: 15.5M
    assert count_params(build("prosr-s", scale=4)) == 2_550_191  # released prosrs.yaml
    widths = [level.out_channels for level in build("prosr-s", scale=2).levels]
    assert widths == [118, 124, 134]


@pytest.mark.parametrize("name", ["prosr-s", "prosr-l"])
def test_one_network_serves_x2_x4_x8_on_odd_inputs(name):
    model = build(name, scale=4, **({**TINY, "dcus": (1, 1, 1)} if name == "prosr-l" else TINY))
    x = torch.rand(1, 3, 11, 13)
    with torch.no_grad():
        for s in (2, 4, 8):
            assert model(x, scale=s).shape == (1, 3, 11 * s, 13 * s)
        assert model(x).shape == (1, 3, 44, 52)  # the model's own scale
    with pytest.raises(SRLibError):
        model(x, scale=3)


def test_untrained_output_is_bicubic_plus_a_residual_and_blending_fades_the_top_level():
    torch.manual_seed(0)
    model = tiny_prosr().eval()
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        for level in model.recon:
            torch.nn.init.zeros_(level.weight)
            torch.nn.init.zeros_(level.bias)
        assert torch.allclose(model(x, scale=4), imresize(x, 4), atol=1e-6)
        torch.manual_seed(1)
        for level in model.recon:
            torch.nn.init.normal_(level.weight, std=0.1)
        # the level below, run inside the x4 pass (input layer v_4, as in the released code)
        r2 = model.recon[0](model.levels[0](model.inputs["4"]((x - model.mean) * 255))) / 255
        faded = model(x, scale=4, blend=0.0)
        expect = imresize(x, 4) + torch.nn.functional.interpolate(
            r2, scale_factor=2, mode="bilinear", align_corners=True)
        assert torch.allclose(faded, expect, atol=1e-5)
        half = model(x, scale=4, blend=0.5)
        assert torch.allclose(half, 0.5 * faded + 0.5 * model(x, scale=4), atol=1e-5)


def test_laplacian_mode_builds_on_the_previous_level_image():
    torch.manual_seed(0)
    model = tiny_prosr(residual_mode="laplacian").eval()
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        outs = model(x, scale=8, return_all=True)
        assert [o.shape[-1] for o in outs] == [18, 36, 72]
        r_top = model.recon[2](model.levels[2](model.levels[1](model.levels[0](
            model.inputs["8"]((x - model.mean) * 255))))) / 255
        assert torch.allclose(outs[2], imresize(outs[1], 2) + r_top, atol=1e-5)


def test_ablation_models_and_options():
    x = torch.rand(1, 3, 8, 8)
    sizes = {}
    for name, opts in ABLATIONS.items():
        m = ProSR(scale=4, max_scale=4, features=16, growth=4, block_compression=0.5,
                  residual=False, **opts)
        with torch.no_grad():
            assert m(x).shape == (1, 3, 32, 32)
        sizes[name] = count_params(m)
    assert sizes["single dense block"] > sizes["asymmetric pyramid"]
    with pytest.raises(SRLibError):
        ProSR(max_scale=8, dcus=(1, 1))
    with pytest.raises(SRLibError):
        ProSR(max_scale=6, dcus=(1, 1))


def test_pre_upsampling_counterpart_costs_s2_more():
    from sr_lib.complexity import count_macs

    opts = dict(features=16, growth=8, layers=4)
    pre = build("prosr-pre", scale=4, dcus=4, **opts)
    pyr = ProSR(scale=4, max_scale=4, dcus=(4, 0), block_compression=0.4, residual=False,
                **opts)
    x = torch.rand(1, 3, 7, 9)
    with torch.no_grad():
        assert pre(x).shape == pyr(x).shape == (1, 3, 28, 36)
    # the same DCUs at HR instead of LR size cost s^2 = 16 times more; the post-upsampling
    # network pays part of that back in its sub-pixel convolutions, so the total ratio is less
    assert count_macs(pre, input_size=(16, 16)) > 1.5 * count_macs(pyr, input_size=(16, 16))


def test_at_scale_view_shares_weights_and_evaluates(small_images):
    model = tiny_prosr()
    view = model.at_scale(2)
    assert view.scale == 2 and count_params(view) == count_params(model)
    result = evaluate(view, SRDataset(small_images, 2), progress=False)
    assert math.isfinite(result.mean_psnr)


def test_curriculum_phase_follows_the_released_breakpoints():
    assert curriculum_phase(0.0) == {2: 1.0}
    assert curriculum_phase(0.12) == {2: 1.0}
    p = curriculum_phase(0.185)
    assert set(p) == {2, 4} and p[4] == pytest.approx(0.5)
    assert curriculum_phase(0.3) == {2: 1.0, 4: 1.0}
    p = curriculum_phase(0.525)
    assert p[8] == pytest.approx(0.5) and p[4] == 1.0
    assert curriculum_phase(1.0) == {2: 1.0, 4: 1.0, 8: 1.0}
    with pytest.raises(SRLibError):
        curriculum_phase(0.5, (2, 4, 8), (0.1, 0.2))


def _multiscale(small_images, scales=(2, 4, 8)):
    return MultiScaleData({s: SRDataset(small_images, s) for s in scales},
                          {2: 8, 4: 6, 8: 4})


def test_curriculum_trainer_draws_only_active_scales(small_images):
    torch.manual_seed(0)
    model = tiny_prosr()
    hook = MultiScaleTraining(curriculum=True)
    seen = []

    class Spy(MultiScaleTraining):
        def forward(self, trainer, batch):
            out = super().forward(trainer, batch)
            seen.append((trainer.progress, out["scale"], out["blend"]))
            return out

    hook = Spy(curriculum=True)
    cfg = TrainConfig(iterations=25, batch_size=2, lr=1e-3, progress=False)
    history = Trainer(model, _multiscale(small_images), cfg, hooks=[hook]).fit()
    assert all(math.isfinite(v) for v in history.loss)
    for progress, s, blend in seen:
        assert s in curriculum_phase(progress)
        assert blend == pytest.approx(curriculum_phase(progress)[s])
    assert {s for p, s, _ in seen if p < 0.12} == {2}
    assert {s for _, s, _ in seen} == {2, 4, 8}


def test_simultaneous_and_deep_supervision_training(small_images):
    torch.manual_seed(0)
    model = tiny_prosr(residual_mode="laplacian")
    hook = MultiScaleTraining(curriculum=False, deep_supervision=True)
    val = ScaleValidation({2: SRDataset(small_images[:1], 2), 4: SRDataset(small_images[:1], 4)},
                          every=3)
    cfg = TrainConfig(iterations=6, batch_size=2, lr=1e-3, progress=False)
    trainer = Trainer(model, _multiscale(small_images), cfg, hooks=[hook, val])
    batch = trainer.next_batch()
    out = hook.forward(trainer, batch)
    extra = hook.extra_loss(trainer, out, batch)
    if batch["scale"] > 2:
        assert float(extra.detach()) > 0
    trainer.fit()
    assert [r["step"] for r in val.records] == [3, 3, 6, 6]
    assert val.records[-1]["seconds"] >= val.records[0]["seconds"] > 0


def test_curriculum_needs_multiscale_data(small_images):
    with pytest.raises(SRLibError, match="MultiScaleData"):
        Trainer(tiny_prosr(), SRDataset(small_images, 2), TrainConfig(iterations=1),
                hooks=[MultiScaleTraining()])


def test_discriminator_scores_every_scale_at_lr_size_and_blends():
    torch.manual_seed(0)
    d = ProgressiveDiscriminator(max_scale=8, ndf=4)
    for s in (2, 4, 8):
        assert d(torch.randn(2, 3, 6 * s, 5 * s), s).shape == (2, 1, 6, 5)
    r = torch.randn(1, 3, 24, 24)
    faded = d(r, 4, blend=0.0)
    below = d.inputs["2"](torch.nn.functional.avg_pool2d(r, 2))
    assert torch.allclose(faded, d.head(d.levels[0](below)), atol=1e-6)


def test_lsgan_losses_match_eq_3_and_4():
    real, fake = torch.tensor([0.9, 1.1]), torch.tensor([0.2, -0.2])
    assert float(lsgan_d_loss(real, fake)) == pytest.approx(0.04 + 0.01)
    assert float(lsgan_g_loss(fake)) == pytest.approx((0.64 + 1.44) / 2)


def test_vgg16_loads_torchvision_layout_and_explains_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("SR_VGG16", raising=False)
    with pytest.raises(SRLibError, match="looked in") as err:
        load_vgg16()
    assert "SR_VGG16 (not set)" in str(err.value) and str(tmp_path) not in str(err.value)
    with pytest.raises(SRLibError, match="not found"):
        load_vgg16(tmp_path / "nope.pth")
    torch.manual_seed(0)
    ref = VGG16Features()
    state = {f"features.{k}": torch.randn_like(v) for k, v in ref.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision files carry more keys
    torch.save(state, tmp_path / "vgg.pth")
    vgg = load_vgg16(tmp_path / "vgg.pth")
    assert vgg.pretrained
    assert torch.equal(vgg.features[0].weight, state["features.0.weight"])
    feats = vgg(torch.rand(1, 3, 32, 32))
    assert [f.shape[1:] for f in feats] == [(128, 16, 16), (512, 4, 4)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rnd = load_vgg16(allow_random=True)
    assert not rnd.pretrained and any("RANDOM" in str(w.message) for w in caught)
    assert not any(p.requires_grad for p in rnd.parameters())


def test_gan_training_updates_generator_and_discriminator(small_images):
    torch.manual_seed(0)
    model = tiny_prosr()
    d = ProgressiveDiscriminator(max_scale=8, ndf=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vgg = load_vgg16(allow_random=True)
    gan = ProGanTraining(d, vgg, d_every=1)
    d_before = d.head.weight.detach().clone()
    g_before = model.inputs["2"].weight.detach().clone()
    cfg = TrainConfig(iterations=3, batch_size=2, lr=1e-4, pixel_weight=0.0, progress=False)
    Trainer(model, _multiscale(small_images), cfg,
            hooks=[MultiScaleTraining(curriculum=True), gan]).fit()
    assert not torch.equal(d_before, d.head.weight)
    assert not torch.equal(g_before, model.inputs["2"].weight)
    assert set(gan.last) == {"g_adv", "d"}
