import functools

import pytest
import torch
import torch.nn.functional as F

from sr_lib.complexity import count_params
from sr_lib.datasets import SRDataset
from sr_lib.dual import (
    BicubicDual,
    DualRegression,
    MixedBatches,
    dual_loss,
    dual_regression_loss,
    lr_pyramid,
    make_duals,
)
from sr_lib.errors import SRLibError
from sr_lib.models import build
from sr_lib.pruning import (
    ArchitectureStep,
    ChannelSearch,
    greedy_select,
    internal_pairs,
    keep_channels,
    kept_width,
    select_l1,
    uniform_widths,
    widths_of,
)
from sr_lib.resize import imresize
from sr_lib.train import TrainConfig, Trainer


def tiny_drn(scale=4, blocks=1, feats=4):
    torch.manual_seed(0)
    return build("drn", scale=scale, n_blocks=blocks, n_feats=feats)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    imgs = [(torch.rand(3, 64, 64, generator=g) * 255).to(torch.uint8).permute(1, 2, 0).numpy()
            for _ in range(2)]
    return SRDataset(imgs, 4)


def test_parameter_counts_match_the_paper():
    assert count_params(build("drn-s", scale=4)) == 4_804_041  # paper 4.8M
    assert round(count_params(build("drn-l", scale=4)) / 1e6, 1) == 9.8
    assert round(count_params(build("drn-s", scale=8)) / 1e6, 1) == 5.4
    assert round(count_params(build("drn-l", scale=8)) / 1e6, 1) == 10.0
    with pytest.raises(SRLibError):
        build("drn-s", scale=3)


@pytest.mark.parametrize("scale", [4, 8])
def test_multi_scale_outputs_on_odd_inputs(scale):
    m = tiny_drn(scale)
    outs = m(torch.rand(1, 3, 7, 9), return_all=True)
    assert [tuple(o.shape[-2:]) for o in outs] == [(7 * 2**k, 9 * 2**k)
                                                   for k in range(len(outs))]
    assert len(outs) == {4: 3, 8: 4}[scale]
    x = torch.rand(1, 3, 7, 9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(m(x), m(x, return_all=True)[-1])
    assert m(torch.zeros(1, 3, 5, 5)).shape[-1] == 5 * scale


def test_duals_shapes_and_fixed_bicubic():
    duals = make_duals(4, feats=8)
    assert len(duals) == 2 and count_params(duals[0]) == 3 * 8 * 9 + 8 * 3 * 9  # no biases
    x = torch.rand(2, 3, 16, 12)
    assert duals[1](x).shape == (2, 3, 8, 6)
    fixed = make_duals(4, fixed=True)
    assert isinstance(fixed[0], BicubicDual) and count_params(fixed) == 0
    torch.testing.assert_close(fixed[0](x), imresize(x, 0.5))
    with pytest.raises(SRLibError):
        make_duals(6)


def test_dual_loss_per_octave_and_chain():
    duals = make_duals(4, fixed=True)
    hr = torch.rand(1, 3, 32, 32)
    lr = imresize(hr, 0.25)
    targets = lr_pyramid(hr, lr, 4)
    assert [t.shape[-1] for t in targets] == [8, 16, 32]
    torch.testing.assert_close(targets[1], imresize(hr, 0.5))
    # the bicubic dual maps the HR patch exactly onto the x2 target; one octave lower it
    # differs slightly (two bicubic halvings are not one quartering)
    assert F.l1_loss(duals[1](targets[2]), targets[1]) < 1e-7
    low = F.l1_loss(duals[0](targets[1]), targets[0])
    assert 0 < low < 0.05
    torch.testing.assert_close(dual_loss(targets, duals, targets), low)
    chain = dual_loss([hr], duals, targets)  # two bicubic halvings vs one quartering
    assert 0 < chain < 0.05
    with pytest.raises(SRLibError):
        dual_loss(targets[:2], duals, targets)


def test_dual_regression_hook_trains_primal_and_duals(data):
    model = tiny_drn()
    hook = DualRegression(4, feats=4, lam=0.1)
    before = [p.detach().clone() for p in hook.duals.parameters()]
    cfg = TrainConfig(iterations=3, batch_size=2, lr_patch=8, lr=1e-3, progress=False)
    Trainer(model, data, cfg, hooks=[hook]).fit()
    assert all(not torch.equal(b, p) for b, p in zip(before, hook.duals.parameters()))
    assert hook.last["dual"] > 0 and hook.last["primal_intermediate"] > 0
    # the hook's loss equals the standalone Eq. (1)
    batch = data.batch(2, 8, 0, 0)
    trainer = Trainer(model, data, cfg, hooks=[hook])
    loss = trainer.compute_loss(trainer.forward(batch), batch)
    torch.testing.assert_close(loss, dual_regression_loss(model, hook.duals, batch, 4, 0.1))


def test_dual_on_a_single_output_backbone(data):
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=4, n_resblocks=1, n_feats=8)
    hook = DualRegression(4, feats=4)
    cfg = TrainConfig(iterations=2, batch_size=2, lr_patch=8, progress=False)
    Trainer(model, data, cfg, hooks=[hook]).fit()
    assert hook.last["primal_intermediate"] == 0 and hook.last["dual"] > 0


