"""Flow-level KPI models (``sim.kpi_model``): a burst's throughput and each user's time with data.

Within a scheduling epoch the window knows, per user, the work ``tau`` (share of the slice's epoch
the user's backlog and arrivals need at the full slice rate R), the water-filled time share
``phi`` it is served and the slice's load ``rho = sum tau``. Two things are modelled from them:
the time the user had data (the throughput KPI is volume over time with data, TS 36.314) and the
throughput a burst sees (the delay is ``backlog / rate + burst / thr``).

``legacy`` (slicesim 0.1): flow-level processor sharing, ``thr = R max(1 - rho, phi)``, and time
with data = served bits / thr. rho counts the user's own bursts as competing flows (a user alone
at load 0.5 gets R / 2, a real scheduler gives it R) and, in a saturated epoch (rho > 1), a user
that needs less than the water level is "busy all epoch at a trickle rate" (thr = R phi).

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
  for a lone user or symmetric users, as before). This only changes saturated epochs (where
  ``legacy`` made a small user's burst take ``dt x burst / need``) and unequal users.

Measured against the TTI reference (:mod:`slicesim.sim.tti`, ``slicesim.experiments.
kpi_validation``) on ``paper``, its busiest period (78), 16 draws x 12 cells, loads 0.5 / 1 / 1.5,
every slice at 0.05..0.90: largest |error| of mean r 0.014 / 0.032 / 0.021 and of P(r = 1)
0.026 / 0.073 / 0.052 (``legacy``: 0.114 / 0.155 / 0.133 and 0.281 / 0.250 / 0.245). The rest is
the mean field itself: on one cell with K = 2..20 symmetric users (TTI reference, 60 s) it
underestimates the throughput by 2-4 % at rho = 0.6 and 5-20 % at rho = 0.8-0.9 (K = 2, rho = 0.8:
0.600 R against 0.633 R of the exact two-queue Markov chain); it shows where a slice with small
needs sits at its steep knee (voice, 0.5 Mbit/s, at 5-10 PRBs). Cost: 1.4x ``legacy`` per
``run_period`` (``benchmarks/kpi_model_cost.py``), 1.4x for the oracles' 19-level x 6-draw replay.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from slicesim.config import KPI_MODEL_NAMES
from slicesim.sim.scheduler import segment_prefix

__all__ = ["KPI_MODELS", "KpiModel", "LegacyKpis", "UserPsKpis", "busy_shares"]


_OVER = 1e30  # a level that caps every user with work (>= 1e-30; no 0 * inf)


class KpiModel:
    """A burst's throughput and each user's time with data in one epoch; registered by ``name``.

    :meth:`epoch` is called once per scheduling epoch with arrays over every user of every draw
    and copy (shape (copies, n_users) unless noted); it must stay vectorised.
    """

    name: ClassVar[str] = ""
    exact: ClassVar[bool] = True
    """The window's per-epoch arithmetic keeps every copy and group to itself (interference as
    one product per copy, water-filling summed per group), so a replayed copy equals the run bit
    for bit; ``legacy`` keeps slicesim 0.1's batched arithmetic instead."""

    def epoch(
        self,
        full_rate: np.ndarray,
        rate: np.ndarray,
        phi: np.ndarray,
        work: np.ndarray,
        flat: np.ndarray,
        load: np.ndarray,
        dt: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A burst's throughput (bit/s, the delay's ``burst / thr``) and seconds with data.

        Args:
            full_rate: bit/s each user would get with the whole slice budget (R).
            rate: bit/s each user was served on average (``phi * R``).
            phi: water-filled time shares of the slice's epoch.
            work: share of the slice's epoch each user needed (backlog + arrivals).
            flat: group (draw, copy, cell, slice) of every user, ``phi.size`` entries.
            load: sum of ``work`` per group (rho), indexed by ``flat``.
            dt: epoch length (s).
        """
        raise NotImplementedError


class LegacyKpis(KpiModel):
    """slicesim 0.1: flow-level processor sharing, ``thr = R max(1 - rho, phi)`` with rho the
    slice's load including the user's own work; time with data = served bits / thr."""

    name = "legacy"
    exact = False

    def epoch(self, full_rate, rate, phi, work, flat, load, dt):  # type: ignore[no-untyped-def]
        # the floor keeps idle users at 0 / x
        thr = full_rate * np.maximum(np.maximum(1.0 - load[flat].reshape(phi.shape), phi), 1e-9)
        return thr, rate / thr * dt


class UserPsKpis(KpiModel):
    """User-level processor sharing, mean field (module docstring): the default model."""

    name = "user_ps"

    def epoch(self, full_rate, rate, phi, work, flat, load, dt):  # type: ignore[no-untyped-def]
        b = busy_shares(work.ravel(), flat, len(load)).reshape(phi.shape)
        share = np.divide(phi, b, out=np.zeros_like(phi), where=b > 0)  # time share while busy
        own = np.maximum(share * (1.0 - b), phi)  # own bursts queue on that share (M/M/1-PS)
        thr = full_rate * np.maximum(np.maximum(1.0 - load[flat].reshape(phi.shape), own), 1e-9)
        return thr, b * dt


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
    level = total / np.maximum(1.0 - total, 1.0 / _OVER)  # B with nobody capped (k = 0)
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
    roots = (k + rest) / np.maximum(1.0 - rest, 1.0 / _OVER)  # rest >= 1: no root (huge)
    out = level.copy()
    sizes = np.diff(np.r_[starts, len(g)])
    out[g[starts]] = np.minimum(np.minimum.reduceat(roots, starts), sizes)  # sizes: all capped
    return out


KPI_MODELS: dict[str, type[KpiModel]] = {m.name: m for m in (LegacyKpis, UserPsKpis)}
assert tuple(KPI_MODELS) == KPI_MODEL_NAMES, "config.KPI_MODEL_NAMES lists the models"
