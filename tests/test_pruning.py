import math

import pytest
import torch

from sr_lib.complexity import count_params
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.models import build
from sr_lib.pruning import (
    GrowingRegularizer,
    analyze,
    filter_scores,
    l1_agreement,
    mask,
    n_kept,
    n_pruned,
    penalty_balance,
    plan_l1,
    plan_norms,
    plan_srp,
    prune,
    pruned_indices,
    schedule_length,
)
from sr_lib.train import TrainConfig, Trainer, load_weights, save_weights


def test_parameter_counts_match_the_paper():
    assert count_params(build("srpn-lite", scale=2)) == 19_507_468  # paper 19.5M
    assert count_params(build("srpn-lite", scale=2, width=45)) == 609_042  # paper 609K
    assert round(count_params(build("srpn", scale=2)) / 1e6, 1) == 34.5
    assert round(count_params(build("srpn", scale=2, width=64)) / 1e6, 1) == 15.3
    # Table 1: EDSR-baseline with a pruned body and its tail left at 64 maps
    for kept, params in ((57, 1_101_745), (32, 381_795), (6, 26_869)):
        assert count_params(build("edsr-baseline", scale=2, n_feats=kept, tail_feats=64)) == params


def test_ratio_convention_is_ceil():
    assert [64 - n_pruned(64, r) for r in (0.1, 0.3, 0.5, 0.7, 0.9)] == [57, 44, 32, 19, 6]
    assert 256 - n_pruned(256, 211 / 256) == 45  # SRPN-Lite's stage_pr
    assert 96 - n_pruned(96, 0.34) == 63  # the released rounding gives 63, the paper says 64
    assert n_pruned(4, 0.99) == 3
    with pytest.raises(SRLibError):
        n_pruned(10, 1.0)


def test_kept_widths_round_to_a_multiple_the_hardware_likes():
    # 32 maps at Table 1's ratios keep 29, 23, 16, 10, 4 (ceil convention); rounded to 8
    assert [n_kept(32, r) for r in (0.1, 0.3, 0.5, 0.7, 0.9)] == [28, 22, 16, 9, 3]
    assert [n_kept(32, r, 8) for r in (0.1, 0.3, 0.5, 0.7, 0.9)] == [24, 24, 16, 8, 8]
    assert [n_kept(32, r, 4) for r in (0.1, 0.3, 0.5, 0.7, 0.9)] == [28, 20, 16, 8, 4]
    assert n_kept(32, 0.7, 16) == 16 and n_kept(6, 0.5, 8) == 6  # never wider than the layer
    with pytest.raises(SRLibError, match="positive"):
        n_kept(32, 0.5, 0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=32)
    structure = analyze(model)
    for plan in (plan_srp(model, structure, 0.7, multiple=8),
                 plan_l1(model, structure, 0.7, multiple=8)):
        assert {len(kept) for kept in plan.values()} == {8}
        cut = prune(model, structure, plan)
        assert cut(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)


def test_groups_of_edsr_and_nested_rcan():
    st = analyze(build("edsr-baseline", scale=2, n_resblocks=3, n_feats=8))
    assert st.groups == [["head.0", "body.0.body.2", "body.1.body.2", "body.2.body.2", "body.3"]]
    assert st.free == ["body.0.body.0", "body.1.body.0", "body.2.body.0"]
    assert st.skipped == ["tail.0.0", "tail.1"]
    st = analyze(build("srpn", scale=2, width=8, n_resgroups=2, n_resblocks=2))
    assert len(st.groups) == 1
    group = st.groups[0]
    for name in ("head.0", "body.2", "body.0.body.2", "body.1.body.2", "body.0.body.0.body.2",
                 "body.1.body.1.body.2"):
        assert name in group
    assert st.free == ["body.0.body.0.body.0", "body.0.body.1.body.0", "body.1.body.0.body.0",
                       "body.1.body.1.body.0"]
    lite = analyze(build("srpn-lite", scale=2, width=8, n_resblocks=2))
    assert lite.skipped == ["tail.0"] and lite.inputs["tail.0"] == ["head.0", "body.2"]


