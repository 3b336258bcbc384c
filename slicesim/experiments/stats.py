"""Means with confidence intervals over seeds, and paired differences (same traffic per seed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "estimate", "gap_closed", "paired"]

# Student t quantiles t_{0.975, df} for df = 1..30 (scipy.stats.t.ppf(0.975, df)); 1.96 beyond
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with the half-width of its 95 % confidence interval (NaN for n < 2)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def above_zero(self) -> bool:
        """The interval lies above 0 (with one seed: the value itself is above 0)."""
        return (self.low if self.n > 1 else self.mean) > 0

    def text(self, digits: int = 2) -> str:
        """``mean ± hw`` (or the mean alone with one seed)."""
        if not math.isfinite(self.mean):
            return "n/a"
        if self.n < 2 or not math.isfinite(self.half_width):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}"

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "ci95": self.half_width, "n": self.n}


def estimate(values: Sequence[float]) -> Estimate:
    """Mean and 95 % t-interval half-width of ``values`` (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return Estimate(float("nan"), float("nan"), 0)
    if len(x) == 1:
        return Estimate(float(x[0]), float("nan"), 1)
    t = _T975[len(x) - 2] if len(x) - 1 <= len(_T975) else 1.96
    return Estimate(float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x))), len(x))


def paired(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """The mean difference a - b over paired seeds, with its 95 % interval."""
    return estimate(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))


def gap_closed(agent: Sequence[float], floor: Sequence[float], bound: Sequence[float]) -> Estimate:
    """Share of the gap closed: mean(U_agent - U_floor) / mean(U_bound - U_floor), over seeds.

    A ratio of mean paired differences (stable where one seed's gap is small); its interval is
    the delta method's, from the per-seed linearisation ``(d_agent - G d_bound) / mean(d_bound)``.
    NaN where the bound does not lie above the floor on average.
    """
    a, f, b = (np.asarray(v, dtype=float) for v in (agent, floor, bound))
    d_agent, d_bound = a - f, b - f
    if len(d_bound) == 0 or not d_bound.mean() > 1e-9:
        return Estimate(float("nan"), float("nan"), len(d_bound))
    ratio = float(d_agent.mean() / d_bound.mean())
    spread = estimate((d_agent - ratio * d_bound) / d_bound.mean())
    return Estimate(ratio, spread.half_width, spread.n)
