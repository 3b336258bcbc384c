"""Per-period KPIs (the O&M reports), QoS satisfaction and network utility (paper eq. 3 and 5)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "KPI_FIELDS",
    "MEASURES",
    "R_TOL",
    "GroupSums",
    "PeriodReport",
    "PeriodReports",
    "cell_reward",
    "p_satisfied",
    "qos",
    "satisfied",
    "utility",
]

R_TOL = 1e-9
"""r counts as fully satisfied (r = 1) when r >= 1 - R_TOL."""

KPI_FIELDS = ("thr_mbps", "delay_ms", "prb_util", "users", "cqi", "demand_mbps", "served")
"""The KPIs of a (cell, slice) in a period, the one list of their names: what
:meth:`GroupSums.kpis` computes (and the TTI reference, :mod:`slicesim.sim.tti`), what a
:class:`PeriodReport` carries, the env's ``info["kpi"]`` and a run's trajectory. ``served``
(the slice had data) is a flag; the others are measurements (:data:`MEASURES`)."""
MEASURES = KPI_FIELDS[:-1]
"""The measured KPIs (floats): :data:`KPI_FIELDS` without the ``served`` flag."""


def qos(
    thr_mbps: np.ndarray,
    delay_ms: np.ndarray,
    thr_need_mbps: np.ndarray,
    delay_need_ms: np.ndarray,
    served: np.ndarray | None = None,
) -> np.ndarray:
    """QoS satisfaction r = min(thr / thr*, d* / delay, 1) (paper eq. 3).

    Args:
        thr_mbps: achieved throughput, shape (..., n_slices).
        delay_ms: achieved delay, same shape.
        thr_need_mbps: throughput needs, broadcast against the KPIs.
        delay_need_ms: delay needs, likewise.
        served: where False (no user had data in the period) r is 1: no need went unmet.
    """
    thr_term = np.asarray(thr_mbps) / thr_need_mbps
    with np.errstate(divide="ignore"):
        delay_term = np.where(np.asarray(delay_ms) > 0, delay_need_ms / np.asarray(delay_ms), 1.0)
    r = np.minimum(np.minimum(thr_term, delay_term), 1.0)
    if served is not None:
        r = np.where(served, r, 1.0)
    return r


def utility(r: np.ndarray, active: np.ndarray | None = None) -> float:
    """Network utility U = sum log(1 + r) over active (cell, slice) pairs (paper eq. 5)."""
    terms = np.log1p(r)
    if active is not None:
        terms = np.where(active, terms, 0.0)
    return float(terms.sum())


def satisfied(r: np.ndarray) -> np.ndarray:
    """Where the QoS need is fully met: r >= 1 - :data:`R_TOL` (bool array)."""
    return np.asarray(r) >= 1.0 - R_TOL


def p_satisfied(r: np.ndarray) -> float:
    """P(r = 1): the share of the given r values that are fully satisfied (NaN if none)."""
    r = np.asarray(r)
    return float(np.mean(satisfied(r))) if r.size else float("nan")


def cell_reward(r: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per cell, min of r over its active slices (1 without any): the paper's DRL reward.

    Args:
        r, active: shape (..., n_cells, n_slices).
    """
    worst = np.where(active, r, np.inf).min(axis=-1)
    return np.where(np.isinf(worst), 1.0, worst)


@dataclass(frozen=True)
class PeriodReport:
    """KPIs of one control period; every array has shape (n_cells, n_slices) unless noted.

    Attributes:
        period: index of the period.
        phase: name of the scenario-timeline phase.
        x: shares applied (zero for inactive slices).
        thr_mbps: average user throughput while the user had data (volume / active time,
            the "scheduled IP throughput" of TS 36.314 4.1.6); 0 where no data.
        delay_ms: average delay of application bursts (queueing + transmission); 0 where no data.
        prb_util: share of the cell's PRBs the slice used (time average), <= x.
        users: average number of users in session.
        cqi: average wideband CQI of the slice's users (1..15); 0 where there were none.
        demand_mbps: traffic offered by the slice's users (Mbit/s).
        served: the slice had data in the period (its KPIs are measurements, not defaults).
        active: the slice was active in the cell.
        mask: traffic mask of every slice type, shape (n_slices,).
        cell_util: PRB utilisation of every cell over all slices, shape (n_cells,).
    """

    period: int
    phase: str
    x: np.ndarray
    thr_mbps: np.ndarray
    delay_ms: np.ndarray
    prb_util: np.ndarray
    users: np.ndarray
    cqi: np.ndarray
    demand_mbps: np.ndarray
    served: np.ndarray
    active: np.ndarray
    mask: np.ndarray
    cell_util: np.ndarray

    def qos(self, thr_need_mbps: np.ndarray, delay_need_ms: np.ndarray) -> np.ndarray:
        """QoS satisfaction r of every (cell, slice); 1 where unserved or inactive."""
        r = qos(self.thr_mbps, self.delay_ms, thr_need_mbps, delay_need_ms, self.served)
        return np.where(self.active, r, 1.0)


