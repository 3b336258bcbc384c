"""One control period's simulated window: SimPy orders the events, numpy does the arithmetic.

Each period draws a fresh user population from its stationary distribution (15 min of network
time separate two periods, far longer than a session); SimPy then orders the window's events:
session arrivals per slice (Poisson, scaled by the slice's mask and the cells' spatial weights)
and the scheduling epochs, at which numpy updates, vectorised over all users, the load-coupled
SINR, the per-slice PRB budgets, proportional-fair time shares, buffers and the KPI sums.

The same window can carry several *copies* (allocations replayed on one draw of the traffic:
common random numbers) and several *draws* (independent populations of the same period, each
with its own generator): the oracles' replays (``Network.replay``) run them in one pass, sharing
the per-epoch Python and SimPy overhead. With one copy and one draw this is ``run_period``.
On request (``capture``) it also records what each draw offered, users and bursts
(:mod:`slicesim.sim.capture`), for the TTI-level reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from slicesim.sim.capture import Traffic, TrafficRecorder
from slicesim.sim.kpi import GroupSums
from slicesim.sim.kpi_model import Epoch
from slicesim.sim.scheduler import prb_budgets, processor_share

if TYPE_CHECKING:
    from slicesim.sim.engine import Network

__all__ = ["Window", "simulate_window"]

_PER_COPY = ("bits", "busy_s", "delay_bits_s", "cqi_s")  # depend on the copy's shares
_SHARED = ("arrived_bits", "user_s")  # the same in every copy (common random numbers)


class _Draw:
    """One draw's users as flat arrays (one row per session, never reused) and its generator.

    Rows are filled ahead of need with drops from the network's pool (coupling gains, serving
    cell); an arrival only writes its slice and session times into the next row. Every random
    number of the draw comes from ``rng``, in the same order whatever the copies' shares.
    """

    def __init__(
        self, net: Network, rng: np.random.Generator, copies: int, base: int, expected: int
    ) -> None:
        self.net, self.rng, self.copies = net, rng, copies
        self.base = base  # offset of this draw's groups in the flat group index
        self.n = 0
        self.gain = np.empty((0, net.n_cells))
        self.others = np.empty((0, net.n_cells))  # the gains with the serving cell's zeroed
        self.own = np.empty(0)
        self.cell = np.empty(0, dtype=np.intp)
        self.group = np.empty(0, dtype=np.intp)
        self.slice = np.empty(0, dtype=np.intp)
        self.start = np.empty(0)
        self.end = np.empty(0)
        self.backlog = np.empty((copies, 0))  # bits queued per user, one row per copy
        # per-user KPI sums over the epochs: one row per copy, or one row shared by all copies
        self.sums = {n: np.empty((copies, 0)) for n in _PER_COPY}
        self.sums.update({n: np.empty((1, 0)) for n in _SHARED})
        self._grow(expected + 4 * math.isqrt(expected) + 16)

    def _grow(self, count: int) -> None:
        gain, own, cell = self.net._sample_drops(count, self.rng)
        self.gain = np.concatenate([self.gain, gain])
        others = gain.copy()
        others[np.arange(count), cell] = 0.0
        self.others = np.concatenate([self.others, others])
        self.own = np.concatenate([self.own, own])
        self.cell = np.concatenate([self.cell, cell])
        self.group = np.concatenate([self.group, cell * self.net.n_slices])
        self.slice = np.concatenate([self.slice, np.zeros(count, dtype=np.intp)])
        self.start = np.concatenate([self.start, np.full(count, np.inf)])
        self.end = np.concatenate([self.end, np.full(count, -np.inf)])
        self.backlog = np.concatenate([self.backlog, np.zeros((self.copies, count))], axis=1)
        for name, old in self.sums.items():
            self.sums[name] = np.concatenate([old, np.zeros((len(old), count))], axis=1)

    def add(self, slice_idx: int, start: float, duration: np.ndarray) -> None:
        """Admit users of ``slice_idx`` (blocked where their slice is inactive in their cell)."""
        k = len(duration)
        if self.n + k > len(self.cell):
            self._grow(max(16, self.n // 2, k))
        rows = slice(self.n, self.n + k)
        self.n += k
        admitted = self.net._active_now[self.cell[rows], slice_idx]
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
        if self.net._active_now[cell, slice_idx]:
            self.start[i], self.end[i] = start, start + duration

    def accumulate(self, lo: int, values: dict[str, np.ndarray]) -> None:
        """Add one epoch: this draw's users are columns ``[lo, lo + n)`` of every value."""
        n = self.n
        for name, value in values.items():
            self.sums[name][:, :n] += value[..., lo : lo + n]

    def group_sums(self, n_groups: int) -> dict[str, np.ndarray]:
        """The per-user sums added up per (copy, group): each (copies, n_groups)."""
        group = self.group[: self.n]
        flat = (group + (np.arange(self.copies) * n_groups)[:, None]).ravel()
        out = {}
        for name, rows in self.sums.items():
            rows = np.broadcast_to(rows[:, : self.n], (self.copies, self.n))
            total = np.bincount(flat, weights=rows.ravel(), minlength=self.copies * n_groups)
            out[name] = total.reshape(self.copies, n_groups)
        return out

    def arrivals(self, env: simpy.Environment, s: int, rate: float) -> Any:
        """SimPy process: Poisson session arrivals of slice ``s``, each with its session time."""
        session_s = self.net._session_s[s]
        while True:
            gaps = self.rng.exponential(1.0 / rate, size=16).tolist()  # chunks: cheaper
            sessions = self.rng.exponential(session_s, size=16).tolist()
            for gap, session in zip(gaps, sessions, strict=True):
                yield env.timeout(gap)
                self.add_one(s, env.now, session)


