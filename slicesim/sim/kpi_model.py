"""Flow-level KPI models (``sim.kpi_model``): each user's burst delay and time with data.

Within a scheduling epoch the window knows, per user, the work ``tau`` (share of the slice's epoch
the user's backlog and arrivals need at the full slice rate R), the water-filled time share
``phi`` it is served and the slice's load ``rho = sum tau`` (:class:`Epoch`). Two things are
modelled from them: the time the user had data (the throughput KPI is volume over time with
data, TS 36.314 scheduled IP throughput) and the mean delay of its bursts.

``legacy`` (slicesim 0.1): flow-level processor sharing, ``thr = R max(1 - rho, phi)``, time
with data = served bits / thr, and a burst waits ``backlog / rate + burst / thr``. rho counts the
user's own bursts as competing flows (a user alone at load 0.5 gets R / 2, a real scheduler gives
it R) and, in a saturated epoch (rho > 1), a user that needs less than the water level is "busy
all epoch at a trickle rate" (thr = R phi).

``user_ps`` (the default): the scheduler shares the slice's time equally among its backlogged
*users* (proportional fair without fast fading), each user's bursts in order. Mean field:

* user u has data a share ``b_u = min(1, tau_u (1 + sum_{j != u} b_j))`` of the epoch: its work at
  the share it gets while the others are busy as often as they are; users that must be capped
  are the largest ones, and the fixed point is found exactly (:func:`busy_shares`). Alone, b = tau
  (throughput R); with many small users it is the flow-level M/G/1-PS value (R (1 - rho)); in a
  saturated epoch the users left with backlog are busy throughout and a small user shares with
  them rather than trickling. Time with data = b dt, so the throughput KPI is ``phi R / b``.
* a burst sees ``thr = R max(1 - rho, phi, s (1 - b))``, ``s = phi / b`` the user's time share
  while busy: its own earlier bursts queue on that share (M/M/1-PS on it, which is ``R (1 - rho)``
  for a lone user or symmetric users, as before).
* a user short of its need (backlogged all epoch, served at ``phi R``) makes a burst that arrives
  at a uniform time wait, besides the backlog of the epoch's start, for the epoch's earlier
  arrivals less what was served before it: ``(arrived - burst - served) / 2`` on average.

Measured against the TTI reference (:mod:`slicesim.sim.tti`; ``slicesim calibrate --kpi``) on
``paper`` as shipped, its busiest period (78), 16 draws x 12 cells, loads 0.5 / 1 / 1.5, every
slice at 0.05..0.90: largest |error| of mean r 0.011 / 0.014 / 0.014 and of P(r = 1) 0.026 /
0.036 / 0.042 (``legacy``: 0.085 / 0.126 / 0.169 and 0.188 / 0.203 / 0.245). On another draw set
and period (seed 1, period 64): r within 0.015, P(r = 1) within 0.057. What is left is the mean
field itself: it underestimates a user's throughput by 2-4 % at rho = 0.6 and 5-20 % at rho =
0.8-0.9 (K = 2 symmetric users, rho = 0.8: 0.600 R against 0.633 R of the exact two-queue chain),
which shows as a few cell-windows of the small-burst slices (2, 4) at r = 0.9-0.99 where the
reference meets the need. Cost per ``run_period`` on ``paper``: 1.6x slicesim 0.1, 1.7x for the
oracles' 19-level x 6-draw replay (``benchmarks/kpi_model_cost.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from slicesim.config import KPI_MODEL_NAMES
from slicesim.sim.scheduler import segment_prefix

__all__ = ["KPI_MODELS", "OVER", "Epoch", "KpiModel", "LegacyKpis", "UserPsKpis", "busy_shares"]


OVER = 1e30
"""A busy-share level that caps every user with work (>= 1e-30; no 0 * inf)."""


@dataclass(frozen=True)
class Epoch:
    """One scheduling epoch of a window, as a KPI model sees it.

    Arrays are (copies, n_users) over every user of every draw (users of a draw in turn) unless
    noted; a user without data has zero work.
    """

    full_rate: np.ndarray  # bit/s the user would get with the whole slice budget (R)
    phi: np.ndarray  # water-filled time share of the slice's epoch it was served
    work: np.ndarray  # share of the slice's epoch its backlog and arrivals need at R (tau)
    backlog: np.ndarray  # bits queued at the epoch's start
    arrived: np.ndarray  # bits that arrived in the epoch
    burst: np.ndarray  # bits of one burst of the user's slice, (n_users,)
    flat: np.ndarray  # group (draw, copy, cell, slice) of every entry, (phi.size,)
    load: np.ndarray  # rho = sum of work per group, indexed by ``flat``, (n_all_groups,)
    dt: float  # the epoch's length (s)

    @property
    def rate(self) -> np.ndarray:
        """bit/s the user was served on average over the epoch (phi R)."""
        return self.phi * self.full_rate

    @property
    def rho(self) -> np.ndarray:
        """The load of each user's group, (copies, n_users)."""
        return self.load[self.flat].reshape(self.phi.shape)


