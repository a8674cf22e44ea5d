"""Every checkpoint carries its record: commit, settings and code digests, hardware, wall time,
steps and samples seen. A resumed run must match it, and a chapter can say truthfully where and
when each result was trained."""

import pytest
import torch

from sr_lib import records
from sr_lib.datasets import MultiScaleData, SRDataset
from sr_lib.errors import SRLibError
from sr_lib.models import build
from sr_lib.pruning import GrowingRegularizer, analyze, plan_srp
from sr_lib.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def data(small_images):
    return SRDataset(small_images, 2)


def tiny():
    torch.manual_seed(0)
    return build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)


def cfg(path, **kw):
    base = dict(iterations=6, batch_size=2, lr_patch=8, lr=1e-3, progress=False, log_every=2,
                ckpt_path=str(path))
    base.update(kw)
    return TrainConfig(**base)


def test_a_checkpoint_records_how_it_was_trained(data, tmp_path):
    Trainer(tiny(), data, cfg(tmp_path / "c.pt")).fit()
    rec = torch.load(tmp_path / "c.pt", weights_only=True)["record"]  # plain types only
    assert rec["steps"] == 6 and rec["samples"] == 12 and rec["samples_per_scale"] == {"2": 12}
    assert rec["code_digest"] == records.code_digest() and "train.py" in rec["code"]
    assert rec["settings"]["config"]["lr"] == 1e-3 and rec["settings"]["model"] == "EDSR"
    assert "iterations" not in rec["settings"]["config"]  # bookkeeping is not a setting
    (seg,) = rec["segments"]
    assert seg["run"] == records.run_id() and seg["first_step"] == 0 and seg["last_step"] == 6
    assert seg["seconds"] > 0 and seg["hardware"] and seg["started"][:2] == "20"
    assert records.trained_here(rec) and records.describe(rec).startswith("trained in this run")


def test_samples_are_counted_per_scale(small_images, tmp_path):
    """One ProSR network trained on x2, x4 and x8 batches: the record splits the samples."""
    from sr_lib.progressive import MultiScaleTraining

    torch.manual_seed(0)
    net = build("prosr-s", scale=4, features=8, growth=4, dcus=(2, 1, 1), layers=2)
    multi = MultiScaleData({s: SRDataset(small_images, s) for s in (2, 4, 8)},
                           {2: 8, 4: 6, 8: 4})
    trainer = Trainer(net, multi, cfg(tmp_path / "m.pt", iterations=9, batch_size=2),
                      hooks=[MultiScaleTraining(curriculum=False)])
    trainer.fit()
    per = trainer.record["samples_per_scale"]
    assert sum(per.values()) == 18 and set(per) <= {"2", "4", "8"} and len(per) > 1
    assert trainer.record["settings"]["hooks"][0]["curriculum"] is False


def test_resume_across_processes_names_both_runs(data, tmp_path, monkeypatch):
    monkeypatch.setenv("SRBOOK_RUN", "earlier-run")
    Trainer(tiny(), data, cfg(tmp_path / "c.pt", iterations=4)).fit()
    monkeypatch.setenv("SRBOOK_RUN", "this-run")
    trainer = Trainer(tiny(), data, cfg(tmp_path / "c.pt", iterations=6))
    trainer.fit()
    rec = trainer.record
    assert [s["run"] for s in rec["segments"]] == ["earlier-run", "this-run"]
    assert rec["steps"] == 6 and not records.trained_here(rec)
    said = records.describe(rec)
    assert said.startswith("resumed from an earlier run")
    assert "batches 0-4 in run earlier-run" in said
    assert "batches 4-6 in this run" in said
    # a finished checkpoint loaded by a later run that trains nothing: "not trained in this one"
    monkeypatch.setenv("SRBOOK_RUN", "a-later-run")
    later = Trainer(tiny(), data, cfg(tmp_path / "c.pt", iterations=6))
    later.fit()
    assert len(later.record["segments"]) == 2  # no empty segment for a run that trained nothing
    assert records.describe(later.record).startswith("loaded from an earlier run, not trained")


def test_changed_code_is_refused_with_the_files_then_kept_on_purpose(data, tmp_path,
                                                                     monkeypatch):
    Trainer(tiny(), data, cfg(tmp_path / "c.pt", iterations=4)).fit()
    changed = {**records.code_files(), "models/edsr.py": "0123456789ab"}
    monkeypatch.setattr(records, "code_files", lambda: changed)
    with pytest.raises(SRLibError, match=r"sr_lib changed since it was written \(models/edsr.py\)"):
        Trainer(tiny(), data, cfg(tmp_path / "c.pt")).fit()
    trainer = Trainer(tiny(), data, cfg(tmp_path / "c.pt"))
    trainer.fit(overrides=["code"])
    assert trainer.step == 6 and trainer.record["segments"][-1]["overrides"] == ["code"]


def test_changed_hook_settings_are_refused(data, tmp_path):
    def srp(delta):
        model = tiny()
        structure = analyze(model)
        return model, GrowingRegularizer(model, plan_srp(model, structure, 0.5), delta=delta)

    model, hook = srp(0.1)
    Trainer(model, data, cfg(tmp_path / "c.pt", iterations=4), hooks=[hook]).fit()
    model, hook = srp(0.2)
    with pytest.raises(SRLibError, match="hooks:"):
        Trainer(model, data, cfg(tmp_path / "c.pt"), hooks=[hook]).fit()
    model, hook = srp(0.1)  # the same settings: resumes
    trainer = Trainer(model, data, cfg(tmp_path / "c.pt"), hooks=[hook])
    trainer.fit()
    assert trainer.step == 6


def test_a_checkpoint_without_a_record_is_not_resumed_silently(data, tmp_path):
    Trainer(tiny(), data, cfg(tmp_path / "c.pt", iterations=4)).fit()
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    del state["record"]
    torch.save(state, tmp_path / "c.pt")
    with pytest.raises(SRLibError, match="predates sr_lib's records"):
        Trainer(tiny(), data, cfg(tmp_path / "c.pt")).fit()


def test_differences_name_settings_model_and_hooks():
    a = records.new_record({"config": {"lr": 1e-3}, "model": "EDSR", "hooks": []})
    b = records.new_record({"config": {"lr": 1e-4}, "model": "VDSR", "hooks": [{"class": "X"}]})
    said = records.differences(a, b)
    assert said[0] == "setting lr: 0.001 in the checkpoint, 0.0001 now"
    assert any(s.startswith("model: EDSR") for s in said)
    assert any(s.startswith("hooks:") for s in said)
    assert records.differences(a, b, config=False)[0].startswith("model")
    assert records.differences(a, a) == []


def test_truncated_backpropagation_counts_every_optimiser_step(data, tmp_path):
    """TBPTT (k1 = 2) steps the optimiser twice per batch of a K = 4 ISRResCNet: a budget of
    batches would understate its training by half."""
    from sr_lib.train import TBPTT

    torch.manual_seed(0)
    model = build("isrrescnet", scale=2, iterations=4, features=4, blocks=1)
    Trainer(model, data, cfg(tmp_path / "t.pt", iterations=3), hooks=[TBPTT(2, 2)]).fit()
    rec = torch.load(tmp_path / "t.pt", weights_only=True)["record"]
    assert (rec["steps"], rec["batches"], rec["samples"]) == (6, 3, 6)
    assert "6 optimiser steps on 3 batches" in records.describe(rec)
