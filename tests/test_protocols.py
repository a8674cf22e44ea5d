import numpy as np
import pytest
import torch

from sr_lib.datasets import MultiScaleData, SRDataset
from sr_lib.errors import SRLibError
from sr_lib.models import build
from sr_lib.protocols import vdsr_config, vdsr_data, vdsr_epoch, vdsr_lr_patch
from sr_lib.train import Trainer


def test_vdsr_config_is_the_released_protocol():
    cfg = vdsr_config(500, scale=3)
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay) == ("sgd", 0.1, 0.9, 1e-4)
    assert (cfg.loss, cfg.reduction, cfg.grad_clip, cfg.batch_size) == ("l2", "sum", 0.4, 128)
    assert (cfg.scheduler, cfg.step_size, cfg.gamma) == ("step", 100, 0.1)  # 10 of 50 epochs
    assert cfg.lr_patch == 14 and vdsr_lr_patch(2) == 20 and vdsr_lr_patch(4) == 10
    ail = vdsr_config(60, scheduler=None, batch_size=4, progress=False)
    assert ail.scheduler is None and ail.batch_size == 4 and ail.step_size == 12
    with pytest.raises(SRLibError, match="decay_every"):
        vdsr_config(10, decay_every=0)


def test_vdsr_data_mixes_scales_on_the_y_channel(small_images):
    train, per_scale = vdsr_data(small_images, (2, 3), downsize=(1.0, 0.5))
    assert isinstance(train, MultiScaleData) and sorted(per_scale) == [2, 3]
    assert len(per_scale[2]) == 2 * len(small_images)  # every image at both sizes
    assert per_scale[3].hr[0].shape[0] == 1  # Y only
    batch = train.batch(4, step=0, seed=0)
    s, side = batch["scale"], vdsr_lr_patch(batch["scale"])
    assert batch["lr"].shape[-1] == side and batch["hr"].shape[-1] == s * side
    single, only = vdsr_data(small_images, (2,), downsize=(1.0,))
    assert isinstance(single, SRDataset) and single is only[2]
    with pytest.raises(SRLibError, match="scale"):
        vdsr_data(small_images, ())


def test_vdsr_epoch_counts_patches_flips_and_rotations():
    img = np.zeros((82, 123, 3), np.uint8)  # x2: LR 41 x 61 -> 2 x 3 patches of 20
    _, per_scale = vdsr_data([img], (2, 4), downsize=(1.0,))
    assert vdsr_epoch(per_scale, batch_size=12, scales=(2,)) == 6  # 12 x 6 patches / 12
    lr4 = per_scale[4].lr[0].shape[-2:]
    n4 = (lr4[0] // 10) * (lr4[1] // 10)
    assert vdsr_epoch(per_scale, batch_size=1) == 12 * (6 + n4)
    with pytest.raises(SRLibError, match="no data for scales"):
        vdsr_epoch(per_scale, scales=(3,))


def test_vdsr_protocol_trains_a_student(small_images):
    torch.manual_seed(0)
    train, _ = vdsr_data(small_images[:2], (2, 3), downsize=(1.0,))
    model = build("vdsr", scale=2, width=4, depth=4)
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(model, train, vdsr_config(4, batch_size=2, progress=False)).fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
