"""The chapter harness: one checkpoint layout, resume only what this run's code and settings
wrote, say where each result was trained, and score and judge claims over seeds."""

import pytest
import torch

from sr_lib import chapters, records
from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.harness import Chapter
from sr_lib.models import build
from sr_lib.stats import Claim
from sr_lib.train import TrainConfig


@pytest.fixture()
def chapter(tmp_path, monkeypatch):
    monkeypatch.delenv("SR_DATA", raising=False)  # the sample images stand in for the sets
    monkeypatch.delenv("SRBOOK_PROFILE_OVERRIDE", raising=False)
    return Chapter("ch00", "smoke", seeds=(0, 1), runs=tmp_path / "runs")


@pytest.fixture(scope="module")
def data(small_images):
    return SRDataset(small_images, 2, channels="y")


CONFIG = TrainConfig(iterations=4, batch_size=2, lr_patch=8, lr=1e-3, progress=False,
                     log_every=2)


def vdsr(seed=0):
    torch.manual_seed(seed)
    return build("vdsr", scale=2, width=4, depth=3)


def test_profiles_are_typed():
    p = chapters.params("ch00", "book")
    assert p.width == 32 and p.eval_sets == ("Set5", "Set14", "B100") and p.seeds == (0,)
    with pytest.raises(SRLibError, match="no setting"):
        chapters.with_changes(p, widht=3)
    with pytest.raises(SRLibError, match="chapters on the harness"):
        chapters.params("ch99", "book")


def test_train_uses_one_layout_and_says_where_it_was_trained(chapter, data, capsys):
    chapter.train(vdsr(), "net", CONFIG, data, seed=1)
    path = chapter.checkpoint("net", 1)
    assert path.exists() and path.parts[-3:] == ("ch00_smoke", "seed1", "net.pt")
    said = capsys.readouterr().out
    assert "[net, seed 1] trained in this run (4 steps, 8 samples" in said
    assert torch.load(path, weights_only=True)["config"]["seed"] == 1  # the seed is the run's
    chapter.train(vdsr(), "net", CONFIG, data, seed=1)  # finished: resumed, nothing retrained
    assert "[retrain]" not in capsys.readouterr().out


def test_a_checkpoint_from_other_code_is_retrained(chapter, data, capsys, monkeypatch):
    chapter.train(vdsr(), "net", CONFIG, data)
    changed = {**records.code_files(), "train.py": "000000000000"}
    monkeypatch.setattr(records, "code_files", lambda: changed)
    chapter.train(vdsr(), "net", CONFIG, data)
    said = capsys.readouterr().out
    assert "[retrain] net, seed 0: its checkpoint does not match this run" in said
    assert "train.py" in said
    assert chapter.trained["net", 0]["code"]["train.py"] == "000000000000"


def test_a_result_trained_by_an_earlier_run_says_so(chapter, data, capsys, monkeypatch):
    monkeypatch.setenv("SRBOOK_RUN", "monday")
    chapter.train(vdsr(), "net", CONFIG, data)
    monkeypatch.setenv("SRBOOK_RUN", "tuesday")
    capsys.readouterr()
    chapter.train(vdsr(), "net", CONFIG, data)
    said = capsys.readouterr().out
    assert "not trained in this one" in said and "run monday" in said
    table = chapter.provenance()
    assert "run monday" in table and "trained in this run" not in table


def test_scores_and_claims_over_seeds_carry_budgets(chapter, data):
    for seed in chapter.seeds:
        for name, iters in (("short", 2), ("long", 8)):
            model = vdsr(seed)
            cfg = TrainConfig(**{**CONFIG.__dict__, "iterations": iters})
            chapter.train(model, name, cfg, data, seed=seed, quiet=True)
            chapter.score(model, name, seed=seed)
    claim = Claim("longer training helps", "long", "short", +1)
    with pytest.raises(SRLibError, match="unequal training budgets"):
        chapter.claims([claim])
    declared = Claim("longer training helps", "long", "short", +1, unequal="that is the point")
    table = chapter.claims([declared])
    assert "8 steps, 16 samples" in table and "2 steps, 4 samples" in table
    assert "unequal budgets: that is the point" in table
    with pytest.raises(SRLibError, match="not trained in this chapter run"):
        chapter.budget("never")
    # one table from claims judged at several scales or sets; per-seed means; records' minutes
    rows = chapter.claim_rows([declared]) + chapter.claim_rows([declared], sets=["Set5"])
    assert len(rows) == 2 and rows[0]["verdict"] == rows[1]["verdict"]
    per_seed = [chapter.scores.results[f"long@{s}", 2, "Set5"][0] for s in chapter.seeds]
    assert chapter.mean("long", 2, "Set5")[0] == pytest.approx(sum(per_seed) / 2)
    with pytest.raises(SRLibError, match="was not scored"):
        chapter.mean("long", 4)
    assert 0 < records.minutes(chapter.trained["long", 0]) < 5 and records.minutes(None) == 0


