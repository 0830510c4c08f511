"""The small statistics a verdict needs: t-intervals of means, paired differences and ratios.

A winner is named only where a 95 % interval excludes no difference (0 for a difference, 1 for
a ratio); with fewer than two replicates there is no interval and the answer is ``undecided``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Interval", "mean_interval", "paired_difference", "ratio_of_means", "t95"]


def t95(dof: int) -> float:
    """The two-sided 95 % quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


@dataclass(frozen=True, kw_only=True)
class Interval:
    """An estimate with its 95 % interval (None where there are too few values).

    Attributes:
        value: The estimate (a mean difference, or a ratio).
        ci95: ``(low, high)``, or None with fewer than two values.
        n: How many values (seeds, or rounds) it rests on.
    """

    value: float
    ci95: tuple[float, float] | None
    n: int

    def excludes(self, null: float) -> bool:
        """Whether the interval lies wholly on one side of ``null``."""
        return self.ci95 is not None and (self.ci95[0] > null or self.ci95[1] < null)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "value": self.value,
            "ci95": list(self.ci95) if self.ci95 else None,
            "n": self.n,
        }


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean with a 95 % t-interval."""
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    if n < 2:
        return Interval(value=mean, ci95=None, n=n)
    half = t95(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Interval(value=mean, ci95=(mean - half, mean + half), n=n)


def paired_difference(a: dict[int, float], b: dict[int, float]) -> Interval:
    """Mean of ``a[k] - b[k]`` over the keys (seeds) both have, with its 95 % t-interval."""
    keys = sorted(set(a) & set(b))
    return mean_interval([a[k] - b[k] for k in keys])


def ratio_of_means(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Geometric-mean ratio ``a / b`` of two unpaired samples (Welch interval on the logs)."""
    if not a or not b or min(*a, *b) <= 0:
        return Interval(value=math.nan, ci95=None, n=0)
    la, lb = [math.log(x) for x in a], [math.log(x) for x in b]
    value = math.exp(statistics.fmean(la) - statistics.fmean(lb))
    if len(la) < 2 or len(lb) < 2:
        return Interval(value=value, ci95=None, n=min(len(la), len(lb)))
    va, vb = statistics.variance(la) / len(la), statistics.variance(lb) / len(lb)
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(value=value, ci95=(value, value), n=min(len(la), len(lb)))
    dof = (va + vb) ** 2 / (va**2 / (len(la) - 1) + vb**2 / (len(lb) - 1))
    half = t95(max(1, round(dof))) * se
    return Interval(
        value=value,
        ci95=(value * math.exp(-half), value * math.exp(half)),
        n=min(len(la), len(lb)),
    )
