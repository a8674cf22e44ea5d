"""Seed-replicated verdicts: the t quantile, the paired interval and the three outcomes."""

import pytest

from sr_lib.errors import SRLibError
from sr_lib.stats import (
    CONTRADICTED,
    HOLDS,
    NOISE,
    claims_table,
    compare,
    mean_and_seeds,
    over_seeds,
    t_quantile,
    verdict,
)


@pytest.mark.parametrize("df,expected", [(1, 12.706205), (2, 4.302653), (4, 2.776445),
                                         (30, 2.042272)])
def test_t_quantile_matches_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-5)


def test_interval_and_verdicts():
    images = [30.0, 28.0, 33.0, 25.0]
    better = [[x + d for x in images] for d in (0.10, 0.12, 0.08)]
    same = [list(images)] * 3
    worse = [[x - d for x in images] for d in (0.10, 0.12, 0.08)]
    up = compare(better, same, ("A", "B"))
    assert up.mean == pytest.approx(0.10) and up.low > 0
    # by hand: sd 0.02, t(0.975, 2) = 4.3027, half width 4.3027 * 0.02 / sqrt(3)
    assert up.high - up.mean == pytest.approx(4.302653 * 0.02 / 3**0.5, rel=1e-4)
    assert verdict(up, +1) == HOLDS and verdict(up, -1) == CONTRADICTED
    assert verdict(compare(worse, same), +1) == CONTRADICTED
    noisy = [[x + d for x in images] for d in (0.3, -0.2, 0.05)]
    assert verdict(compare(noisy, same), +1) == NOISE
    one = compare(better[:1], same[:1])
    assert verdict(one, +1) == NOISE and "one seed" in str(one)


def test_pairing_is_by_image():
    """A large image-to-image spread that both variants share must not widen the interval."""
    a = [[10.0, 40.0], [11.0, 41.0], [10.5, 40.5]]
    b = [[x - 0.2 for x in s] for s in a]
    diff = compare(a, b)
    assert diff.low == pytest.approx(0.2) and diff.high == pytest.approx(0.2)


def test_claims_table_from_seeded_runs():
    def run(seed):
        return {"dual": [30.0 + 0.1 + 0.01 * seed, 27.0 + 0.1], "plain": [30.0, 27.0]}

    scores = over_seeds(run, [0, 1, 2])
    rows = claims_table([("the dual term helps", "dual", "plain", +1)], scores)
    assert rows[0]["verdict"] == HOLDS and rows[0]["seeds"] == 3


def test_bad_input_is_named():
    with pytest.raises(Exception, match="same number"):
        compare([[1.0]], [[1.0], [2.0]])
    with pytest.raises(Exception, match="same images"):
        compare([[1.0, 2.0]], [[1.0]])


def test_mean_and_seeds_shows_the_spread():
    assert mean_and_seeds([29.0, 29.5, 30.1]) == "29.53 (29.00, 29.50, 30.10)"
    assert mean_and_seeds([0.84], ".4f") == "0.8400"
    with pytest.raises(SRLibError, match="at least one"):
        mean_and_seeds([])


# -- power and budgets ---------------------------------------------------------------------

def _three_seeds(gap, spread=(0.0, 0.1, -0.1)):
    """Scores of A and B on two images over three seeds, A - B = gap + the seed's offset."""
    a = [[30.0 + gap + o, 27.0 + gap + o] for o in spread]
    b = [[30.0, 27.0] for _ in spread]
    return {"A": a, "B": b}


def test_detectable_difference_has_the_stated_power():
    from scipy import stats as st

    from sr_lib.stats import detectable

    diff = compare(*_three_seeds(0.5).values())
    sd = 0.1  # the sample sd of the seed offsets 0, +0.1, -0.1
    least = detectable(diff)
    assert least == pytest.approx((4.302653 + 1.060660) * sd / 3 ** 0.5, rel=1e-4)
    # a true difference of that size is detected about four times in five (noncentral t)
    tc, nc = st.t.ppf(0.975, 2), least * 3 ** 0.5 / sd
    power = 1 - st.nct.cdf(tc, 2, nc) + st.nct.cdf(-tc, 2, nc)
    assert 0.75 < power < 0.81
    assert detectable(compare([[1.0]], [[0.0]])) == float("inf")