class KpiModel:
    """Each user's burst delay and time with data in one epoch; registered by ``name``.

    :meth:`epoch` is called once per scheduling epoch with every user of every draw and copy;
    it must stay vectorised.
    """

    name: ClassVar[str] = ""
    compiled: ClassVar[bool] = False
    """The compiled engine implements :meth:`epoch` of the class that declares this (in the class
    body that defines ``epoch``; a subclass overriding ``epoch`` runs on the reference engine,
    :mod:`slicesim.sim.engines`)."""
    monotone: ClassVar[bool] = False
    """With the cell loads frozen, a slice's r does not fall as its share grows: the oracles'
    exact level sweep may then fill the levels above a slice's first r = 1 with 1 instead of
    running them (:mod:`slicesim.sim.compiled.sweep`, which still checks the levels it runs)."""
    exact: ClassVar[bool] = True
    """The window's per-epoch arithmetic keeps every copy and group to itself (interference as
    one product per copy, water-filling summed per group), so a replayed copy equals the run bit
    for bit; ``legacy`` keeps slicesim 0.1's batched arithmetic instead."""

    def epoch(self, e: Epoch) -> tuple[np.ndarray, np.ndarray]:
        """The mean delay (s, before the buffer's cap) of the user's bursts that arrived in the
        epoch, and the seconds it had data; both (copies, n_users)."""
        raise NotImplementedError


class LegacyKpis(KpiModel):
    """slicesim 0.1: flow-level processor sharing, ``thr = R max(1 - rho, phi)`` with rho the
    slice's load including the user's own work; time with data = served bits / thr; a burst
    waits for the backlog at the user's rate, then takes ``burst / thr``."""

    name = "legacy"
    exact = False

    def epoch(self, e: Epoch) -> tuple[np.ndarray, np.ndarray]:
        rate = e.rate
        # the floor keeps idle users at 0 / x
        thr = e.full_rate * np.maximum(np.maximum(1.0 - e.rho, e.phi), 1e-9)
        return e.backlog / np.maximum(rate, 1e-9) + e.burst / thr, rate / thr * e.dt


class UserPsKpis(KpiModel):
    """User-level processor sharing, mean field (module docstring): the default model."""

    name = "user_ps"
    compiled = True  # slicesim.sim.compiled.epoch
    # more PRBs: a higher full rate, less work per user, less backlog; seen in every (draw, cell,
    # slice) of 192 draws x 13 periods of paper (shared/reviews/speed-profile.md, section 4)
    monotone = True

    def epoch(self, e: Epoch) -> tuple[np.ndarray, np.ndarray]:
        phi, rate = e.phi, e.rate
        b = busy_shares(e.work.ravel(), e.flat, len(e.load)).reshape(phi.shape)
        share = np.divide(phi, b, out=np.zeros_like(phi), where=b > 0)  # time share while busy
        own = np.maximum(share * (1.0 - b), phi)  # own bursts queue on that share (M/M/1-PS)
        thr = e.full_rate * np.maximum(np.maximum(1.0 - e.rho, own), 1e-9)
        # A user short of its need has data all epoch, served at its rate: a burst arriving at a
        # uniform time also waits for the epoch's earlier arrivals less what was served before it
        # (half of each on average). Users that empty their buffer keep the PS sojourn above.
        short = phi < e.work * (1.0 - 1e-12)
        drift = 0.5 * (e.arrived - e.burst - rate * e.dt)
        wait = np.where(short, np.maximum(e.backlog + drift, 0.0), e.backlog)
        return wait / np.maximum(rate, 1e-9) + e.burst / thr, b * e.dt


def busy_shares(work: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean-field share of the epoch each user has data, ``b_u = min(1, tau_u (1 + B - b_u))``
    with ``B`` the sum of ``b`` over the user's group; 0 without work.

    Uncapped, ``b_u = u_u (1 + B)`` with ``u = tau / (1 + tau)``; with the ``k`` largest users
    capped at 1, ``B = (k + S_k) / (1 - S_k)``, S_k the sum of ``u`` over the others. The sum of
    ``min(1, u (1 + B))`` is the lowest of these k-lines, so the fixed point is the smallest of
    their roots: exact, with one sort where some user is capped.

    Args:
        work: share of the slice's epoch each user needs (tau), flat, >= 0.
        group: group of every user, flat.
        n_groups: number of groups.
    """
    u = work / (1.0 + work)
    total = np.bincount(group, weights=u, minlength=n_groups)
    level = total / np.maximum(1.0 - total, 1.0 / OVER)  # B with nobody capped (k = 0)
    lev = level[group]
    capped = work * lev >= 1.0
    if capped.any():
        slow = np.zeros(n_groups, dtype=bool)
        slow[group[capped]] = True
        rows = np.flatnonzero(slow[group])  # only the groups with a capped user are sorted
        level = _capped_levels(group[rows], work[rows], u[rows], level)
        lev = level[group]
    return np.where(work * lev >= 1.0, 1.0, u * (1.0 + lev))


def _capped_levels(g: np.ndarray, work: np.ndarray, u: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Every group's smallest k-line root (:func:`busy_shares`); users without work sort last
    and only add larger roots."""
    order = np.argsort(g + 0.5 / (1.0 + work))  # by group, then by work, largest first
    g, u = g[order], u[order]
    new = np.ones(len(g), dtype=bool)
    np.not_equal(g[1:], g[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    before, total = segment_prefix(u, new)  # u of the larger users of the same group
    rest = total[run] - before  # S_k with k = position in the group
    k = np.arange(len(g)) - starts[run]
    roots = (k + rest) / np.maximum(1.0 - rest, 1.0 / OVER)  # rest >= 1: no root (huge)
    out = level.copy()
    sizes = np.diff(np.append(starts, len(g)))
    out[g[starts]] = np.minimum(np.minimum.reduceat(roots, starts), sizes)  # sizes: all capped
    return out


KPI_MODELS: dict[str, type[KpiModel]] = {m.name: m for m in (LegacyKpis, UserPsKpis)}
assert tuple(KPI_MODELS) == KPI_MODEL_NAMES, "config.KPI_MODEL_NAMES lists the models"
