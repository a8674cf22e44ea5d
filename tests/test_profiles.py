"""Every chapter's ``paper`` profile gets through set-up on a CPU: its trainer settings build,
its data plan says what is there and what is missing, and its table is complete."""

import math

import pytest
import torch

from sr_lib import catalog, ranges
from sr_lib.errors import DatasetNotFoundError
from sr_lib.models import build
from sr_lib.profiles import PAPER, paper
from sr_lib.resize import imresize
from sr_lib.train import TrainConfig


@pytest.mark.parametrize("key", sorted(PAPER))
def test_paper_profile_sets_up_without_training(key, tmp_path):
    profile = paper(key)
    configs = profile.configs()
    assert configs and all(isinstance(c, TrainConfig) for c in configs.values())
    rows = profile.table()
    assert len(rows) >= 6
    assert all(all(str(v).strip() for v in row.values()) for row in rows)
    assert {"data", "evaluation"} <= {row["setting"] for row in rows}
    empty = profile.data_plan(tmp_path)  # nothing there: every set named as missing
    assert all(r["images"] == 0 and str(tmp_path) in r["missing"] for r in empty)


@pytest.mark.parametrize("key", sorted(PAPER))
def test_paper_profile_finds_the_shared_test_sets(key, data_root):
    present = paper(key).data_plan(data_root)
    assert all(r["images"] > 0 for r in present if r["set"] in ("Set5", "Set14", "B100"))


def test_unknown_profile_is_named():
    with pytest.raises(Exception, match="known: isrrescnet"):
        paper("edsr")


def test_range_dependent_values_are_converted():
    srp, drn = paper("srp").params, paper("drn").params
    assert srp["delta"] == pytest.approx(1e-4 / 255) and srp["ceiling"] == pytest.approx(0.5 / 255)
    assert srp["bias_factor"] == ranges.bias_factor()
    assert drn["gamma"] == pytest.approx(1 / 255)
    assert drn["search_decay"] == pytest.approx(3e-4 / 255)
    assert paper("drn").configs()["search"].grad_clip == pytest.approx(5 / 255)
    assert paper("ail").configs()["round"].weight_decay == 1e-4  # AIL's code is on [0, 1]


def test_df2k_names_the_missing_flickr2k(tmp_path):
    (tmp_path / "DIV2K" / "HR").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "DIV2K" / "HR" / "0001.png")
    with pytest.raises(DatasetNotFoundError, match="DF2K is DIV2K \\+ Flickr2K, and Flickr2K "
                                                   "is missing.*Flickr2K/HR"):
        catalog.find("DF2K", tmp_path)


def test_isrrescnet_kaiming_init_and_bicubic_start():
    torch.manual_seed(0)
    model = build("isrrescnet", scale=2, features=32, blocks=2, init="kaiming", x0="bicubic")
    convs = [m for m in model.erd.modules() if isinstance(m, torch.nn.Conv2d)]
    w = convs[1].weight.detach()
    expected = math.sqrt(2 / (1 + 0.1**2) / w[0].numel())
    assert float(w.std()) == pytest.approx(expected, rel=0.1)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in convs)
    lr = torch.rand(1, 3, 9, 11)
    assert torch.allclose(model.init_state(lr)["x"], imresize(lr, size=(18, 22)))
    with pytest.raises(Exception, match="x0 must be"):
        build("isrrescnet", scale=2, x0="nearest")
