"""Foreign checkpoints: read without running code, converted with checks, usable everywhere."""

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from sr_lib import cli
from sr_lib.errors import SRLibError
from sr_lib.foreign import CheckpointMismatch, Opaque, convert, read_checkpoint
from sr_lib.models import build
from sr_lib.train import load_weights

AIL = Path(__file__).resolve().parents[1].parent / "shared" / "weights" / "ail"


class ConvReLU(nn.Module):  # the authors' layout, re-created here (never imported by sr_lib)
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x))


class ForeignVDSR(nn.Module):
    def __init__(self, c=5, depth=6):
        super().__init__()
        self.input = nn.Conv2d(1, c, 3, padding=1, bias=False)
        self.residual_layer = nn.Sequential(*[ConvReLU(c) for _ in range(depth - 2)])
        self.output = nn.Conv2d(c, 1, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return x + self.output(self.residual_layer(self.relu(self.input(x))))


class Payload:
    """Unpickling this with pickle.load writes ``marker``: a stand-in for a hostile file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def _save(obj, path, legacy):
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_whole_pickled_model_converts_and_matches(tmp_path, legacy):
    torch.manual_seed(0)
    foreign = nn.DataParallel(ForeignVDSR())  # the AIL files are DataParallel-wrapped
    path = _save({"epoch": 3, "model": foreign}, tmp_path / "ours_ail_r9_f5_s3.pth", legacy)
    tree = read_checkpoint(path)
    assert tree["epoch"] == 3 and isinstance(tree["model"], Opaque)
    assert tree["model"].qualname.endswith("DataParallel")
    conv = convert(path)
    assert (conv.model, conv.options, conv.scale) == ("vdsr", {"width": 5, "depth": 6}, 3)
    model = build("vdsr", scale=3, width=5, depth=6)
    load_weights(model, path)
    x = torch.rand(1, 1, 12, 10)
    with torch.no_grad():
        assert torch.allclose(model.refine(x), foreign.module(x), atol=1e-6)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_checkpoint_mismatches_are_named(tmp_path, legacy):
    path = _save({"model": ForeignVDSR(c=5, depth=6)}, tmp_path / "net_s2.pth", legacy)
    with pytest.raises(CheckpointMismatch, match="width=5"):
        load_weights(build("vdsr", scale=2, width=7, depth=6), path)
    with pytest.raises(CheckpointMismatch, match="--scale 2"):
        load_weights(build("vdsr", scale=4, width=5, depth=6), path)
    with pytest.raises(CheckpointMismatch, match="use --model vdsr"):
        load_weights(build("edsr-baseline", scale=2), path)
    other = _save({"model": nn.Linear(3, 2)}, tmp_path / "linear.pth", legacy)
    with pytest.raises(CheckpointMismatch, match="does not recognise"):
        convert(other)


@pytest.mark.parametrize("how", ["pickle", "legacy", "zip"])
def test_payload_is_never_executed(tmp_path, how):
    marker = tmp_path / "ran.txt"
    blob = pickle.dumps({"model": Payload(marker)}, protocol=2)
    pickle.loads(blob)  # the payload is live: plain unpickling runs it ...
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "evil.pth"
    if how == "pickle":
        path.write_bytes(blob)
    else:
        _save({"model": Payload(marker)}, path, legacy=how == "legacy")
        assert not marker.exists()
    for attempt in (read_checkpoint, convert, lambda p: load_weights(build("vdsr", 2), p)):
        try:
            attempt(path)
        except SRLibError:
            pass
    assert not marker.exists()  # ... ours never does
    if how != "pickle":
        assert read_checkpoint(path)["model"].qualname.endswith(".exec")  # inert stand-in


def test_truncated_and_non_checkpoint_files(tmp_path):
    good = _save({"model": ForeignVDSR()}, tmp_path / "a.pth", legacy=True)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[:-500])
    for bad in (cut, tmp_path / "empty.pth", tmp_path / "text.pth"):
        if bad.name == "text.pth":
            bad.write_text("not a checkpoint\n")
        elif bad.name == "empty.pth":
            bad.write_bytes(b"")
        with pytest.raises(SRLibError):
            read_checkpoint(bad)
    with pytest.raises(SRLibError, match="not found"):
        read_checkpoint(tmp_path / "missing.pth")


def test_cli_convert_writes_weights_only_file(tmp_path, capsys):
    src = _save({"model": ForeignVDSR(c=5, depth=6)}, tmp_path / "x_s2.pth", legacy=True)
    out = tmp_path / "plain.pt"
    assert cli.main(["convert", str(src), str(out)]) == 0
    said = capsys.readouterr().out
    state = torch.load(out, weights_only=True)
    assert state["meta"]["options"] == {"width": 5, "depth": 6}
    # A file from any project with this layout: the layout is named, never a paper or seed.
    for text in (said, state["meta"]["source"]):
        assert "VDSR layout, as in the AIL release" in text and "seed" not in text
    model = build("vdsr", scale=2, width=5, depth=6)
    load_weights(model, out)
    assert cli.main(["convert", str(src), str(src)]) == 2
    assert "other than the input" in capsys.readouterr().err


# --- the AIL authors' released files (skipped when ../shared is absent) --------------------

@pytest.fixture(scope="module")
def ail() -> Path:
    root = Path(os.environ.get("SR_WEIGHTS", AIL.parent)) / "ail"
    if not (root / "model" / "tea_vdsr.pth").is_file():
        pytest.skip(f"the AIL release is not under {root} (../shared/weights)")
    return root


@pytest.mark.data
def test_released_ail_files_convert(ail):
    expected = {"tea_vdsr.pth": (64, None), "pre_vdsr_f13.pth": (13, None),
                **{f"ours_ail_r9_f13_s{s}.pth": (13, s) for s in (2, 3, 4)}}
    for name, (width, scale) in expected.items():
        conv = convert(ail / "model" / name)
        assert conv.options == {"width": width, "depth": 20} and conv.scale == scale
        model = build("vdsr", scale=scale or 2, width=width)
        model.load_state_dict(conv.state_dict)
        assert sum(p.numel() for p in model.parameters()) == {64: 664_704, 13: 27_612}[width]


@pytest.mark.data
def test_cli_scores_released_ail_student(ail, data_root, capsys):
    weights = ail / "model" / "ours_ail_r9_f13_s2.pth"
    code = cli.main(["eval", "--model", "vdsr", "--scale", "2", "--width", "13", "--weights",
                     str(weights), "--data", "Set5", "--root", str(data_root), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert 37.0 < result["psnr"] < 37.6 and result["n_images"] == 5  # paper: 37.43


@pytest.mark.data
def test_matlab_inputs_reproduced(ail):
    from sr_lib.protocols import ail_test_data
    from sr_lib.resize import imresize

    for scale in (2, 3, 4):
        items = ail_test_data(ail / "Set5_mat", scale)
        assert len(items) == 4  # baby's input is absent from the stored copy
        for it in items:
            up = imresize(imresize(it["gt"][None, None], 1 / scale), scale)[0, 0]
            assert float((up - it["input"]).abs().max()) * 255 < 1e-6
