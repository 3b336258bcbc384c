"""Traffic: daily per-slice masks and the spatial weights of cells.

A mask is one value in [0, 1] per slice and period that scales the slice's session arrival rate
(paper Section V-A, Fig. 2). The built-in hourly profiles (:mod:`slicesim.profiles`) are
interpolated to the period length, with a seeded day-to-day factor and per-period noise; a
scenario's ``traffic.masks_csv`` gives a user's own masks, used as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.profiles import PROFILES, load_masks_csv

__all__ = ["GUIDE", "PoissonTable", "TrafficMasks", "cell_weights", "daily_profile"]


def daily_profile(hourly: tuple[float, ...] | np.ndarray, periods_per_day: int) -> np.ndarray:
    """Periodic linear interpolation of hourly means (at hour centres) to ``periods_per_day``."""
    hourly = np.asarray(hourly, dtype=float)
    hours = np.arange(len(hourly)) + 0.5
    t = (np.arange(periods_per_day) + 0.5) * 24.0 / periods_per_day
    return np.interp(t, hours, hourly, period=24.0)


class TrafficMasks:
    """Per-period masks of every slice type, random-access and reproducible from the seed."""

    def __init__(self, config: ScenarioConfig, seed: int) -> None:
        self.seed = seed
        self.day_sigma = config.traffic.day_sigma
        self.noise_sigma = config.traffic.noise_sigma
        self.periods_per_day = config.sim.periods_per_day
        profiles = [s.profile for s in config.slices]  # checked when the scenario was loaded
        self.csv: np.ndarray | None = None
        if config.traffic.masks_csv is not None:
            table = load_masks_csv(config.traffic.masks_csv)
            self.csv = np.stack([table[p] for p in profiles], axis=1)
        else:
            self.base = np.stack(
                [daily_profile(PROFILES[p], self.periods_per_day) for p in profiles], axis=1
            )
        self._days: dict[int, np.ndarray] = {}

    def _day(self, day: int) -> np.ndarray:
        if day not in self._days:
            rng = np.random.default_rng([self.seed, 0x6D61736B, day])  # "mask"
            n = self.base.shape[1]
            factor = np.exp(self.day_sigma * rng.standard_normal(n))
            noise = np.exp(self.noise_sigma * rng.standard_normal((self.periods_per_day, n)))
            if len(self._days) > 8:
                self._days.clear()
            self._days[day] = np.clip(self.base * factor * noise, 0.0, 1.0)
        return self._days[day]

    def __call__(self, period: int) -> np.ndarray:
        """Mask of every slice type at ``period``, shape (n_slices,), values in [0, 1]."""
        if self.csv is not None:
            return self.csv[period % len(self.csv)].copy()
        day, k = divmod(period, self.periods_per_day)
        return self._day(day)[k].copy()

    def series(self, start: int, stop: int) -> np.ndarray:
        """Masks of periods [start, stop), shape (stop - start, n_slices)."""
        return np.stack([self(p) for p in range(start, stop)])


def cell_weights(n_cells: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Log-normal spatial weights of the cells, mean 1 (some cells are hot spots)."""
    w = np.exp(sigma * rng.standard_normal(n_cells))
    return w / w.mean()


GUIDE = 256
"""Buckets of the uniform in :attr:`PoissonTable.guide`."""


class PoissonTable:
    """Poisson counts with one mean per class, drawn by inverting tabulated CDFs.

    Exact in distribution (up to a tail below 1e-15) and several times faster than
    ``Generator.poisson`` for the few hundred draws of a scheduling epoch.
    """

    def __init__(self, means: np.ndarray) -> None:
        tables, offsets = [], [0]
        for k, lam in enumerate(np.asarray(means, dtype=float)):
            top = int(lam + 12 * np.sqrt(lam) + 30)
            j = np.arange(top)
            log_pmf = j * np.log(max(lam, 1e-300)) - lam - np.cumsum(np.log(np.maximum(j, 1)))
            # at most 1 (the float sums may overshoot by an ulp), and 1 at the end: the joined
            # table stays sorted, so a class's counts lie in its own part of it
            cdf = np.minimum(np.cumsum(np.exp(log_pmf)), 1.0)
            cdf[-1] = 1.0
            tables.append(cdf + k)  # shift class k into [k, k + 1] so one search serves all
            offsets.append(offsets[-1] + top)
        self.table = np.concatenate(tables)
        """Every class's CDF shifted by its index, joined (class k's values in [k, k + 1])."""
        self.offset = np.array(offsets[:-1], dtype=np.int64)
        """Where each class's CDF starts in :attr:`table`."""
        steps = np.arange(GUIDE) / GUIDE
        self.guide = np.stack(
            [np.searchsorted(self.table, k + steps, side="right") for k in range(len(tables))]
        ).astype(np.int64)
        """``guide[k, b]``: the entries of :attr:`table` at or below ``k + b / GUIDE``: where a
        draw of class k with a uniform in ``[b / GUIDE, (b + 1) / GUIDE)`` can start its search
        (the compiled engine's lookup; the counts are :meth:`draw`'s)."""

    def draw(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One Poisson count per entry of ``classes`` (class index = which mean)."""
        u = rng.random(len(classes)) + classes
        return np.searchsorted(self.table, u, side="right") - self.offset[classes]

    def draw_each(
        self, classes: Sequence[np.ndarray], rngs: Sequence[np.random.Generator]
    ) -> np.ndarray:
        """:meth:`draw` for several populations, each from its own generator, joined: the
        same counts as one :meth:`draw` per population, with one search."""
        if len(classes) == 1:
            return self.draw(classes[0], rngs[0])
        joined = np.concatenate(classes)
        u = np.concatenate([rng.random(len(c)) for c, rng in zip(classes, rngs, strict=True)])
        return np.searchsorted(self.table, u + joined, side="right") - self.offset[joined]
