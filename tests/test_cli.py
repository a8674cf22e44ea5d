import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sr_lib.cli import main


def test_params_json(capsys):
    assert main(["params", "vdsr", "--scale", "2", "--width", "13", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == 27_612 and out["macs"] > 0 and out["options"] == {"width": 13}


def test_errors_are_one_line(capsys):
    assert main(["params", "edsr-baseline", "--scale", "2", "--depth", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "n_resblocks" in err[0]
    assert main(["eval", "--model", "nope", "--scale", "2", "--data", "Set5"]) == 2
    assert main(["eval", "--model", "bicubic", "--scale", "2", "--data", "/no/such"]) == 2
    assert "neither a folder" in capsys.readouterr().err


def test_eval_upscale_train_on_folder(tmp_path, small_images, capsys):
    hr = tmp_path / "hr"
    hr.mkdir()
    for i, img in enumerate(small_images):
        Image.fromarray(img).save(hr / f"{i}.png")
    assert main(["eval", "--model", "bicubic", "--scale", "2", "--data", str(hr), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_images"] == 3 and 15 < res["psnr"] < 60 and 0 < res["ssim"] < 1
    out = tmp_path / "run"
    assert main(["train", "--model", "srcnn", "--scale", "2", "--data", str(hr),
                 "--iterations", "3", "--batch-size", "2", "--patch", "16", "--out", str(out),
                 "--n1", "8", "--n2", "4"]) == 0
    assert (out / "weights.pt").exists() and (out / "checkpoint.pt").exists()
    assert main(["upscale", str(hr / "0.png"), str(tmp_path / "up.png"), "--model", "srcnn",
                 "--scale", "2", "--weights", str(out / "weights.pt"), "--n1", "8",
                 "--n2", "4"]) == 0
    assert np.asarray(Image.open(tmp_path / "up.png")).shape == (128, 144, 3)


@pytest.mark.data
def test_eval_contract_subprocess(data_root):
    cmd = [sys.executable, "-m", "sr_lib", "eval", "--model", "bicubic", "--scale", "4",
           "--data", str(data_root / "Set5" / "HR"), "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout)
    assert out["n_images"] == 5
    assert abs(out["psnr"] - 28.42) <= 0.03 and abs(out["ssim"] - 0.8104) <= 0.002