def test_seeds_needed_grows_as_the_effect_shrinks():
    from sr_lib.stats import detectable, seeds_needed

    diff = compare(*_three_seeds(0.5).values())
    least = detectable(diff)  # 0.31 dB with three seeds at this spread
    assert seeds_needed(diff, least * 1.001) == 3 and seeds_needed(diff, least * 0.99) == 4
    assert seeds_needed(diff, -0.4) <= 3 < seeds_needed(diff, 0.05)  # the sign does not matter
    assert seeds_needed(diff, 0.0001) is None  # more than 1000


def test_a_paper_difference_below_the_detectable_one_is_not_testable():
    from sr_lib.stats import UNTESTABLE, Claim

    scores = _three_seeds(-0.3)  # ours: A clearly below B
    tiny_claim = Claim("A beats B by 0.02 dB", "A", "B", +1, paper=0.02)
    big_claim = Claim("A beats B by 1 dB", "A", "B", +1, paper=1.0)
    rows = claims_table([tiny_claim, big_claim], scores)
    assert rows[0]["verdict"] == UNTESTABLE  # not "contradicted": no outcome could tell
    assert rows[1]["verdict"] == "contradicted"
    assert rows[0]["paper (dB)"] == "+0.020"
    assert int(rows[1]["seeds for the paper's difference"]) <= 3


def test_unequal_budgets_are_refused_unless_declared():
    from sr_lib.stats import Budget, Claim

    scores = _three_seeds(0.5)
    same = {"A": Budget(1200, 19200), "B": Budget(1200, 19200, params=10_000)}
    rows = claims_table([Claim("A beats B", "A", "B")], scores, same)
    assert rows[0]["verdict"] == HOLDS and rows[0]["budget B"].endswith("0.01M params")
    split = {"A": Budget(1200, 19200, {"2": 6400, "4": 6400, "8": 6400}),
             "B": Budget(1200, 19200, {"2": 19200})}
    with pytest.raises(SRLibError, match="unequal training budgets"):
        claims_table([Claim("A beats B", "A", "B")], scores, split)
    declared = Claim("A beats B", "A", "B", unequal="the paper's own split")
    rows = claims_table([declared], scores, split)
    assert rows[0]["verdict"] == "holds (unequal budgets: the paper's own split)"
    assert "x2 6,400, x4 6,400, x8 6,400" in rows[0]["budget A"]
    with pytest.raises(SRLibError, match="no budget"):
        claims_table([declared], scores, {"A": split["A"]})


def test_budget_from_a_record():
    from sr_lib.stats import Budget

    record = {"steps": 10, "samples": 160, "samples_per_scale": {"2": 80, "4": 80}}
    b = Budget.from_record(record, params=1000)
    assert b.training() == (10, 160, (("2", 80), ("4", 80))) and b.params == 1000


def test_budgets_of_two_phases_add_up():
    from sr_lib.stats import Budget

    pre = Budget(10, 160, {"2": 160}, params=1000)
    fine = Budget(5, 80, {"2": 40, "4": 40}, params=400)
    total = pre + fine
    assert total.training() == (15, 240, (("2", 200), ("4", 40))) and total.params == 400
    assert (Budget(1, 2) + Budget(3, 4)).training() == (4, 6, ())


def test_a_resolved_difference_keeps_its_verdict_beside_an_untestable_paper_one():
    from sr_lib.stats import Claim

    scores = {"A": [[30.0, 31.0, 32.0]] * 3, "B": [[38.0 + 0.1 * s, 39.0, 40.0] for s in range(3)]}
    rows = claims_table([Claim("A beats B by 0.01 dB", "A", "B", +1, paper=0.01)], scores)
    assert rows[0]["verdict"] == ("contradicted (the paper's own difference is not testable "
                                  "at this budget)")


def test_pareto_front_keeps_the_undominated_points_by_cost():
    from sr_lib.stats import pareto_front

    points = {"big": (10.0, 30.0), "small": (1.0, 28.0), "bad": (5.0, 27.0),
              "mid": (3.0, 29.0), "twin": (3.0, 29.0)}
    assert pareto_front(points) == ["small", "mid", "twin", "big"]
    assert pareto_front({"a": (1.0, 1.0)}) == ["a"]