def test_unsupported_operations_are_refused():
    class Cat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], 1)

    with pytest.raises(SRLibError, match="concatenation is not supported.*VDSR"):
        analyze(Cat())
    for name in ("prosr-s", "isrrescnet"):  # dense concatenation, unrolled iterations
        with pytest.raises(SRLibError, match="EDSR / EDSR-baseline"):
            analyze(build(name, scale=4))


@pytest.mark.parametrize("name", ["vdsr", "srcnn"])
def test_pre_upsampling_chains_prune(name):
    """VDSR / SRCNN trace (bicubic upsampling kept whole, ``scale`` fixed); the last conv writes
    the image and is never pruned; removing zeroed filters leaves the function unchanged."""
    torch.manual_seed(0)
    opts = {"width": 8, "depth": 5} if name == "vdsr" else {"n1": 8, "n2": 6}
    model = build(name, scale=2, **opts).eval()
    st = analyze(model)
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert st.skipped == [convs[-1]] and st.free == convs[:-1] and not st.groups
    plan = plan_l1(model, st, 0.5)
    masked = mask(model, plan)
    small = prune(model, st, plan)
    x = torch.rand(1, 1, 10, 9)
    with torch.no_grad():
        assert torch.allclose(small(x), masked(x), atol=1e-5)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())


def test_srp_plan_shares_one_random_set_and_keeps_top_l1_in_free_layers():
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=16)
    st = analyze(model)
    plan = plan_srp(model, st, 0.5, seed=3)
    kept = {tuple(plan[n].tolist()) for n in st.groups[0]}
    assert len(kept) == 1 and len(next(iter(kept))) == 8
    conv = dict(model.named_modules())["body.0.body.0"]
    scores = filter_scores(conv)
    assert set(plan["body.0.body.0"].tolist()) == set(torch.topk(scores, 8).indices.tolist())
    assert not torch.equal(plan_srp(model, st, 0.5, seed=4)["head.0"], plan["head.0"])
    l1 = plan_l1(model, st, 0.5)
    assert len({tuple(l1[n].tolist()) for n in st.groups[0]}) > 1  # unaligned


@pytest.mark.parametrize("name,opts", [
    ("edsr-baseline", dict(n_resblocks=2, n_feats=16)),
    ("srpn-lite", dict(width=16, n_resblocks=2)),
    ("srpn", dict(width=12, n_resgroups=2, n_resblocks=2)),
])
def test_surgery_equals_the_masked_model(name, opts):
    torch.manual_seed(0)
    model = build(name, scale=2, **opts).double().eval()
    st = analyze(model)
    plan = plan_srp(model, st, 0.5, seed=0)
    small = prune(model, st, plan).eval()
    x = torch.rand(1, 3, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(small(x), mask(model, plan)(x), atol=1e-10)
    assert count_params(small) < count_params(model)


def test_pruned_model_loads_without_the_pruning_code(tmp_path):
    torch.manual_seed(0)
    model = build("srpn-lite", scale=2, width=16, n_resblocks=2).eval()
    st = analyze(model)
    small = prune(model, st, plan_srp(model, st, 0.5))
    save_weights(small, tmp_path / "w.pt", name="srpn-lite", width=8)
    fresh = build("srpn-lite", scale=2, width=8, n_resblocks=2)  # plain constructor
    load_weights(fresh, tmp_path / "w.pt")
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(fresh(x), small(x))
    base = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=16)
    st = analyze(base)
    cut = prune(base, st, plan_srp(base, st, 0.5))
    plain = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8, tail_feats=16)
    plain.load_state_dict(cut.state_dict())


def test_l1_baseline_surgery_runs_but_differs_from_masking():
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=16).double().eval()
    st = analyze(model)
    plan = plan_l1(model, st, 0.5)
    small = prune(model, st, plan)
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        assert small(x).shape == model(x).shape
        assert not torch.allclose(small(x), mask(model, plan)(x), atol=1e-6)