def test_lambda_zero_leaves_duals_untouched(data):
    hook = DualRegression(4, feats=4, lam=0.0)
    cfg = TrainConfig(iterations=1, batch_size=2, lr_patch=8, progress=False)
    Trainer(tiny_drn(), data, cfg, hooks=[hook]).fit()
    assert all(p.grad is None or not p.grad.any() for p in hook.duals.parameters())


def test_mixed_batches_and_adaptation_step(data):
    unpaired = [torch.rand(3, 20, 20), (torch.rand(1, 3, 12, 30) * 255).to(torch.uint8)]
    mixed = MixedBatches(data, unpaired, rho=0.3)
    b = mixed.batch(10, 8, step=0)
    assert b["lr"].shape == (10, 3, 8, 8) and b["hr"].shape == (7, 3, 32, 32)
    assert b["paired"].tolist() == [True] * 7 + [False] * 3
    assert torch.equal(mixed.batch(10, 8, step=0)["lr"], b["lr"])  # deterministic
    hook = DualRegression(4, feats=4)
    cfg = TrainConfig(iterations=2, batch_size=10, lr_patch=8, progress=False)
    Trainer(tiny_drn(), mixed, cfg, hooks=[hook]).fit()
    assert hook.last["dual"] > 0
    with pytest.raises(SRLibError):
        MixedBatches(data, unpaired, rho=1.0)
    with pytest.raises(SRLibError):
        MixedBatches(data, unpaired, rho=0.5).batch(4, 16, 0)  # 12-pixel image, 16 patch


def test_internal_pairs_of_drn_s_and_edsr():
    pairs = internal_pairs(build("drn-s", scale=4))
    assert len(pairs) == 64  # 2 down blocks + 2 x 30 RCABs + 2 up blocks, as released
    assert {p.group for p in pairs} == {1, 4}
    names = [p.name for p in pairs]  # forward order: down path, then each up block's RCABs
    assert names[:3] == ["down.0", "down.1", "up_blocks.0.body.0"]
    assert names[32:35] == ["up_blocks.0", "up_blocks.1.body.0", "up_blocks.1.body.1"]
    edsr = internal_pairs(build("edsr-baseline", scale=2, n_resblocks=3, n_feats=8))
    assert [p.producer for p in edsr] == [f"body.{i}.body.0" for i in range(3)]


def test_kept_width_rounding():
    assert kept_width(64, 0.3, 1.0) == 44 and kept_width(64, 0.3, 0.5) == 24
    assert kept_width(8, 0.9, 0.5) == 4  # never below one multiple
    assert kept_width(16, 0.5, 1.0, multiple=1) == 8
    with pytest.raises(SRLibError):
        kept_width(16, 1.0)