@dataclass(frozen=True)
class PeriodReports(Sequence[PeriodReport]):
    """One control period of each of N networks (:func:`~slicesim.sim.run_periods`): the
    fields of :class:`PeriodReport` with a leading network axis, as arrays; indexing gives
    network k's :class:`PeriodReport`.

    Attributes:
        period: each network's period, (N,).
        phase: each network's timeline phase.
        x, thr_mbps, delay_ms, prb_util, users, cqi, demand_mbps, served, active: (N, n_cells,
            n_slices).
        mask: (N, n_slices).
        cell_util: (N, n_cells).
    """

    period: np.ndarray
    phase: tuple[str, ...]
    x: np.ndarray
    thr_mbps: np.ndarray
    delay_ms: np.ndarray
    prb_util: np.ndarray
    users: np.ndarray
    cqi: np.ndarray
    demand_mbps: np.ndarray
    served: np.ndarray
    active: np.ndarray
    mask: np.ndarray
    cell_util: np.ndarray

    def __len__(self) -> int:
        return len(self.period)

    def __getitem__(self, k: int) -> PeriodReport:  # type: ignore[override]
        if not -len(self) <= k < len(self):
            raise IndexError(f"network {k} of {len(self)}")
        values = {f.name: getattr(self, f.name)[k] for f in fields(self)}
        values["period"] = int(values["period"])
        return PeriodReport(**values)

    def __iter__(self) -> Iterator[PeriodReport]:
        return (self[k] for k in range(len(self)))

    def qos(self, thr_need_mbps: np.ndarray, delay_need_ms: np.ndarray) -> np.ndarray:
        """QoS satisfaction r of every (network, cell, slice); 1 where unserved or inactive."""
        r = qos(self.thr_mbps, self.delay_ms, thr_need_mbps, delay_need_ms, self.served)
        return np.where(self.active, r, 1.0)

    @classmethod
    def stacked(cls, reports: Sequence[PeriodReport]) -> PeriodReports:
        """The reports of several networks as one batch."""
        values = {
            f.name: np.stack([getattr(r, f.name) for r in reports])
            for f in fields(cls)
            if f.name != "phase"
        }
        return cls(phase=tuple(r.phase for r in reports), **values)


class GroupSums:
    """KPI sums of one window per (draw, copy, cell, slice) group.

    Every KPI of a period is a ratio of sums over its users and epochs (volume over active time,
    delay weighted by the bits, ...).

    Args:
        sums: ``bits``, ``busy_s``, ``arrived_bits``, ``delay_bits_s``, ``cqi_s``, ``user_s``,
            each (draws, copies, n_cells * n_slices).
        prb_s: PRB-seconds used, same shape.
        n_cells: to split the groups into (cell, slice).
    """

    def __init__(self, sums: dict[str, np.ndarray], prb_s: np.ndarray, n_cells: int) -> None:
        draws, copies, n_groups = prb_s.shape
        self.shape = (draws, copies, n_cells, n_groups // n_cells)
        self.sums, self.prb_s = sums, prb_s

    def kpis(self, window_s: float, n_prb: int) -> dict[str, np.ndarray]:
        """The KPIs of every group (:data:`KPI_FIELDS`, in order), each of shape (draws,
        copies, n_cells, n_slices)."""
        s = {name: v.reshape(self.shape) for name, v in self.sums.items()}
        served = s["busy_s"] > 0
        has_users = s["user_s"] > 0
        arrived = s["arrived_bits"] > 0
        return {
            "thr_mbps": np.where(served, s["bits"] / np.where(served, s["busy_s"], 1.0) / 1e6, 0.0),
            "delay_ms": np.where(
                arrived, s["delay_bits_s"] / np.where(arrived, s["arrived_bits"], 1.0) * 1e3, 0.0
            ),
            "prb_util": self.prb_s.reshape(self.shape) / (window_s * n_prb),
            "users": s["user_s"] / window_s,
            "cqi": np.where(has_users, s["cqi_s"] / np.where(has_users, s["user_s"], 1.0), 0.0),
            "demand_mbps": s["arrived_bits"] / window_s / 1e6,
            "served": served,
        }
