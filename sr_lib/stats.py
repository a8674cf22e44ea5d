"""Verdicts from several seeds: paired differences, their 95% interval, and a claim's status.

A chapter trains each variant with several seeds and scores every network on the same test
images. The difference between two variants is then paired twice: within a seed (the same
batches, the same images) and across seeds (the unit of replication). :func:`compare` takes
per-seed, per-image scores of two variants, averages the paired image differences within each
seed, and gives the mean over seeds with a Student-t interval over the seed means. A paper
claim ("A beats B") :func:`holds <verdict>` only when that interval excludes zero on the
claimed side; it is "contradicted" when it excludes zero on the other side, and "within noise"
otherwise. With one seed no interval exists and the verdict is always "within noise".

Two more things decide whether a verdict means anything (:func:`claims_table`):

* **Power.** From the spread between seeds, :func:`detectable` gives the smallest difference a
  paired t-test at the 5% level would find four times in five; :func:`seeds_needed` gives how
  many seeds the paper's own difference would need at that spread. A claim whose paper
  difference is below the detectable one is "not testable at this budget": the experiment
  could not have resolved a difference that size. Only a difference the seeds do resolve
  (an interval that excludes zero and a mean at least the detectable one) keeps its verdict,
  with that note.
* **Budget.** Each side carries a :class:`Budget` (optimiser steps and samples seen, per scale
  where one network trains on several; parameters and multiply-adds where sizes differ). A
  comparison of unequal training budgets is refused unless the :class:`Claim` declares it
  (``unequal="why"``), and the verdict then says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .errors import SRLibError

HOLDS, CONTRADICTED, NOISE = "holds", "contradicted", "within noise"
UNTESTABLE = "not testable at this budget"
POWER = 0.8  # the chance of detecting a true difference that :func:`detectable` aims at


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz),
    which converges quickly for x < (a + 1) / (a + b + 2)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    out = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            out *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return out


def _beta_inc(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function, for 0 <= x <= 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom (via the incomplete beta)."""
    tail = 0.5 * _beta_inc(df / 2, 0.5, df / (df + x * x))
    return 1.0 - tail if x >= 0 else tail


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


@dataclass(frozen=True)
class Budget:
    """What one side of a comparison was given: optimiser steps and training samples (patches)
    seen, per scale where one network trains on several, and its size where sizes differ."""

    steps: int
    samples: int
    per_scale: Mapping[str, int] | None = None
    params: int | None = None
    macs: float | None = None

    @classmethod
    def from_record(cls, record: Mapping, params: int | None = None,
                    macs: float | None = None) -> Budget:
        """The budget a checkpoint's record (:mod:`sr_lib.records`) says was spent."""
        per = dict(record.get("samples_per_scale") or {}) or None
        return cls(int(record["steps"]), int(record["samples"]), per, params, macs)

    def __add__(self, other: Budget) -> Budget:
        """Two phases of one result's training (a pretraining and a fine-tuning, say): steps,
        samples and the per-scale split add up; the size is the later phase's."""
        per = dict(self.per_scale or {})
        for k, v in (other.per_scale or {}).items():
            per[str(k)] = per.get(str(k), 0) + int(v)
        return Budget(self.steps + other.steps, self.samples + other.samples, per or None,
                      other.params if other.params is not None else self.params,
                      other.macs if other.macs is not None else self.macs)

    def training(self) -> tuple:
        """What must match between two sides: steps, samples and the per-scale split."""
        per = tuple(sorted((str(k), int(v)) for k, v in (self.per_scale or {}).items()))
        return self.steps, self.samples, per

    def __str__(self) -> str:
        out = f"{self.steps:,} steps, {self.samples:,} samples"
        if self.per_scale and len(self.per_scale) > 1:
            out += " (" + ", ".join(f"x{k} {v:,}" for k, v in sorted(
                self.per_scale.items(), key=lambda kv: int(kv[0]))) + ")"
        if self.params is not None:
            out += f"; {self.params / 1e6:.3g}M params"
        if self.macs is not None:
            out += f", {self.macs / 1e9:.3g} G MACs"
        return out


@dataclass(frozen=True)
class Claim:
    """A paper's claim "A beats B" (``sign=+1``; ``-1``: "A is below B"), with the paper's own
    difference A - B in dB when it gives one, and a reason when the two sides were trained on
    unequal budgets on purpose (the verdict then says so)."""

    text: str
    a: str
    b: str
    sign: int = 1
    paper: float | None = None
    unequal: str | None = None