def _join(
    draws: list[_Draw],
    ns: list[int],
    part: Callable[[int, _Draw, int], np.ndarray],
    axis: int = 0,
) -> np.ndarray:
    """``part(k, draw, n)`` of every draw (its first ``n`` users), joined along ``axis``.

    A single draw (every ``run_period``) is returned as it is: no list, no copy.
    """
    if len(draws) == 1:
        return part(0, draws[0], ns[0])
    return np.concatenate(
        [part(k, d, n) for k, (d, n) in enumerate(zip(draws, ns, strict=True))], axis=axis
    )


@dataclass
class Window:
    """What a window produced: KPI sums per (draw, copy, cell, slice) and the cell loads.

    Attributes:
        sums: the KPI sums (:class:`~slicesim.sim.kpi.GroupSums`).
        cell_util: loads behind each epoch's interference, (draws, copies, n_epochs, n_cells).
        util_end: loads after the last epoch (the next period's warm start), (draws, copies,
            n_cells).
    """

    sums: GroupSums
    cell_util: np.ndarray
    util_end: np.ndarray


def simulate_window(
    net: Network,
    xs: np.ndarray,
    rngs: Sequence[np.random.Generator],
    warm: np.ndarray,
    frozen: np.ndarray | None = None,
    capture: list[Traffic] | None = None,
) -> Window:
    """Simulate the coming period's window of ``net`` for every copy and draw.

    Args:
        net: the network (its period, masks, active slices and static world).
        xs: shares of the copies, (copies, n_cells, n_slices), zero where inactive.
        rngs: one generator per draw (consumed as the draw's users and bursts need).
        warm: cell loads of the first epoch's interference, (draws, n_cells).
        frozen: loads of every epoch, (draws, n_epochs, n_cells), instead of the copies' own.
        capture: if given, one :class:`~slicesim.sim.capture.Traffic` per draw is appended
            (users and bursts; the KPIs and the draws' generators are the same as without).
    """
    sim = net.config.sim
    copies, n_groups = xs.shape[0], net.n_cells * net.n_slices
    mask = net.masks(net.period)
    users_mean = net._users_per_cell * mask * net.n_cells
    rate = users_mean / net._session_s  # sessions/s per slice
    draws = []
    for k, rng in enumerate(rngs):
        n0 = rng.poisson(users_mean)
        expected = int(n0.sum() + np.ceil(rate.sum() * sim.window_s))
        draw = _Draw(net, rng, copies, k * copies * n_groups, expected)
        for s in np.flatnonzero(n0):  # stationary population with memoryless residual sessions
            draw.add(int(s), 0.0, rng.exponential(net._session_s[s], size=n0[s]))
        draws.append(draw)
    prb_s = np.zeros((len(draws), copies, n_groups))
    trace: list[np.ndarray] = []
    env = simpy.Environment()
    for draw in draws:
        for s in np.flatnonzero(rate * net._active_now.any(axis=0) > 0):
            env.process(draw.arrivals(env, int(s), float(rate[s])))
    budget = prb_budgets(xs, net.n_prb).reshape(copies, n_groups)
    end: list[np.ndarray] = []
    recorder = None if capture is None else TrafficRecorder(net, len(draws))
    env.process(_epochs(env, net, draws, budget, prb_s, warm, frozen, trace, end, recorder))
    env.run(until=sim.window_s)
    if capture is not None and recorder is not None:
        capture.extend(recorder.traffic(draws))
    per_draw = [d.group_sums(n_groups) for d in draws]
    sums = {name: np.stack([g[name] for g in per_draw]) for name in per_draw[0]}
    return Window(GroupSums(sums, prb_s, net.n_cells), np.stack(trace, axis=2), end[0])


