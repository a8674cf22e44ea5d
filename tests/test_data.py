import numpy as np
import pytest
import torch
from PIL import Image

from sr_lib import catalog
from sr_lib.datasets import MixUp, MultiScaleData, SRDataset, dihedral, dihedral_inverse
from sr_lib.degrade import Degradation
from sr_lib.errors import DatasetNotFoundError, SRLibError


def test_dihedral_group():
    x = torch.arange(12.0).reshape(1, 3, 4)
    outs = {tuple(dihedral(x, k).flatten().tolist()) + (dihedral(x, k).shape,) for k in range(8)}
    assert len(outs) == 8
    for k in range(8):
        assert torch.equal(dihedral_inverse(dihedral(x, k), k), x)


def test_dataset_pairs_and_patches(small_images):
    ds = SRDataset(small_images, 3)
    item = ds[2]
    assert item["hr"].shape[-2:] == (57, 90) and item["lr"].shape[-2:] == (19, 30)
    b = ds.batch(5, 8, step=3, seed=1)
    assert b["lr"].shape == (5, 3, 8, 8) and b["hr"].shape == (5, 3, 24, 24)
    again = ds.batch(5, 8, step=3, seed=1)
    assert torch.equal(b["hr"], again["hr"])
    assert not torch.equal(b["hr"], ds.batch(5, 8, step=4, seed=1)["hr"])
    # patches stay aligned: degrading the HR patch gives back the LR patch up to borders
    lr = Degradation("BI", 3)(b["hr"])
    assert (lr[..., 2:-2, 2:-2] - b["lr"][..., 2:-2, 2:-2]).abs().max() < 0.02
    with pytest.raises(SRLibError, match="smaller"):
        ds.batch(2, 100, step=0)


def test_y_channel_and_cache(small_images, tmp_path):
    ds = SRDataset(small_images, 2, channels="y", cache_dir=tmp_path)
    assert ds[0]["hr"].shape[0] == 1
    assert list(tmp_path.glob("*.pt"))
    ds2 = SRDataset(small_images, 2, channels="y", cache_dir=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(ds.lr, ds2.lr))


def test_folder_and_errors(tmp_path, small_images):
    for i, img in enumerate(small_images):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
    ds = SRDataset(tmp_path, 2)
    assert len(ds) == 3 and ds.names == ["0", "1", "2"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SRLibError, match="no PNG"):
        SRDataset(empty, 2)


def test_multiscale_one_scale_per_batch(small_images):
    data = MultiScaleData({2: SRDataset(small_images, 2), 4: SRDataset(small_images, 4)},
                          {2: 12, 4: 6})
    scales = {data.batch(2, None, step)["scale"] for step in range(20)}
    assert scales == {2, 4}
    b = data.batch(2, None, 5)
    assert b["hr"].shape[-1] == 24


def test_mixup_keeps_observation_model(small_images):
    deg = Degradation("BI", 2, quantize=False)
    batch = SRDataset(small_images, 2).batch(4, 10, step=0)
    mixed = MixUp(deg, p=1.0)(batch, step=0)
    assert torch.allclose(mixed["lr"], deg(mixed["hr"]))
    assert not torch.equal(mixed["hr"], batch["hr"])
    assert torch.equal(MixUp(deg, p=1.0)(batch, 0)["hr"], mixed["hr"])  # deterministic


def test_catalog_lookup_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        catalog.find("Set5", tmp_path)
    assert str(tmp_path / "Set5" / "HR") in str(err.value)
    assert catalog.info("bsd100").name == "B100"
    with pytest.raises(SRLibError, match="unknown dataset"):
        catalog.info("Set6")
    (tmp_path / "T91" / "HR").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "T91" / "HR" / "t1.png")
    (tmp_path / "BSD200").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "BSD200" / "b.png")
    assert [p.name for p in catalog.find("291", tmp_path)] == ["t1.png", "b.png"]


def test_download_verifies_checksums(tmp_path, data_root):
    files = {url: (data_root / "Set5" / "HR" / f"{stem}.png").read_bytes()
             for stem, _, url in catalog.info("Set5").files}
    target = catalog.download("Set5", tmp_path, fetch=files.__getitem__)
    assert len(list(target.glob("*.png"))) == 5 and catalog.verify("Set5", tmp_path) == []
    (target / "baby.png").unlink()
    wrong = {url: files[list(files)[-1]] for url in files}  # every URL serves one image
    with pytest.raises(SRLibError, match="checksum"):
        catalog.download("Set5", tmp_path, fetch=wrong.__getitem__)
    with pytest.raises(SRLibError, match="no pinned checksums"):
        catalog.download("Urban100", tmp_path)


def test_failed_first_download_leaves_no_empty_folder(tmp_path, monkeypatch):
    def offline(url):
        raise OSError("network is unreachable")

    with pytest.raises(SRLibError, match="could not fetch"):
        catalog.download("Set5", tmp_path, fetch=offline)
    assert not (tmp_path / "Set5").exists()
    monkeypatch.delenv("SR_DATA", raising=False)
    if catalog.data_root(None) is None:  # the message names the CLI flag too
        with pytest.raises(SRLibError, match="--root"):
            catalog.download("Set5", None, fetch=offline)


@pytest.mark.data
def test_real_sets_verify(data_root):
    for name in ("Set5", "Set14", "B100", "T91", "BSD200"):
        assert catalog.verify(name, data_root) == [], name


def test_sample_images_offline():
    pytest.importorskip("skimage")
    imgs = catalog.sample_images(("astronaut", "camera"))
    assert imgs[0].shape == (512, 512, 3) and imgs[1].shape[2] == 3


def test_partial_download_is_fetched_again(tmp_path, data_root):
    files = {url: (data_root / "Set5" / "HR" / f"{stem}.png").read_bytes()
             for stem, _, url in catalog.info("Set5").files}
    target = tmp_path / "Set5" / "HR"
    target.mkdir(parents=True)
    (target / "baby.png").write_bytes(files[next(iter(files))][:1000])  # an interrupted file
    catalog.download("Set5", tmp_path, fetch=files.__getitem__)
    assert catalog.verify("Set5", tmp_path) == []


def _zip(entries) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def test_archives_are_unpacked_defensively(tmp_path):
    import io

    png = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png, format="PNG")
    target = tmp_path / "out"
    with pytest.raises(SRLibError, match="several files named"):
        catalog._unpack_archive(_zip([("a/x.png", png.getvalue()), ("b/x.png", b"1")]), target)
    with pytest.raises(SRLibError, match="zip bomb"):
        catalog._unpack_archive(_zip([("big.png", bytes(50 << 20))]), target)
    assert not target.exists() or not any(target.iterdir())
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"keep")
    target.mkdir(exist_ok=True)
    (target / "x.png").symlink_to(outside)
    catalog._unpack_archive(_zip([("x.png", png.getvalue())]), target)
    assert outside.read_bytes() == b"keep" and not (target / "x.png").is_symlink()


def test_parallel_cache_builds_all_succeed(tmp_path, small_images):
    import subprocess
    import sys

    for i, img in enumerate(small_images):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
    code = ("import sys; from sr_lib.datasets import SRDataset; "
            "d = SRDataset(sys.argv[1], 2, cache_dir=sys.argv[2]); print(len(d))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "c")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(6)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-300:] for r in results]
    cached = list((tmp_path / "c").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".pt"  # no stray temporary files
    (tmp_path / "c" / cached[0].name).write_bytes(b"corrupt")
    assert len(SRDataset(str(tmp_path), 2, cache_dir=tmp_path / "c")) == 3  # rebuilt
