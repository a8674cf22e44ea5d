import pytest
import torch

from sr_lib.complexity import (
    activation_bytes,
    compare_latency,
    cost_row,
    count_macs,
    count_params,
    measure_latency,
    peak_memory,
    summary,
)
from sr_lib.errors import SRLibError
from sr_lib.models import build, names, options, register

# Parameter counts quoted by the papers (and reproduced by the EDSR-PyTorch layer lists).
PAPER_COUNTS = [
    ("edsr-baseline", 2, {}, 1_369_859),  # SRP Table 1: 1,369.9K
    ("edsr-baseline", 4, {}, 1_517_571),  # ~1.5M (ISRResCNet Table II)
    ("vdsr", 2, {}, 664_704),  # ~665K
    ("vdsr", 2, {"width": 13}, 27_612),  # AIL: VDSR-f13 ~28K
    ("vdsr", 2, {"width": 16}, 41_760),
    ("vdsr", 2, {"width": 22}, 78_804),
    ("vdsr", 2, {"width": 32}, 166_464),
    ("edsr-baseline", 2, {"n_feats": 256, "tail": "lite"}, 19_507_468),  # SRPN-Lite backbone
    ("edsr-baseline", 2, {"n_feats": 45, "tail": "lite"}, 609_042),  # SRPN-Lite 609K
    ("srcnn", 3, {}, 8_129),
]


@pytest.mark.parametrize("name,scale,opts,expected", PAPER_COUNTS)
def test_parameter_counts(name, scale, opts, expected):
    assert count_params(build(name, scale=scale, **opts)) == expected


@pytest.mark.slow
def test_large_model_counts():
    assert count_params(build("edsr", scale=2)) == pytest.approx(40.7e6, rel=0.005)
    assert count_params(build("rcan", scale=4)) == pytest.approx(15.59e6, rel=0.005)
    srpn = build("rcan", scale=2, n_feats=96, attention=False)
    assert count_params(srpn) == pytest.approx(34.5e6, rel=0.005)  # SRP: 34.5M


@pytest.mark.parametrize("name", ["bicubic", "srcnn", "vdsr", "edsr-baseline", "rcan",
                                  "isrrescnet"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_odd_sizes_all_scales(name, scale):
    small = {"rcan": {"n_resgroups": 1, "n_resblocks": 1, "n_feats": 16},
             "edsr-baseline": {"n_resblocks": 1, "n_feats": 8}, "vdsr": {"width": 4, "depth": 3},
             "isrrescnet": {"iterations": 2, "features": 8, "blocks": 1}}
    model = build(name, scale=scale, **small.get(name, {})).eval()
    x = torch.rand(1, model.in_channels, 7, 9)
    with torch.no_grad():
        assert model(x).shape == (1, model.in_channels, 7 * scale, 9 * scale)


def test_x8_and_unsupported_scale():
    model = build("edsr-baseline", scale=8, n_resblocks=1, n_feats=4)
    assert model(torch.rand(1, 3, 3, 3)).shape[-1] == 24
    with pytest.raises(SRLibError, match="x5"):
        build("edsr-baseline", scale=5)


def test_registry_errors_and_options():
    assert {"bicubic", "srcnn", "vdsr", "edsr", "edsr-baseline", "rcan", "isrrescnet"} <= set(
        names())
    with pytest.raises(SRLibError, match="unknown model"):
        build("edsr_baseline")
    with pytest.raises(SRLibError, match="width"):
        build("edsr-baseline", width=3)
    assert options("vdsr")["width"] == 64
    assert options("edsr")["n_feats"] == 256 and "tail" in options("edsr")
    assert options("rcan")["attention"] is True
    with pytest.raises(SRLibError):
        register("Bad_Name", "x:y")


def test_rcan_attention_switch_changes_params():
    a = count_params(build("rcan", scale=2, n_resgroups=1, n_resblocks=2, n_feats=32))
    b = count_params(build("rcan", scale=2, n_resgroups=1, n_resblocks=2, n_feats=32,
                           attention=False))
    assert a - b == 2 * (32 * 2 + 2 + 2 * 32 + 32)  # two CA modules (C/r=2)


def test_macs():
    # EDSR-baseline x2 at 1280x720 output: 316.2G multiply-adds (SRP / literature tables).
    model = build("edsr-baseline", scale=2)
    assert count_macs(model, output_size=(720, 1280)) == pytest.approx(316.2e9, rel=0.001)
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    conv.scale = 1
    assert count_macs(conv, input_size=(10, 10)) == 3 * 5 * 9 * 100
    info = summary(build("vdsr", scale=2, width=13), input_size=(96, 96))
    assert info["params"] == 27_612 and info["input_size"] == [96, 96]
    with pytest.raises(SRLibError):
        count_macs(model, output_size=(721, 1280))


def test_activation_bytes_counts_leaf_outputs():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    net.scale = 1
    assert activation_bytes(net, input_size=(5, 6)) == 2 * 4 * 5 * 6 * 4  # two float32 maps
    # pre-upsampling keeps its maps at HR size: s^2 times more than at LR size
    pre = build("vdsr", scale=4, width=8, depth=3)
    post = build("edsr-baseline", scale=4, n_resblocks=1, n_feats=8)
    assert activation_bytes(pre, input_size=(8, 8)) > activation_bytes(post, input_size=(8, 8))


def test_latency_reports_conditions():
    out = measure_latency(build("srcnn", scale=2), (16, 16), warmup=1, repeats=3, threads=1)
    assert out["threads"] == 1 and out["repeats"] == 3 and out["median_ms"] > 0


def test_peak_memory_counts_what_a_forward_pass_allocates():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    small, large = peak_memory(conv, (16, 16)), peak_memory(conv, (64, 64))
    assert 8 * 16 * 16 * 4 <= small < 1e6  # at least the output, far less than a megabyte
    assert large > 10 * small  # 16 times the pixels


def test_cost_row_uses_both_conventions():
    model = build("edsr-baseline", scale=2, n_resblocks=1, n_feats=8)
    row = cost_row(model, hr_output=(64, 64), lr_input=(16, 16))
    assert row["params"] == count_params(model)
    # a 64x64 output at x2 is a 32x32 input: four times the work of a 16x16 input
    assert row["GMACs (1280x720 out)"] == pytest.approx(4 * row["GMACs (256x256 in)"])
    assert row["peak MB (256x256 in)"] > 0
def test_models_timed_in_interleaved_rounds():
    calls = []

    class Counted(torch.nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name, self.conv = name, torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            calls.append(self.name)
            return self.conv(x)

    out = compare_latency({"a": Counted("a"), 0.5: Counted("b")}, (8, 8), repeats=4,
                          warmup=1)
    assert calls == ["a", "b"] * 5  # one warm-up round, then four timed ones, A B A B ...
    for row in out.values():
        assert 0 < row["q1_ms"] <= row["median_ms"] <= row["q3_ms"] and row["repeats"] == 4
        assert row["text"].startswith(f"{row['median_ms']:.1f} (IQR ")
