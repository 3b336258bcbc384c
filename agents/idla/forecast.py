"""A forecast of each (cell, slice)'s offered traffic in the coming period, from the O&M's
counters of the past ones (``info["kpi"]["demand_mbps"]``): ``idla``'s load input.

The last period's counter is a poor one: it is what a 20-s window's users offered (a Poisson
draw of a few users per cell and slice) and it lags the daily profile by a period. Traffic has
two regularities a network operator's forecast uses (O-RAN's traffic-prediction rApps, and the
seasonal-naive forecasts of the field): a **daily profile** per service and **stable spatial
weights** of the cells. So the forecast of slice s in cell c for period t is

    w[c, s] * level[s] * profile[t mod P, s]

- ``profile``: the slice's network total (its sum over the cells) at each time of day, averaged
  over the days seen; ``P`` the periods in a day (the masks' cycle, ``sim.periods_per_day``);
- ``level``: the last day's total over the profile's total at the same times (this day's
  traffic against the average day);
- ``w``: the cell's share of the slice's traffic over everything seen.

Before a slice has a day of history its network total is the last period's (a mean over the
last 4 lags the daily rise: on ``small``'s one-day timeline it gained about 0.1 less over equal
shares), and before it has ``min_periods`` the forecast is each cell's last counter. A slice's
history is the run of periods it has been active (it restarts when the slice leaves); its
profile and cell shares keep everything seen. Inactive pairs are forecast 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LoadForecast"]


class LoadForecast:
    """Offered traffic forecast per (cell, slice) (module docstring).

    Args:
        n_cells, n_slices: the counters' shape.
        periods_per_day: the traffic's daily cycle in periods.
        min_periods: periods of a slice's traffic before the cells' shares are used.
    """

    def __init__(
        self, n_cells: int, n_slices: int, periods_per_day: int, min_periods: int = 8
    ) -> None:
        self.shape = (n_cells, n_slices)
        self.day, self.min_periods = int(periods_per_day), int(min_periods)
        self.profile_sum = np.zeros((self.day, n_slices))
        self.profile_n = np.zeros((self.day, n_slices))
        self.totals = np.zeros((self.day, n_slices))
        """The network totals of the last day, by time of day (a ring: index = period mod P)."""
        self.cell_sum = np.zeros(self.shape)
        self.run = np.zeros(n_slices, dtype=np.int64)
        """Consecutive periods each slice has been active in, up to the last one."""
        self.period = 0
        """The index of the next period (the one :meth:`__call__` forecasts)."""
        self.last = np.zeros(self.shape)
        """The last period's counters."""

    def update(self, demand: np.ndarray, active: np.ndarray) -> None:
        """Add the counters ``(n_cells, n_slices)`` (Mbit/s) of the period just ended and its
        active pairs."""
        demand = np.array(demand, dtype=np.float64)  # a copy: kept as the last counters
        if demand.shape != self.shape:
            raise ValueError(f"demand has shape {demand.shape}, expected {self.shape}")
        tod = self.period % self.day
        total = demand.sum(axis=0)
        on = np.asarray(active, dtype=bool).any(axis=0)
        self.profile_sum[tod] += total
        self.profile_n[tod] += on
        self.totals[tod] = total
        self.cell_sum += demand
        self.run = np.where(on, self.run + 1, 0)
        self.last = demand
        self.period += 1

    def __call__(self, active: np.ndarray) -> np.ndarray:
        """The forecast for the coming period's ``active`` pairs, ``(n_cells, n_slices)``
        (Mbit/s)."""
        active = np.asarray(active, dtype=bool)
        out = self.last * active
        if self.period == 0:
            return out
        network = self.last.sum(axis=0)
        daily = self.run >= self.day + 1
        if daily.any():
            profile = self.profile_sum / np.maximum(self.profile_n, 1)
            level = self.totals.sum(axis=0) / np.maximum(profile.sum(axis=0), 1e-12)
            seasonal = level * profile[self.period % self.day]
            network = np.where(daily, seasonal, network)
        shares = self.cell_sum / np.maximum(self.cell_sum.sum(axis=0), 1e-12)
        split = self.run >= self.min_periods
        out[:, split] = shares[:, split] * network[split]
        return out * active