def _spread(diff: Difference) -> float:
    n = diff.n_seeds
    if n < 2:
        return math.nan
    return math.sqrt(sum((d - diff.mean) ** 2 for d in diff.per_seed) / (n - 1))


def _needed(sd: float, n: int, level: float, power: float) -> float:
    """The smallest difference a paired t-test on ``n`` seeds detects with ``power``."""
    df = n - 1
    return (t_quantile(0.5 + level / 2, df) + t_quantile(power, df)) * sd / math.sqrt(n)


def detectable(diff: Difference, power: float = POWER) -> float:
    """The smallest true difference the seeds of ``diff`` would detect (interval excluding
    zero) with probability ``power``, at the spread seen between seeds; ``inf`` with one seed."""
    if diff.n_seeds < 2:
        return math.inf
    return _needed(_spread(diff), diff.n_seeds, diff.level, power)


def seeds_needed(diff: Difference, effect: float, power: float = POWER,
                 most: int = 1000) -> int | None:
    """How many seeds would detect a true difference of ``effect`` at the spread between the
    seeds of ``diff`` (None: more than ``most``, or no spread measured yet)."""
    sd = _spread(diff)
    if not math.isfinite(sd) or effect == 0:
        return None
    if sd == 0:
        return 2
    for n in range(2, most + 1):
        if _needed(sd, n, diff.level, power) <= abs(effect):
            return n
    return None


def as_claim(claim) -> Claim:
    """A :class:`Claim`, from itself or from a tuple ``(text, A, B, sign[, paper])``."""
    return claim if isinstance(claim, Claim) else Claim(*claim)


def claims_table(claims: Sequence[Claim | tuple[str, str, str, int]],
                 scores: Mapping[str, Sequence[Sequence[float]]],
                 budgets: Mapping[str, Budget] | None = None) -> list[dict]:
    """Rows for :func:`sr_lib.notebook.markdown_table`: one per claim (a :class:`Claim`, or a
    tuple ``(text, A, B, sign)``), with A - B, its interval, the smallest difference the seeds
    can detect, the paper's difference and the seeds it would need, each side's budget (when
    ``budgets`` names them) and the verdict. Unequal budgets are refused unless declared."""
    claims = [as_claim(c) for c in claims]
    with_paper = any(c.paper is not None for c in claims)
    rows = []
    for c in claims:
        diff = compare(scores[c.a], scores[c.b], (c.a, c.b))
        status = verdict(diff, c.sign)
        least = detectable(diff)
        row = {"claim": c.text, "A - B (dB), mean [95% CI]": str(diff), "seeds": diff.n_seeds,
               "detectable (dB)": f"{least:.3f}" if math.isfinite(least) else "-"}
        if with_paper:
            row["paper (dB)"] = "-" if c.paper is None else f"{c.paper:+.3f}"
            need = None if c.paper is None else seeds_needed(diff, c.paper)
            row["seeds for the paper's difference"] = (
                "-" if c.paper is None else (str(need) if need else "> 1000"))
            if c.paper is not None and abs(c.paper) < least:
                # the paper's difference is below what these seeds detect; a verdict stands
                # only for a difference the seeds resolve themselves (at least ``least``)
                resolved = status != NOISE and abs(diff.mean) >= least
                status = (f"{status} (the paper's own difference is not testable at this "
                          "budget)" if resolved else UNTESTABLE)
        if budgets is not None:
            missing = [k for k in (c.a, c.b) if k not in budgets]
            if missing:
                raise SRLibError(f"claim {c.text!r}: no budget for {missing}; give every "
                                 "compared variant a Budget (steps and samples seen)")
            ba, bb = budgets[c.a], budgets[c.b]
            row["budget A"], row["budget B"] = str(ba), str(bb)
            if ba.training() != bb.training():
                if c.unequal is None:
                    raise SRLibError(
                        f"claim {c.text!r} compares unequal training budgets ({c.a}: {ba}; "
                        f"{c.b}: {bb}); give both sides the same steps and samples, or declare "
                        "the difference with Claim(..., unequal='why')")
                status += f" (unequal budgets: {c.unequal})"
        row["verdict"] = status
        rows.append(row)
    return rows


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """The names of the (cost, quality) points that no other point dominates (no more cost,
    no less quality, and better in one of the two), in order of cost: the methods worth
    considering at some budget."""
    front = [n for n, (c, q) in points.items()
             if not any(c2 <= c and q2 >= q and (c2, q2) != (c, q)
                        for m, (c2, q2) in points.items() if m != n)]
    return sorted(front, key=lambda n: points[n])
