"""A window's users, the reference engine's: drawn from the draw's generator as SimPy orders them.

Each period draws a fresh population from its stationary distribution (15 min of network time
separate two periods, far longer than a session): the users in session at the window's start
(Poisson per slice, memoryless residual sessions), then session arrivals per slice (a SimPy
process each: Poisson, scaled by the slice's mask and the cells' spatial weights) and, at every
scheduling epoch, each user's bursts (:class:`~slicesim.sim.traffic.PoissonTable`). A user is a
row of flat arrays (never reused), filled ahead of need with drops from the world's pool.

The order in which this takes numbers from the generator is the window's random stream: the
compiled engine (:mod:`slicesim.sim.compiled.traffic`) takes the same numbers in the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS, sum_rows
from slicesim.sim.world import World

__all__ = ["ARRIVAL_CHUNK", "Recording", "Users"]

ARRIVAL_CHUNK = 16
"""Gaps and session lengths an arrival process draws at a time (cheaper than one by one)."""


class Users:
    """One draw's users as flat arrays (one row per session, never reused) and its generator.

    Rows are filled ahead of need with drops from the world's pool (coupling gains, serving
    cell); an arrival only writes its slice and session times into the next row. Every random
    number of the draw comes from ``rng``, in the same order whatever the copies' shares.

    Args:
        world: the network's static world.
        active: the period's active (cell, slice) pairs.
        rng: the draw's generator.
        copies: share vectors the window simulates on this draw.
        base: offset of this draw's groups in the window's flat group index.
        expected: rows expected in the window (more are drawn when they run out).
    """

    def __init__(
        self,
        world: World,
        active: np.ndarray,
        rng: np.random.Generator,
        copies: int,
        base: int,
        expected: int,
    ) -> None:
        self.world, self.active, self.rng, self.copies, self.base = world, active, rng, copies, base
        self.n = 0
        cells = world.n_cells
        self.gain = np.empty((0, cells))  # (rows, n_cells)
        self.others_t = np.empty((cells, 0))  # (n_cells, rows) the gains, the serving cell's 0
        self.own = np.empty(0)  # (rows,) the serving cell's gain
        self.cell = np.empty(0, dtype=np.intp)  # (rows,)
        self.group = np.empty(0, dtype=np.intp)  # (rows,) cell * n_slices + slice
        self.slice = np.empty(0, dtype=np.intp)  # (rows,)
        self.start = np.empty(0)  # (rows,) session start, inf where blocked or not yet used
        self.end = np.empty(0)  # (rows,) session end, -inf likewise
        self.backlog = np.empty((copies, 0))  # (copies, rows) bits queued
        # per-user KPI sums over the epochs, laid out as epoch.sum_rows(copies)
        self.sums = np.empty((len(PER_COPY_SUMS) * copies + len(SHARED_SUMS), 0))
        self._grow(expected + 4 * math.isqrt(expected) + 16)

    @classmethod
    def drawn(
        cls,
        world: World,
        mask: np.ndarray,
        active: np.ndarray,
        rng: np.random.Generator,
        copies: int,
        base: int,
    ) -> tuple[Users, np.ndarray]:
        """A draw's users in session at the window's start (their sessions' memoryless
        residuals), and the session arrival rate of every slice (0 where none arrive)."""
        users_mean = world.users_per_cell * mask * world.n_cells  # (n_slices,)
        rate = users_mean / world.session_s  # sessions/s per slice
        n0 = rng.poisson(users_mean)
        expected = int(n0.sum() + np.ceil(rate.sum() * world.sim.window_s))
        users = cls(world, active, rng, copies, base, expected)
        for s in np.flatnonzero(n0):
            users.add(int(s), 0.0, rng.exponential(world.session_s[s], size=n0[s]))
        return users, rate * active.any(axis=0)

    @classmethod
    def replayed(cls, src: Users, copies: int, base: int) -> Users:
        """A draw with ``src``'s rows (users), fresh buffers and sums for ``copies`` copies and
        no generator: it replays a :class:`Recording` (nothing is drawn)."""
        d = cls.__new__(cls)
        d.world, d.active, d.copies, d.base = src.world, src.active, copies, base
        d.rng = None  # type: ignore[assignment]
        d.n = 0
        d.gain, d.others_t, d.own, d.cell = src.gain, src.others_t, src.own, src.cell
        d.group, d.slice, d.start, d.end = src.group, src.slice, src.start, src.end
        rows = len(src.cell)
        d.backlog = np.zeros((copies, rows))
        d.sums = np.zeros((len(PER_COPY_SUMS) * copies + len(SHARED_SUMS), rows))
        return d

    def _grow(self, count: int) -> None:
        gain, own, cell = self.world.sample_drops(count, self.rng)
        self.gain = np.concatenate([self.gain, gain])
        others = gain.T.copy()
        others[cell, np.arange(count)] = 0.0
        self.others_t = np.concatenate([self.others_t, others], axis=1)
        self.own = np.concatenate([self.own, own])
        self.cell = np.concatenate([self.cell, cell])
        self.group = np.concatenate([self.group, cell * self.world.n_slices])
        self.slice = np.concatenate([self.slice, np.zeros(count, dtype=np.intp)])
        self.start = np.concatenate([self.start, np.full(count, np.inf)])
        self.end = np.concatenate([self.end, np.full(count, -np.inf)])
        self.backlog = np.concatenate([self.backlog, np.zeros((self.copies, count))], axis=1)
        self.sums = np.concatenate([self.sums, np.zeros((len(self.sums), count))], axis=1)

    def add(self, slice_idx: int, start: float, duration: np.ndarray) -> None:
        """Admit users of ``slice_idx`` (blocked where their slice is inactive in their cell)."""
        k = len(duration)
        if self.n + k > len(self.cell):
            self._grow(max(16, self.n // 2, k))
        rows = slice(self.n, self.n + k)
        self.n += k
        admitted = self.active[self.cell[rows], slice_idx]
        self.slice[rows] = slice_idx
        self.group[rows] += slice_idx
        self.start[rows] = np.where(admitted, start, np.inf)
        self.end[rows] = np.where(admitted, start + duration, -np.inf)

    def add_one(self, slice_idx: int, start: float, duration: float) -> None:
        """:meth:`add` for a single arrival, in plain Python (cheaper than numpy for one row)."""
        if self.n == len(self.cell):
            self._grow(max(16, self.n // 2))
        i = self.n
        self.n += 1
        cell = self.cell[i]
        self.slice[i] = slice_idx
        self.group[i] += slice_idx
        if self.active[cell, slice_idx]:
            self.start[i], self.end[i] = start, start + duration

    def arrivals(self, env: simpy.Environment, s: int, rate: float) -> Any:
        """SimPy process: Poisson session arrivals of slice ``s``, each with its session time."""
        session_s = self.world.session_s[s]
        while True:
            gaps = self.rng.exponential(1.0 / rate, size=ARRIVAL_CHUNK).tolist()
            sessions = self.rng.exponential(session_s, size=ARRIVAL_CHUNK).tolist()
            for gap, session in zip(gaps, sessions, strict=True):
                yield env.timeout(gap)
                self.add_one(s, env.now, session)

    def in_session(self, t: float) -> np.ndarray:
        """(n,): rows in session at ``t``. Every admitted row is computed (rows outside their
        session get no data): cheaper than gathering the present ones."""
        n = self.n
        return (self.start[:n] <= t) & (self.end[:n] > t)

    def interference(self, util: np.ndarray, exact: bool) -> np.ndarray:
        """(copies or 1, n): interference power under the cell loads ``util`` (copies or 1,
        n_cells). Exact: per copy, the other cells' gains times their loads summed in cell
        order (a running sum, one cell at a time over every row: the compiled engine adds them
        in the same order; a copy's result does not depend on the others); else slicesim 0.1's
        product with the own term taken off."""
        n = self.n
        if not exact:
            return util @ self.gain[:n].T - util[:, self.cell[:n]] * self.own[:n]
        others = self.others_t[:, :n]
        out, term = np.empty((len(util), n)), np.empty(n)
        for total, u in zip(out, util, strict=True):
            np.multiply(others[0], u[0], out=total)
            for j in range(1, len(u)):
                np.multiply(others[j], u[j], out=term)
                total += term
        return out

    def add_terms(self, values: dict[str, np.ndarray], lo: int = 0) -> None:
        """Add one epoch's per-user terms (:class:`~slicesim.sim.epoch.EpochResult` ``values``);
        this draw's users are the columns ``[lo, lo + n)`` of the epoch's rows."""
        n, rows = self.n, sum_rows(self.copies)
        for name, row in rows.items():
            value = values[name]
            self.sums[row, :n] += value[..., lo : lo + n] if value.ndim > 1 else value[lo : lo + n]

    def group_sums(self, n_groups: int) -> dict[str, np.ndarray]:
        """The per-user sums added up per (copy, group): each (copies, n_groups)."""
        group = self.group[: self.n]
        copies = self.copies
        flat = (group + (np.arange(copies) * n_groups)[:, None]).ravel()
        out = {}
        for name, row in sum_rows(copies).items():
            rows = np.broadcast_to(self.sums[row, : self.n], (copies, self.n))
            total = np.bincount(flat, weights=rows.ravel(), minlength=copies * n_groups)
            out[name] = total.reshape(copies, n_groups)
        return out


@dataclass
class Recording:
    """What a window's draws offered - their users (rows) and each epoch's bursts - kept so that
    later windows of the same period and draws replay it under other copies without SimPy or
    random numbers (the oracles replay one period's draws several times; the traffic does not
    depend on the shares). A replay from it equals a fresh simulation of the same draws bit for
    bit. The reference engine's record (``offered``; the compiled engine keeps the generators'
    states instead: :class:`slicesim.sim.compiled.window.Recording`)."""

    draws: list[Users]
    rows: list[list[int]]  # per epoch, every draw's rows at the epoch
    counts: list[np.ndarray]  # per epoch, the bursts of every row (joined)
    final: list[int]  # every draw's rows at the window's end