def _epochs(
    env: simpy.Environment,
    net: Network,
    draws: list[_Draw],
    budget: np.ndarray,
    prb_s: np.ndarray,
    warm: np.ndarray,
    frozen: np.ndarray | None,
    trace: list[np.ndarray],
    end: list[np.ndarray],
    recorder: TrafficRecorder | None = None,
) -> Any:
    """SimPy process: a scheduling epoch every ``epoch_s``, vectorised over users and copies.

    Per epoch: load-coupled SINR -> CQI -> rate per PRB; bursts arrive (one draw for every
    copy); each slice's PRB budget is time-shared among its users
    (``scheduler.processor_share``); buffers, PRB use and the KPI sums are updated. Cell loads
    feed the next epoch's interference (or the ``frozen`` loads, if given). A ``recorder``
    keeps every epoch's users and burst counts.
    """
    dt, cap_s = net.config.sim.epoch_s, net.config.sim.buffer_s
    exact = net.kpi_model.exact
    n_draws, (copies, n_groups) = len(draws), budget.shape
    copy_offset = (np.arange(copies) * n_groups)[:, None]  # group of copy l: + l * n_groups
    util = np.broadcast_to(warm[:, None, :], (n_draws, copies, net.n_cells))
    epoch = 0
    while True:
        if frozen is not None:
            util = np.broadcast_to(frozen[:, None, min(epoch, frozen.shape[1] - 1)], util.shape)
        trace.append(np.array(util))
        ns = [d.n for d in draws]

        def in_session(k: int, d: _Draw, n: int, t: float = env.now) -> np.ndarray:
            """Every admitted row is computed (rows outside their session get no data):
            cheaper than gathering the present ones."""
            return (d.start[:n] <= t) & (d.end[:n] > t)

        present = _join(draws, ns, in_session)
        sl = _join(draws, ns, lambda k, d, n: d.slice[:n])
        group = _join(draws, ns, lambda k, d, n: d.group[:n])
        own = _join(draws, ns, lambda k, d, n: d.own[:n])
        base = group if n_draws == 1 else _join(draws, ns, lambda k, d, n: d.group[:n] + d.base)

        def interference(k: int, d: _Draw, n: int, util: np.ndarray = util) -> np.ndarray:
            """(copies, n); with frozen loads every copy sees the same: one row.

            Exact models: one product per copy of the other cells' gains (no own-minus-total
            cancellation; a copy's result does not depend on the others). Legacy: 0.1's."""
            u = util[k, :1] if frozen is not None else util[k]
            if exact:
                others = d.others[:n]
                return (others @ u[0])[None] if len(u) == 1 else np.stack([others @ r for r in u])
            return u @ d.gain[:n].T - u[:, d.cell[:n]] * d.own[:n]

        inter = _join(draws, ns, interference, axis=1)
        cqi, prb_bps = net.link.rates(own / (net._noise_mw + inter))
        # bit/s with the whole slice; the 1 bit/s floor keeps zero budgets finite
        full_rate = np.maximum(budget[:, group] * prb_bps, 1.0)
        burst = net._burst_bits[sl]
        counts = _join(draws, ns, lambda k, d, n: net._bursts.draw(d.slice[:n], d.rng))
        arrived = burst * counts * present
        if recorder is not None:
            recorder.epoch(ns, present, prb_bps[0], cqi[0], counts)
        backlog = _join(draws, ns, lambda k, d, n: d.backlog[:, :n], axis=1) * present
        need = backlog + arrived
        work = need / (full_rate * dt)  # share of the slice's epoch the user needs
        flat = (base + copy_offset).ravel()
        phi, load = processor_share(flat, work.ravel(), n_draws * copies * n_groups, exact)
        phi = phi.reshape(copies, -1)
        rate = phi * full_rate  # > 0 wherever need > 0 (water-filling levels are > 0)
        # the bursts' delay and the time with data: the KPI model (kpi_model.py)
        epoch_in = Epoch(full_rate, phi, work, backlog, arrived, burst, flat, load, dt)
        delay, busy_s = net.kpi_model.epoch(epoch_in)
        delay = np.minimum(delay, cap_s)
        served = rate * dt
        left = np.minimum(need - served, net._offered_bps[sl] * cap_s)
        on = present * dt
        values = {"bits": served, "busy_s": busy_s, "delay_bits_s": delay * arrived,
                  "cqi_s": cqi * on, "arrived_bits": arrived, "user_s": on}  # fmt: skip
        lo = 0
        for d, n in zip(draws, ns, strict=True):
            d.backlog[:, :n] = left[:, lo : lo + n]
            d.accumulate(lo, values)
            lo += n
        used = np.bincount(flat, weights=phi.ravel(), minlength=n_draws * copies * n_groups)
        used = used.reshape(n_draws, copies, n_groups) * budget
        prb_s += used * dt
        cells = used.reshape(n_draws, copies, net.n_cells, net.n_slices).sum(axis=3)
        util = np.minimum(cells / net.n_prb, 1.0)  # <= 1 unless a what-if overbooks
        end[:] = [util]
        epoch += 1
        yield env.timeout(dt)
