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
