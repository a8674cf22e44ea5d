"""Messages that used to be cryptic now name the file, key or value at fault."""

import numpy as np
import pytest
import torch

from sr_lib.datasets import SRDataset
from sr_lib.errors import SRLibError
from sr_lib.evaluate import evaluate
from sr_lib.models import build
from sr_lib.train import TrainConfig, load_weights, save_weights


@pytest.mark.parametrize("opts,match", [(dict(n_feats="abc"), "is a number"),
                                        (dict(n_feats=0), "at least 1"),
                                        (dict(n_resblocks=True), "is a number")])
def test_bad_model_options(opts, match):
    with pytest.raises(SRLibError, match=match):
        build("edsr-baseline", scale=2, **opts)


@pytest.mark.parametrize("kw", [dict(log_every=0), dict(lr_patch=0), dict(ckpt_every=-1),
                                dict(lr=float("nan")), dict(lr=0.0)])
def test_bad_train_config(kw):
    with pytest.raises(SRLibError, match="TrainConfig"):
        TrainConfig(**kw)


def test_weights_mismatch_names_file_and_keys(tmp_path):
    path = tmp_path / "w.pt"
    save_weights(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=8), path,
                 name="edsr-baseline", scale=2, options={"n_resblocks": 2, "n_feats": 8})
    with pytest.raises(SRLibError, match=r"w\.pt does not fit.*missing.*body\.2") as exc:
        load_weights(build("edsr-baseline", scale=2, n_resblocks=3, n_feats=8), path)
    assert "n_resblocks" in str(exc.value)  # the saved meta says how it was built
    with pytest.raises(SRLibError, match="shape"):
        load_weights(build("edsr-baseline", scale=2, n_resblocks=2, n_feats=16), path)


def test_small_and_empty_evaluation_sets(small_images):
    with pytest.raises(SRLibError, match="smaller than the scale x4: tiny"):
        SRDataset([np.zeros((3, 3, 3), np.uint8)], 4, names=["tiny"])
    data = SRDataset([np.zeros((8, 8, 3), np.uint8)], 4, names=["eight"])
    with pytest.raises(SRLibError, match="image 'eight'"):
        evaluate(build("bicubic", scale=4), data, progress=False)  # shave 4 leaves nothing
    empty = SRDataset(small_images[:1], 2)
    empty.hr, empty.lr, empty.names = [], [], []
    with pytest.raises(SRLibError, match="no images"):
        evaluate(build("bicubic", scale=2), empty, progress=False)


def test_stale_cache_is_rebuilt_with_a_note(tmp_path, small_images, capsys):
    SRDataset(small_images, 2, cache_dir=tmp_path)
    assert capsys.readouterr().err == ""
    changed = [img.copy() for img in small_images]
    changed[0][0, 0] ^= 255  # one pixel differs: the checksum no longer matches
    data = SRDataset(changed, 2, cache_dir=tmp_path)
    assert "rebuilding" in capsys.readouterr().err
    fresh = SRDataset(changed, 2)
    assert all(torch.equal(a, b) for a, b in zip(data.lr, fresh.lr))
    SRDataset(changed, 2, cache_dir=tmp_path)
    assert capsys.readouterr().err == ""  # and now it hits
