"""Verdicts from several seeds: paired differences, their 95% interval, and a claim's status.

A chapter trains each variant with several seeds and scores every network on the same test
images. The difference between two variants is then paired twice: within a seed (the same
batches, the same images) and across seeds (the unit of replication). :func:`compare` takes
per-seed, per-image scores of two variants, averages the paired image differences within each
seed, and gives the mean over seeds with a Student-t interval over the seed means. A paper
claim ("A beats B") :func:`holds <verdict>` only when that interval excludes zero on the
claimed side; it is "contradicted" when it excludes zero on the other side, and "within noise"
otherwise. With one seed no interval exists and the verdict is always "within noise".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .errors import SRLibError

HOLDS, CONTRADICTED, NOISE = "holds", "contradicted", "within noise"


def _t_pdf(x: float, df: int) -> float:
    c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(c - (df + 1) / 2 * math.log1p(x * x / df))


def _t_cdf(x: float, df: int, steps: int = 4000) -> float:
    """P(T <= x) for x >= 0 by Simpson's rule on the density (error far below 1e-9)."""
    h = x / steps
    total = _t_pdf(0.0, df) + _t_pdf(x, df)
    total += sum((4 if i % 2 else 2) * _t_pdf(i * h, df) for i in range(1, steps))
    return 0.5 + total * h / 3


@lru_cache(maxsize=64)
def t_quantile(p: float, df: int) -> float:
    """The p-quantile (p > 0.5) of Student's t with ``df`` degrees of freedom (no scipy)."""
    if not 0.5 < p < 1 or df < 1:
        raise SRLibError(f"t_quantile needs 0.5 < p < 1 and df >= 1, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class Difference:
    """Mean over seeds of the image-paired difference A - B, with its interval."""

    a: str
    b: str
    per_seed: tuple[float, ...]
    mean: float
    low: float
    high: float
    level: float = 0.95

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)

    def __str__(self) -> str:
        if self.n_seeds < 2:
            return f"{self.mean:+.3f} (one seed, no interval)"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def compare(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], names=("A", "B"),
            level: float = 0.95) -> Difference:
    """A - B from scores ``a[seed][image]`` and ``b[seed][image]`` on the same images.

    Within each seed the image differences are averaged (paired by image); across seeds the
    mean and a Student-t interval of those seed means are returned."""
    if len(a) != len(b) or not a:
        raise SRLibError(f"compare needs the same number (>= 1) of seeds, got {len(a)} and "
                         f"{len(b)}")
    per_seed = []
    for sa, sb in zip(a, b):
        if len(sa) != len(sb) or not sa:
            raise SRLibError("each seed must score both variants on the same images")
        per_seed.append(sum(x - y for x, y in zip(sa, sb)) / len(sa))
    n = len(per_seed)
    mean = sum(per_seed) / n
    if n < 2:
        return Difference(names[0], names[1], tuple(per_seed), mean, math.nan, math.nan, level)
    sd = math.sqrt(sum((d - mean) ** 2 for d in per_seed) / (n - 1))
    half = t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return Difference(names[0], names[1], tuple(per_seed), mean, mean - half, mean + half, level)


def verdict(diff: Difference, claimed_sign: int = 1) -> str:
    """'holds' / 'contradicted' / 'within noise' for the claim sign(A - B) == claimed_sign."""
    if claimed_sign not in (1, -1):
        raise SRLibError(f"claimed_sign must be +1 or -1, got {claimed_sign}")
    if diff.n_seeds < 2 or not (diff.low > 0 or diff.high < 0):
        return NOISE
    return HOLDS if (diff.low > 0) == (claimed_sign > 0) else CONTRADICTED


def over_seeds(run: Callable[[int], Mapping[str, Sequence[float]]], seeds: Sequence[int]
               ) -> dict[str, list[list[float]]]:
    """Call ``run(seed)`` (which trains and returns per-image scores per variant) for every seed;
    returns ``{variant: [[scores of seed 0], [scores of seed 1], ...]}``."""
    out: dict[str, list[list[float]]] = {}
    for seed in seeds:
        for name, scores in run(seed).items():
            out.setdefault(name, []).append(list(scores))
    return out


def mean_and_seeds(values: Sequence[float], fmt: str = ".2f") -> str:
    """'mean (seed 0, seed 1, ...)' for a table cell: the mean and every seed's value, so that
    a reader sees the spread behind a mean; one value is shown alone."""
    if not values:
        raise SRLibError("mean_and_seeds needs at least one value")
    mean = f"{sum(values) / len(values):{fmt}}"
    return mean if len(values) == 1 else f"{mean} ({', '.join(f'{v:{fmt}}' for v in values)})"


def claims_table(claims: Sequence[tuple[str, str, str, int]],
                 scores: Mapping[str, Sequence[Sequence[float]]]) -> list[dict]:
    """Rows for :func:`sr_lib.notebook.markdown_table`: one per claim ``(text, A, B, sign)``,
    with the difference A - B, its interval and the verdict computed from ``scores``."""
    rows = []
    for text, a, b, sign in claims:
        diff = compare(scores[a], scores[b], (a, b))
        rows.append({"claim": text, "A - B (dB), mean [95% CI]": str(diff),
                     "seeds": diff.n_seeds, "verdict": verdict(diff, sign)})
    return rows
