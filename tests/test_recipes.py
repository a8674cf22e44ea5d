"""The methods' recipes (SRP, its L1-norm baseline, DRN's search and pruning, AIL's rounds):
each calls the caller's ``fit`` once per phase, in the paper's order, with the phase's hooks,
and returns networks of the planned shape, leaving its input network untouched."""

import copy

import pytest
import torch

from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.importance import AdaptiveImportance, ail_finetune
from sr_lib.models import build
from sr_lib.pruning import analyze, internal_pairs, mask, plan_l1, schedule_length, widths_of
from sr_lib.pruning.recipes import cut_report, drn_prune, drn_search, l1_prune, srp
from sr_lib.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def rgb(small_images):
    return SRDataset(small_images, 2)


class Fit:
    """A ``fit`` that trains a few real steps and logs what the recipe asked for."""

    def __init__(self, data, skip=()):
        self.data, self.skip, self.calls = data, set(skip), []

    def __call__(self, model, name, iterations, hooks=(), phase="train", **options):
        self.calls.append((name, iterations, phase, [type(h).__name__ for h in hooks]))
        if phase in self.skip:
            return
        data = options.pop("dataset", self.data)
        config = TrainConfig(iterations=iterations, batch_size=2, lr_patch=8, lr=1e-3,
                             progress=False, **options)
        Trainer(model, data, config, hooks=list(hooks)).fit(resume=False)


def edsr():
    torch.manual_seed(0)
    return build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8)


def same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


def test_srp_regularises_then_cuts_the_regularised_network_then_fine_tunes(rgb):
    dense = edsr()
    before = copy.deepcopy(dense)
    fit = Fit(rgb, skip={"finetune"})  # no fine-tuning: the cut network is checkable exactly
    run = srp(dense, 0.5, fit, delta=0.25, interval=1, ceiling=0.5, stabilize=2, finetune=3,
              seed=1, name="srp_0.5")
    assert fit.calls == [("srp_0.5_reg", schedule_length(0.25, 1, 0.5, 2), "regularise",
                          ["GrowingRegularizer"]),
                         ("srp_0.5", 3, "finetune", [])]
    assert same_weights(dense, before)  # the dense network is left as it was
    assert not same_weights(run.regularised, before)  # the copy was trained
    convs = dict(run.pruned.named_modules())
    assert all(convs[n].out_channels == len(kept) == 4 for n, kept in run.plan.items())
    x = torch.rand(1, 3, 10, 12, dtype=torch.float64)
    with torch.no_grad():  # the cut keeps exactly the regularised network's kept filters
        gap = run.pruned.double()(x) - mask(run.regularised, run.plan).double()(x)
    assert float(gap.abs().max()) < 1e-10
    assert len(run.regularizer.layers) == len(run.plan)


def test_cut_report_scores_the_cut_and_measures_the_pruned_filters(rgb):
    dense = edsr()
    run = srp(dense, 0.5, Fit(rgb, skip={"regularise", "finetune"}), delta=0.25, interval=1,
              ceiling=0.5, stabilize=2, finetune=3, seed=1)
    structure = analyze(dense)
    head = next(iter(run.plan))
    with torch.no_grad():  # every pruned filter but the head's made tiny: a ready cut
        modules = dict(run.regularised.named_modules())
        for name, kept in run.plan.items():
            if name != head:
                idx = [i for i in range(modules[name].out_channels) if i not in kept]
                modules[name].weight[idx] *= 1e-3
    x = torch.rand(1, 3, 10, 12)

    def score(model):  # a stand-in for PSNR: minus the distance to the regularised output
        with torch.no_grad():
            return -float((model(x) - run.regularised(x)).abs().mean())

    report = cut_report(run, structure, score, spare=(head,))
    assert report.before == 0.0
    assert report.after < report.spared <= 0.0  # the unready head costs the most
    assert report.other_shrink < 0.01 < report.spare_shrink
    with pytest.raises(ValueError, match="spare"):
        cut_report(run, structure, score, spare=("no.such.layer",))


def test_l1_baseline_cuts_by_filter_norm_and_fine_tunes(rgb):
    dense = edsr()
    fit = Fit(rgb)
    cut = l1_prune(dense, 0.5, fit, 4, name="l1_0.5")
    assert fit.calls == [("l1_0.5", 4, "finetune", [])]
    plan = plan_l1(dense, analyze(dense), 0.5)
    convs = dict(cut.named_modules())
    assert all(convs[n].out_channels == len(kept) for n, kept in plan.items())


def test_drn_searches_widths_then_selects_channels_and_fine_tunes(small_images):
    data = SRDataset(small_images, 4)
    torch.manual_seed(0)
    base = build("drn", scale=4, n_blocks=1, n_feats=4)
    before = copy.deepcopy(base)
    fit = Fit(data)
    widths, search = drn_search(base, 0.5, fit, data, iterations=2, multiple=2,
                                optimizer="sgd", momentum=0.9)
    assert fit.calls[0] == ("search", 2, "search", ["ArchitectureStep"])
    pairs = internal_pairs(base)
    assert set(widths) == {p.name for p in pairs}
    assert all(widths[n] in search.candidates[n] for n in widths)
    pruned = drn_prune(base, widths, data, fit, finetune=2, per_step=4, batch_size=2,
                       lr_patch=8, name="drn_0.5")
    assert fit.calls[1] == ("drn_0.5", 2, "finetune", [])
    assert widths_of(pruned, internal_pairs(pruned)) == widths
    assert same_weights(base, before)


@pytest.mark.parametrize("init", ["teacher", "zero"])
def test_ail_fine_tunes_a_copy_in_rounds(small_images, init):
    data = SRDataset(small_images, 2, channels="y")
    torch.manual_seed(0)
    baseline, teacher = (build("vdsr", scale=2, width=w, depth=3) for w in (4, 8))
    before = copy.deepcopy(baseline)
    fit = Fit(data)
    student, hook = ail_finetune(baseline, teacher, fit, rounds=3, round_iters=2, init=init)
    assert fit.calls == [(f"ail_{init}", 6, "finetune", ["AdaptiveImportance"])]
    assert isinstance(hook, AdaptiveImportance) and sorted(hook.snapshots) == [0, 1]
    assert (hook.teacher is teacher) == (init == "teacher")
    assert same_weights(baseline, before) and not same_weights(student, before)


def test_ail_distillation_control_and_errors(small_images):
    data = SRDataset(small_images, 2, channels="y")
    baseline, teacher = (build("vdsr", scale=2, width=w, depth=3) for w in (4, 8))
    fit = Fit(data, skip={"finetune"})
    _, hook = ail_finetune(baseline, teacher, fit, rounds=2, round_iters=1, init="one",
                           distil=0.1)
    assert fit.calls == [("distil", 2, "finetune", ["AdaptiveImportance", "Distillation"])]
    assert hook.init == "one" and hook.teacher is None  # the control weights every pixel 1
    with pytest.raises(SRLibError, match="teacher"):
        ail_finetune(baseline, None, fit, rounds=2, round_iters=1, distil=0.1)
    with pytest.raises(SRLibError, match="round_iters"):
        ail_finetune(baseline, teacher, fit, rounds=2, round_iters=0)