def test_a_continued_result_counts_its_earlier_phases_and_cells_show_each_seed(chapter,
                                                                               data):
    for seed in chapter.seeds:
        model = vdsr(seed)
        chapter.train(model, "pre", CONFIG, data, seed=seed, quiet=True)
        chapter.train(model, "fine", CONFIG, data, seed=seed, quiet=True)
        chapter.score(model, "fine", seed=seed, sets=["Set5"])
    total = chapter.budget("fine", 1, model=model, after=("pre",))
    assert (total.steps, total.samples) == (8, 16)
    assert total.params == sum(p.numel() for p in model.parameters())
    with pytest.raises(SRLibError, match="'nothing' .* was not trained"):
        chapter.budget("fine", 0, after=("nothing",))
    per_seed = [chapter.scores.results[f"fine@{s}", 2, "Set5"][0] for s in chapter.seeds]
    assert chapter.cell("fine") == (f"{sum(per_seed) / 2:.2f} ({per_seed[0]:.2f}, "
                                    f"{per_seed[1]:.2f})")
    with pytest.raises(SRLibError, match="was not scored"):
        chapter.cell("pre")


def test_build_follows_the_seed(chapter):
    a, b = (chapter.build("vdsr", seed=s, scale=2, width=4, depth=3) for s in (0, 0))
    c = chapter.build("vdsr", seed=1, scale=2, width=4, depth=3)
    assert torch.equal(a.body[0].weight, b.body[0].weight)
    assert not torch.equal(a.body[0].weight, c.body[0].weight)


def test_claims_pair_the_seeds_both_sides_have_and_take_untrained_budgets(chapter, data):
    from sr_lib.stats import Budget

    for seed in chapter.seeds:  # "both" with every seed, "once" with seed 0 only
        model = vdsr(seed)
        chapter.train(model, "both", CONFIG, data, seed=seed, quiet=True)
        chapter.score(model, "both", seed=seed)
    once = vdsr(0)
    chapter.train(once, "once", CONFIG, data, seed=0, quiet=True)
    chapter.score(once, "once", seed=0)
    bicubic = build("bicubic", scale=2, in_channels=1)
    for seed in chapter.seeds:
        chapter.score(bicubic, "bicubic", seed=seed)
    assert chapter.scored_seeds("once") == [0] and chapter.scored_seeds("both") == [0, 1]
    table = chapter.claims([("same budget", "once", "both", 1),
                            Claim("beats bicubic", "both", "bicubic", 1, unequal="untrained")],
                           budgets={"bicubic": Budget(0, 0)})
    assert "once [seeds [0]]" not in table  # the claim text is shown, the seeds column says 1
    lines = table.splitlines()
    assert "| same budget |" in lines[2] and "| 1 |" in lines[2]
    assert "| beats bicubic |" in lines[3] and "| 2 |" in lines[3]
    assert "0 steps, 0 samples" in lines[3]
    with pytest.raises(SRLibError, match="no budget"):
        chapter.claims([("no budget", "both", "bicubic", 1)])
    with pytest.raises(SRLibError, match="share no scored seed"):
        chapter.claims([("never scored", "both", "missing", 1)])