def test_channel_surgery_equals_the_masked_model():
    model = tiny_drn(feats=4).double()
    pairs = internal_pairs(model)
    keep = select_l1(model, pairs, uniform_widths(model, pairs, 0.5))
    small = keep_channels(model, pairs, keep)
    masked = keep_channels(model, pairs, {})  # a plain copy, then zero the dropped inputs
    with torch.no_grad():
        for p in pairs:
            conv = masked.get_submodule(p.consumer)
            drop = [c for c in range(conv.in_channels) if c not in keep[p.name]]
            conv.weight[:, drop] = 0
    x = torch.rand(1, 3, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(small(x), masked(x))
    assert widths_of(small, pairs) == {p.name: len(keep[p.name]) for p in pairs}
    assert all(isinstance(m, torch.nn.Conv2d) for m in small.modules()
               if "Conv" in type(m).__name__)
    # a cut DRN is an ordinary DRN with explicit internal widths: its weights load there
    plain = build("drn", scale=4, n_blocks=1, n_feats=4,
                  widths=[len(keep[p.name]) for p in pairs]).double()
    plain.load_state_dict(small.state_dict())
    torch.testing.assert_close(plain(x), small(x))
    assert count_params(plain) < count_params(model)
    with pytest.raises(SRLibError, match="one internal width"):
        build("drn", scale=4, n_blocks=1, n_feats=4, widths=[4, 4])
    with pytest.raises(SRLibError):
        keep_channels(model, pairs, {pairs[0].name: [99]})


def test_search_masks_are_nested_and_equal_eq3():
    model = tiny_drn(feats=8).double()
    pairs = internal_pairs(model)
    search = ChannelSearch(model, pairs, ratio=0.25, multiple=2, init_std=1.0)
    for p in pairs:
        probs = torch.softmax(search.alpha[p.name].detach(), 0)
        assert abs(float(probs.sum()) - 1) < 1e-12
        m = search.channel_weights(p).detach()
        conv = model.get_submodule(p.consumer)
        order = torch.argsort(conv.weight.detach().abs().sum((0, 2, 3)), descending=True)
        ranked = m[order]
        assert torch.all(ranked[:-1] >= ranked[1:] - 1e-12)  # nested: non-increasing by rank
        assert abs(float(ranked[0]) - 1) < 1e-12  # the strongest channel is in every option
    # Eq. (3): the mixture over options of convs restricted to their first c^(v) channels
    p = pairs[2]  # an RCAB's second conv
    conv = model.get_submodule(p.consumer)
    x = torch.rand(1, conv.in_channels, 5, 5, dtype=torch.float64)
    order = torch.argsort(conv.weight.detach().abs().sum((0, 2, 3)), descending=True)
    probs = torch.softmax(search.alpha[p.name].detach(), 0)
    mix = 0
    for prob, c in zip(probs, search.candidates[p.name]):
        first = order[:c]
        mix = mix + prob * F.conv2d(x[:, first], conv.weight[:, first], None, padding=conv.padding)
    with torch.no_grad():
        soft = conv(x) - conv.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(soft, mix)
    search.remove()
    with torch.no_grad():
        dense = F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)
        torch.testing.assert_close(conv(x), dense)


def test_architecture_step_moves_alpha_and_widths_follow(data):
    model = tiny_drn(feats=8)
    pairs = internal_pairs(model)
    search = ChannelSearch(model, pairs, ratio=0.0, multiple=1)
    hook = ArchitectureStep(search, data, lr=0.05, record_every=1)
    cfg = TrainConfig(iterations=3, batch_size=2, lr_patch=8, optimizer="sgd", lr=1e-3,
                      progress=False)
    Trainer(model, data, cfg, hooks=[DualRegression(4, feats=8), hook]).fit()
    assert any(a.detach().abs().max() > 0 for a in search.parameters())
    assert len(hook.history) == 3
    with torch.no_grad():
        for a in search.parameters():
            a.zero_()
            a[0] = 5.0  # factor 0.5 wins
    w = search.widths()
    assert all(w[p.name] == search.candidates[p.name][0] for p in pairs)


def test_greedy_selection_finds_the_only_useful_channel(data):
    model = tiny_drn(feats=4)
    pairs = internal_pairs(model)
    target = pairs[2]  # an RCAB: only its internal channel 5 carries a signal
    producer = model.get_submodule(target.producer)
    with torch.no_grad():
        keep5 = torch.zeros(producer.out_channels, dtype=torch.bool)
        keep5[5] = True
        producer.weight[~keep5] = 0
        producer.bias[~keep5] = -1.0  # ReLU(-1) = 0: these channels are silent
        producer.bias[5] = 1.0  # and channel 5 is surely active
    widths = {p.name: widths_of(model, [p])[p.name] for p in pairs}
    widths[target.name] = 1
    pruned, keep = greedy_select(model, [target], widths, data, batch_size=2, lr_patch=8,
                                 update_steps=0, progress=False)
    assert keep[target.name] == [5]
    assert pruned.get_submodule(target.consumer).in_channels == 1
    loss = functools.partial(dual_regression_loss, duals=make_duals(4, feats=4), scale=4)
    small, keep = greedy_select(model, pairs[:3], uniform_widths(model, pairs[:3], 0.5), data,
                                loss_fn=lambda m, b: loss(m, batch=b), batch_size=2,
                                lr_patch=8, per_step=2, progress=False)
    assert [len(v) for v in keep.values()] == [2, 4, 8]
    assert small(torch.rand(1, 3, 6, 6)).shape[-1] == 24


def test_duals_are_checkpointed_and_resumed(data, tmp_path):
    cfg = TrainConfig(iterations=2, batch_size=2, lr_patch=8, progress=False,
                      ckpt_path=str(tmp_path / "drn.pt"), ckpt_every=1)
    hook = DualRegression(4, feats=4)
    Trainer(tiny_drn(), data, cfg, hooks=[hook]).fit()
    again = DualRegression(4, feats=4)
    Trainer(tiny_drn(), data, cfg, hooks=[again]).fit(resume=True)
    for a, b in zip(hook.duals.parameters(), again.duals.parameters()):
        torch.testing.assert_close(a, b)