def test_l1_agreement_counts_filters_every_constrained_layer_would_prune():
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8)
    st = analyze(model)
    modules = dict(model.named_modules())
    with torch.no_grad():  # make filters 0 and 1 the smallest in every constrained layer
        for name in st.constrained:
            modules[name].weight[:2] *= 1e-6
    shared, expected = l1_agreement(model, st, 0.25)  # 2 of 8 pruned per layer
    assert shared == 2
    assert expected == pytest.approx(8 * (2 / 8) ** len(st.constrained))
    assert l1_agreement(model, st, 0.5)[0] >= 2


def test_schedule_length_and_growth():
    assert schedule_length(1e-4, 20, 0.5) == 5001 * 20  # ~100k iterations, the paper's Fig. 3
    assert schedule_length(0.1, 2, 0.3, stabilize=5) == 4 * 2 + 5
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)
    st = analyze(model)
    reg = GrowingRegularizer(model, plan_srp(model, st, 0.5), delta=0.1, interval=2, ceiling=0.3)
    alphas = []
    for _ in range(12):
        reg.after_step(None, {}, {})
        alphas.append(round(reg.alpha, 6))
    assert alphas[:10] == [0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.4]
    assert not reg.growing and reg.done  # 4 increments x 2 iterations, no stabilisation


def test_penalty_balance_weighs_the_pull_against_the_data_gradient(small_images):
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)
    plan = plan_srp(model, analyze(model), 0.5)
    batch = SRDataset(small_images, 2).batch(2, 8, step=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    low, high = (penalty_balance(model, plan, a, batch) for a in (1e-6, 1e-6 * 1e4))
    assert set(low) == set(plan)
    assert all(high[n] == pytest.approx(1e4 * low[n], rel=1e-4) for n in plan)  # linear in alpha
    conv = dict(model.named_modules())["body.0.body.0"]
    idx = pruned_indices(conv, plan["body.0.body.0"])
    model.zero_grad()
    torch.nn.functional.l1_loss(model(batch["lr"]), batch["hr"]).backward()
    w = conv.weight.detach()[idx].flatten(1).norm(dim=1)
    g = conv.weight.grad[idx].flatten(1).norm(dim=1)
    assert low["body.0.body.0"] == pytest.approx(float((1e-6 * w / g).median()), rel=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(SRLibError, match="alpha"):
        penalty_balance(model, plan, -1.0, batch)


def test_regulariser_shrinks_pruned_filters_in_the_trainer(small_images):
    torch.manual_seed(0)
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)
    st = analyze(model)
    plan = plan_srp(model, st, 0.5)
    reg = GrowingRegularizer(model, plan, delta=2.0, interval=1, ceiling=50.0, record_every=5)
    # Adam normalises the gradient, so a dominant penalty moves each weight by about lr a step
    cfg = TrainConfig(iterations=30, batch_size=2, lr_patch=8, lr=5e-3, progress=False)
    Trainer(model, SRDataset(small_images, 2), cfg, hooks=[reg]).fit()
    first, last = reg.history[0], reg.history[-1]
    for name in plan:
        kept0, pruned0 = first[name]
        kept1, pruned1 = last[name]
        assert pruned1 < 0.5 * pruned0  # the penalised filters shrink
        assert math.isfinite(kept1) and kept1 > pruned1


def test_plan_norms_reports_kept_and_pruned_means_per_layer():
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=4)
    plan = plan_srp(model, analyze(model), 0.5, seed=0)
    with torch.no_grad():
        for name, kept in plan.items():
            conv = dict(model.named_modules())[name]
            conv.weight.fill_(2.0)
            conv.weight[pruned_indices(conv, kept)] = -0.5  # |w| counts, not w
    norms = plan_norms(model, plan)
    assert set(norms) == set(plan)
    assert all(v == (2.0, 0.5) for v in norms.values())
    assert plan_norms(mask(model, plan), plan)[next(iter(plan))] == (2.0, 0.0)