def test_chapter_2_paper_profile_is_the_papers():
    from sr_lib import profiles

    paper, released = chapters.params("ch02", "paper"), profiles.paper("prosr").params
    ours = {"train": paper.train, "features": paper.features, "growth": paper.growth,
            "layers": paper.layers, "iters": paper.iterations,
            "gan_iters": paper.gan_iterations, "batch": paper.batch,
            "patch": dict(zip((2, 4, 8), paper.patch)), "lr": paper.lr,
            "val_every": paper.val_every, "d_every": paper.d_every,
            "eval_sets": list(paper.eval_sets)}
    assert ours == {k: released[k] for k in ours}
    assert paper.schedule == released["schedule"]["scheduler"] == "plateau"


def test_chapter_3_paper_profile_is_the_papers():
    from sr_lib import profiles

    paper, released = chapters.params("ch03", "paper"), profiles.paper("srp").params
    fields_ = ("blocks", "feats", "pretrain", "delta", "interval", "ceiling", "bias_factor",
               "stabilize", "finetune", "batch", "patch", "lr", "ratios", "record_every")
    assert {k: getattr(paper, k) for k in fields_} == {k: released[k] for k in fields_}
    assert (paper.train, list(paper.eval_sets)) == (released["train"], released["eval_sets"])
    for phase, settings in released["schedules"].items():
        assert paper.schedule_of(phase) == settings
    book = chapters.params("ch03", "book")  # the released balance: Delta and tau / 255
    assert book.ceiling == paper.ceiling and book.bias_factor == paper.bias_factor
    assert book.schedule_of("regularise") == {"scheduler": None}  # fixed, as released
    assert book.schedule_of("finetune") == {"scheduler": "cosine", "min_lr": book.lr / 10}
    with pytest.raises(SRLibError, match="schedule must be"):
        chapters.with_changes(book, schedule="linear").schedule_of("finetune")


def test_chapter_1_paper_profile_is_the_papers():
    paper = chapters.params("ch01", "paper")
    ours = {"features": paper.features, "blocks": paper.blocks, "K": paper.K, "fb": paper.fb,
            "iters": paper.iterations, "batch": paper.batch, "patch": paper.patch,
            "lr": paper.lr, "init": paper.init, "x0": paper.x0, "train": paper.train,
            "eval_sets": list(paper.eval_sets)}
    from sr_lib import profiles

    theirs = profiles.paper("isrrescnet").params
    assert ours == {k: theirs[k] for k in ours}


def test_scores_computed_elsewhere_can_be_judged(chapter):
    for seed in chapter.seeds:
        chapter.add_scores("late", seed, [30.0 + seed, 31.0, 32.0])
        chapter.add_scores("early", seed, [29.0 + seed, 30.5, 31.0])
    table = chapter.claims([("later is better", "late", "early", 1)], budgets=False)
    assert "| later is better | +0.83" in table and "holds" in table


def test_recipes_train_through_the_chapter(chapter, small_images, capsys):
    from sr_lib.pruning import l1_prune

    rgb = SRDataset(small_images, 2)
    torch.manual_seed(0)
    dense = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)
    phases = []

    def schedule(phase):
        phases.append(phase)
        return CONFIG

    fit = chapter.fitter(schedule, rgb, seed=1)
    l1_prune(dense, 0.5, fit, 3, name="l1_0.5")
    assert phases == ["finetune"] and chapter.checkpoint("l1_0.5", 1).exists()
    assert chapter.budget("l1_0.5", 1).steps == 3
    assert "[l1_0.5, seed 1] trained in this run (3 steps, 6 samples" in capsys.readouterr().out


def test_a_published_network_comes_back_with_its_record(chapter, data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no book/web beside it: the run's own folder
    model = vdsr()
    with pytest.raises(SRLibError, match="not trained in this chapter run"):
        chapter.publish(model, "net", build=dict(name="vdsr", scale=2, width=4, depth=3))
    chapter.train(model, "net", CONFIG, data)
    with pytest.raises(SRLibError, match="build="):
        chapter.publish(model, "net")
    path = chapter.publish(model, "net", build=dict(name="vdsr", scale=2, width=4, depth=3))
    assert path == chapter.root / "published" / "ch00_net.pt"
    from sr_lib.harness import load_published

    again, meta = load_published(path)
    x = torch.rand(1, 1, 9, 7)
    with torch.no_grad():
        assert torch.equal(again(x), model.eval()(x))
    assert meta["record"]["steps"] == 4 and meta["chapter"] == "ch00"
