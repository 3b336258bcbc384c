"""One control period's simulated window: SimPy orders the events, numpy does the arithmetic.

Each period draws a fresh user population from its stationary distribution (15 min of network
time separate two periods, far longer than a session); SimPy then orders the window's events:
session arrivals per slice (Poisson, scaled by the slice's mask and the cells' spatial weights)
and the scheduling epochs, at which numpy updates, vectorised over all users, the load-coupled
SINR, the per-slice PRB budgets, proportional-fair time shares, buffers and the KPI sums.

The contract: :func:`simulate_window` takes the network's static :class:`~slicesim.sim.world.
World`, the period's :class:`PeriodInputs` and one generator per draw, and returns a
:class:`Window`; it reads nothing else. One epoch's physics (:func:`epoch_step`) is a function of
its :class:`EpochUsers` and the cell loads that returns an :class:`EpochResult`.

The same window can carry several *copies* (allocations replayed on one draw of the traffic:
common random numbers) and several *draws* (independent populations of the same period, each
with its own generator): the oracles' replays (``Network.replay``) run them in one pass, sharing
the per-epoch Python and SimPy overhead. With one copy and one draw this is ``run_period``.
On request (``capture``) it also records what each draw offered, users and bursts
(:mod:`slicesim.sim.capture`), for the TTI-level reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from slicesim.sim.capture import Traffic, TrafficRecorder
from slicesim.sim.kernel import backend as kernel_backend
from slicesim.sim.kernel import epoch_user_ps
from slicesim.sim.kpi import GroupSums
from slicesim.sim.kpi_model import Epoch, UserPsKpis
from slicesim.sim.scheduler import prb_budgets, processor_share
from slicesim.sim.world import World

__all__ = [
    "EpochResult",
    "EpochUsers",
    "Offered",
    "PeriodInputs",
    "Window",
    "epoch_step",
    "simulate_window",
    "simulate_windows",
]

_PER_COPY = ("bits", "busy_s", "delay_bits_s", "cqi_s")  # depend on the copy's shares
_SHARED = ("arrived_bits", "user_s")  # the same in every copy (common random numbers)


@dataclass(frozen=True)
class PeriodInputs:
    """What a window simulates besides the static world.

    Attributes:
        period: the period's index (it seeds the recorded bursts' arrival times).
        mask: the traffic mask of every slice type, (n_slices,).
        active: the active (cell, slice) pairs, (n_cells, n_slices).
        xs: the copies' shares, (copies, n_cells, n_slices), zero where inactive.
        warm: cell loads of the first epoch's interference, (draws, n_cells).
        frozen: cell loads of every epoch instead of the copies' own, (draws, n_epochs, n_cells).
    """

    period: int
    mask: np.ndarray
    active: np.ndarray
    xs: np.ndarray
    warm: np.ndarray
    frozen: np.ndarray | None = None


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


@dataclass
class Offered:
    """What a window's draws offered - their users (rows) and each epoch's bursts - kept so that
    later windows of the same period and draws replay it under other copies without SimPy or
    random numbers (the oracles replay one period's draws several times; the traffic does not
    depend on the shares). A replay from it equals a fresh simulation of the same draws bit for
    bit. Filled by the first window that is given an empty list (``offered=[]``)."""

    draws: list[_Draw]
    rows: list[list[int]]  # per epoch, every draw's rows at the epoch
    counts: list[np.ndarray]  # per epoch, the bursts of every row (joined)
    final: list[int]  # every draw's rows at the window's end


class _Draw:
    """One draw's users as flat arrays (one row per session, never reused) and its generator.

    Rows are filled ahead of need with drops from the world's pool (coupling gains, serving
    cell); an arrival only writes its slice and session times into the next row. Every random
    number of the draw comes from ``rng``, in the same order whatever the copies' shares.
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
        self.world, self.active, self.rng, self.copies = world, active, rng, copies
        self.base = base  # offset of this draw's groups in the flat group index
        self.slots: _Slots | None = None  # set when the compiled epoch keeps the state
        self.n = 0
        cells = world.n_cells
        self.gain = np.empty((0, cells))  # (rows, n_cells)
        self.others = np.empty((0, cells))  # the gains with the serving cell's zeroed
        self.own = np.empty(0)  # (rows,) the serving cell's gain
        self.cell = np.empty(0, dtype=np.intp)  # (rows,)
        self.group = np.empty(0, dtype=np.intp)  # (rows,) cell * n_slices + slice
        self.slice = np.empty(0, dtype=np.intp)  # (rows,)
        self.start = np.empty(0)  # (rows,) session start, inf where blocked or not yet used
        self.end = np.empty(0)  # (rows,) session end, -inf likewise
        self.backlog = np.empty((copies, 0))  # (copies, rows) bits queued
        # per-user KPI sums over the epochs, stacked: a block of ``copies`` rows for each name
        # of _PER_COPY, then one row for each of _SHARED (the same in every copy)
        self.sums = np.empty((len(_PER_COPY) * copies + len(_SHARED), 0))
        self._grow(expected + 4 * math.isqrt(expected) + 16)

    @classmethod
    def replayed(cls, src: _Draw, copies: int, base: int) -> _Draw:
        """A draw with ``src``'s rows (users), fresh buffers and sums for ``copies`` copies and
        no generator: it replays an :class:`Offered` record (nothing is drawn)."""
        d = cls.__new__(cls)
        d.world, d.active, d.copies, d.base, d.slots = src.world, src.active, copies, base, None
        d.rng = None  # type: ignore[assignment]
        d.n = 0
        d.gain, d.others, d.own, d.cell = src.gain, src.others, src.own, src.cell
        d.group, d.slice, d.start, d.end = src.group, src.slice, src.start, src.end
        rows = len(src.cell)
        d.backlog = np.zeros((copies, rows))
        d.sums = np.zeros((len(_PER_COPY) * copies + len(_SHARED), rows))
        return d

    def _grow(self, count: int) -> None:
        gain, own, cell = self.world.sample_drops(count, self.rng)
        self.gain = np.concatenate([self.gain, gain])
        others = gain.copy()
        others[np.arange(count), cell] = 0.0
        self.others = np.concatenate([self.others, others])
        self.own = np.concatenate([self.own, own])
        self.cell = np.concatenate([self.cell, cell])
        self.group = np.concatenate([self.group, cell * self.world.n_slices])
        self.slice = np.concatenate([self.slice, np.zeros(count, dtype=np.intp)])
        self.start = np.concatenate([self.start, np.full(count, np.inf)])
        self.end = np.concatenate([self.end, np.full(count, -np.inf)])
        if self.slots is not None:  # the state lives in the shared blocks: make room there
            self.slots.fit()
            return
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

    def in_session(self, t: float) -> np.ndarray:
        """(n,): rows in session at ``t``. Every admitted row is computed (rows outside their
        session get no data): cheaper than gathering the present ones."""
        n = self.n
        return (self.start[:n] <= t) & (self.end[:n] > t)

    def interference(self, util: np.ndarray, exact: bool) -> np.ndarray:
        """(copies or 1, n): interference power under the cell loads ``util`` (copies or 1,
        n_cells). Exact: one product per copy of the other cells' gains (a copy's result does
        not depend on the others, no own-minus-total cancellation); else slicesim 0.1's."""
        n = self.n
        if exact:
            others = self.others[:n]
            if len(util) == 1:
                return (others @ util[0])[None]
            return np.stack([others @ u for u in util])
        return util @ self.gain[:n].T - util[:, self.cell[:n]] * self.own[:n]

    def accumulate(self, lo: int, values: np.ndarray) -> None:
        """Add one epoch: this draw's users are columns ``[lo, lo + n)`` of ``values`` (the
        epoch's terms stacked as :attr:`sums`)."""
        self.sums[:, : self.n] += values[:, lo : lo + self.n]

    def add_terms(self, values: dict[str, np.ndarray]) -> None:
        """Add one epoch's terms by name, when this draw's users are all of the epoch's rows."""
        n, copies = self.n, self.copies
        for k, name in enumerate(_PER_COPY):
            self.sums[k * copies : (k + 1) * copies, :n] += values[name]
        for k, name in enumerate(_SHARED, start=len(_PER_COPY) * copies):
            self.sums[k, :n] += values[name].reshape(n)

    def group_sums(self, n_groups: int) -> dict[str, np.ndarray]:
        """The per-user sums added up per (copy, group): each (copies, n_groups)."""
        group = self.group[: self.n]
        copies = self.copies
        flat = (group + (np.arange(copies) * n_groups)[:, None]).ravel()
        out = {}
        for k, name in enumerate(_PER_COPY + _SHARED):
            if k < len(_PER_COPY):
                rows = self.sums[k * copies : (k + 1) * copies, : self.n]
            else:
                row = len(_PER_COPY) * copies + k - len(_PER_COPY)
                rows = np.broadcast_to(self.sums[row : row + 1, : self.n], (copies, self.n))
            total = np.bincount(flat, weights=rows.ravel(), minlength=copies * n_groups)
            out[name] = total.reshape(copies, n_groups)
        return out

    def arrivals(self, env: simpy.Environment, s: int, rate: float) -> Any:
        """SimPy process: Poisson session arrivals of slice ``s``, each with its session time."""
        session_s = self.world.session_s[s]
        while True:
            gaps = self.rng.exponential(1.0 / rate, size=16).tolist()  # chunks: cheaper
            sessions = self.rng.exponential(session_s, size=16).tolist()
            for gap, session in zip(gaps, sessions, strict=True):
                yield env.timeout(gap)
                self.add_one(s, env.now, session)


class _Slots:
    """Every draw's per-row state (backlog and KPI sums) in one pair of buffers, a block of
    columns per draw, so that the compiled epoch (:mod:`slicesim.sim.kernel`) updates every draw
    in place in one call; a draw's ``backlog`` and ``sums`` are views of its block."""

    def __init__(self, draws: list[_Draw]) -> None:
        self.draws = draws
        self.backlog = np.empty((draws[0].copies, 0))
        self.sums = np.empty((len(draws[0].sums), 0))
        self.offsets = np.zeros(len(draws), dtype=np.intp)
        self.fit(copy=False)  # before the first epoch every buffer is zero
        for d in draws:
            d.slots = self

    def fit(self, copy: bool = True) -> None:
        """Lay the blocks out again for the draws' current rows (after a draw has grown),
        keeping their state unless ``copy`` is false."""
        caps = [len(d.cell) for d in self.draws]
        self.offsets = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.intp)
        backlog = np.zeros((self.backlog.shape[0], sum(caps)))
        sums = np.zeros((self.sums.shape[0], sum(caps)))
        for d, off, cap in zip(self.draws, self.offsets, caps, strict=True):
            if copy:
                have = d.backlog.shape[1]
                backlog[:, off : off + have] = d.backlog
                sums[:, off : off + have] = d.sums
            d.backlog, d.sums = backlog[:, off : off + cap], sums[:, off : off + cap]
        self.backlog, self.sums = backlog, sums

    def columns(self) -> np.ndarray:
        """The block column of every joined row (every draw's first ``n`` rows in turn)."""
        if len(self.draws) == 1:
            return np.arange(self.draws[0].n)
        return np.concatenate(
            [np.arange(off, off + d.n) for d, off in zip(self.draws, self.offsets, strict=True)]
        )


def _joined(parts: list[np.ndarray], axis: int = 0) -> np.ndarray:
    """The draws' parts joined along ``axis``; a single draw (every ``run_period``) as it is."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)


@dataclass(frozen=True)
class EpochUsers:
    """Every user row of every draw at one epoch (a draw's first ``n`` rows in turn).

    Arrays are (n,) over the joined rows unless noted; ``copies`` is the window's.
    """

    present: np.ndarray  # in session at the epoch's start (bool)
    slice: np.ndarray  # slice type
    group: np.ndarray  # cell * n_slices + slice
    flat: np.ndarray  # (copies * n,) group of every (copy, row) across draws and copies
    n_flat: int  # groups across draws and copies: draws * copies * n_groups
    own: np.ndarray  # serving cell's gain (per-PRB power)
    interference: np.ndarray  # (copies or 1, n) interference power
    counts: np.ndarray  # bursts that arrive in the epoch
    backlog: np.ndarray  # (copies, n) bits queued at the epoch's start (0 out of session)


@dataclass(frozen=True)
class EpochResult:
    """What one epoch changes, over the same rows as its :class:`EpochUsers`.

    Attributes:
        backlog: bits left queued per (copy, row), capped by the buffer, (copies, n).
        values: this epoch's per-user KPI terms (``bits``, ``busy_s``, ``delay_bits_s``,
            ``cqi_s``: (copies, n); ``arrived_bits``, ``user_s``: (n,)).
        used: PRBs each (draw, copy, group) used on average, (draws * copies * n_groups,).
        phi: water-filled time shares, (copies, n).
        cqi, prb_bps: CQI and bit/s per PRB of every row under the epoch's loads, (copies or 1,
            n).
    """

    backlog: np.ndarray
    values: dict[str, np.ndarray]
    used: np.ndarray
    phi: np.ndarray
    cqi: np.ndarray
    prb_bps: np.ndarray


def epoch_step(world: World, users: EpochUsers, budget: np.ndarray) -> EpochResult:
    """One scheduling epoch's physics, vectorised over users, copies and draws.

    Load-coupled SINR -> CQI -> rate per PRB; the bursts arrive; each slice's PRB budget is
    time-shared among its users (``scheduler.processor_share``); the KPI model gives the
    bursts' delay and each user's time with data; buffers and KPI terms follow.

    Args:
        world: the static world.
        users: the epoch's users (their bursts already drawn).
        budget: PRBs of every (draw, copy, group), flat: (draws * copies * n_groups,), the
            order of ``users.flat``.
    """
    sim, model = world.sim, world.kpi_model
    dt, cap_s = sim.epoch_s, sim.buffer_s
    n_all = users.n_flat
    cqi, prb_bps = world.link.rates(users.own / (world.noise_mw + users.interference))
    # bit/s with the whole slice (copies, n); the 1 bit/s floor keeps zero budgets finite
    full_rate = np.maximum(budget[users.flat].reshape(-1, len(users.group)) * prb_bps, 1.0)
    burst = world.burst_bits[users.slice]  # (n,)
    arrived = burst * users.counts * users.present  # (n,)
    need = users.backlog + arrived  # (copies, n)
    work = need / (full_rate * dt)  # share of the slice's epoch the user needs, (copies, n)
    phi, load = processor_share(users.flat, work.ravel(), n_all, model.exact)
    phi = phi.reshape(work.shape)
    rate = phi * full_rate  # > 0 wherever need > 0 (water-filling levels are > 0)
    # the bursts' delay and the time with data: the KPI model (kpi_model.py)
    epoch = Epoch(full_rate, phi, work, users.backlog, arrived, burst, users.flat, load, dt)
    delay, busy_s = model.epoch(epoch)
    delay = np.minimum(delay, cap_s)
    served = rate * dt
    left = np.minimum(need - served, world.offered_bps[users.slice] * cap_s)
    on = users.present * dt
    values = {
        "bits": served,
        "busy_s": busy_s,
        "delay_bits_s": delay * arrived,
        "cqi_s": cqi * on,
        "arrived_bits": arrived,
        "user_s": on,
    }
    used = np.bincount(users.flat, weights=phi.ravel(), minlength=n_all)
    return EpochResult(left, values, used, phi, cqi, prb_bps)


class _Epochs:
    """The window's scheduling epochs: a SimPy process, and what they leave behind."""

    def __init__(
        self,
        world: World,
        inputs: Sequence[PeriodInputs],
        warm: np.ndarray,
        frozen: np.ndarray | None,
        draws: list[_Draw],
        recorder: TrafficRecorder | None,
    ) -> None:
        self.world, self.frozen, self.draws, self.recorder = world, frozen, draws, recorder
        copies = inputs[0].xs.shape[0]
        n_groups = world.n_groups
        self.shape = (len(draws), copies, n_groups)
        if all(inp is inputs[0] for inp in inputs):  # one period for every draw (the replays)
            one = prb_budgets(inputs[0].xs, world.n_prb).reshape(copies, n_groups)
            self.budget = np.broadcast_to(one, self.shape)
        else:  # a period per draw (replicas of a network)
            self.budget = np.stack(
                [prb_budgets(inp.xs, world.n_prb).reshape(copies, n_groups) for inp in inputs]
            )
        self.budget_flat = self.budget.reshape(-1)  # in the order of EpochUsers.flat
        self.prb_s = np.zeros(self.shape)  # PRB-seconds used per (draw, copy, group)
        self.trace: list[np.ndarray] = []  # per epoch, the loads behind its interference
        self.util_end = np.broadcast_to(warm[:, None, :], (*self.shape[:2], world.n_cells))
        self.copy_offset = (np.arange(copies) * n_groups)[:, None]  # copy l's groups: + l G
        self.source: Offered | None = None  # replay the draws' traffic from here
        self.record: Offered | None = None  # or record it here
        self.epoch = 0
        compiled = kernel_backend() == "numba" and isinstance(world.kpi_model, UserPsKpis)
        self.slots = _Slots(draws) if compiled else None

    def process(self, env: simpy.Environment) -> Any:
        """SimPy process: a scheduling epoch every ``epoch_s``."""
        frozen = self.frozen
        util = self.util_end  # (draws, copies, n_cells)
        epoch = 0
        while True:
            if frozen is not None:
                util = np.broadcast_to(frozen[:, None, min(epoch, frozen.shape[1] - 1)], util.shape)
            self.trace.append(np.array(util))
            self.epoch = epoch
            util = self.util_end = self.step(env.now, util)
            epoch += 1
            yield env.timeout(self.world.sim.epoch_s)

    def _rows(self, t: float, util: np.ndarray) -> dict[str, np.ndarray]:
        """Every draw's rows at time ``t`` joined (and their bursts drawn): present, slice,
        group, base (the group in copy 0 of the flat index), own, interference, counts."""
        draws, world = self.draws, self.world
        if self.source is not None:  # a replay: the recorded rows and bursts, nothing drawn
            for d, n in zip(draws, self.source.rows[self.epoch], strict=True):
                d.n = n
            counts = self.source.counts[self.epoch]
        else:
            counts = world.bursts.draw_each([d.slice[: d.n] for d in draws], [d.rng for d in draws])
            if self.record is not None:
                self.record.rows.append([d.n for d in draws])
                self.record.counts.append(counts)
        rows = [d.n for d in draws]
        frozen = self.frozen is not None
        group = _joined([d.group[:n] for d, n in zip(draws, rows, strict=True)])
        base = (
            group
            if len(draws) == 1
            else _joined([d.group[:n] + d.base for d, n in zip(draws, rows, strict=True)])
        )
        exact = world.kpi_model.exact
        # with frozen loads every copy sees the same interference: one row
        loads = [util[k, :1] if frozen else util[k] for k in range(len(draws))]
        return {
            "present": _joined([d.in_session(t) for d in draws]),
            "slice": _joined([d.slice[:n] for d, n in zip(draws, rows, strict=True)]),
            "group": group,
            "base": base,
            "own": _joined([d.own[:n] for d, n in zip(draws, rows, strict=True)]),
            "interference": _joined(
                [d.interference(u, exact) for d, u in zip(draws, loads, strict=True)], axis=1
            ),
            "counts": counts,
        }

    def users(self, t: float, util: np.ndarray) -> EpochUsers:
        """Gather every draw's users at time ``t`` (and draw their bursts)."""
        r = self._rows(t, util)
        present = r["present"]
        return EpochUsers(
            present=present,
            slice=r["slice"],
            group=r["group"],
            flat=(r["base"] + self.copy_offset).ravel(),
            n_flat=int(np.prod(self.shape)),
            own=r["own"],
            interference=r["interference"],
            counts=r["counts"],
            backlog=_joined([d.backlog[:, : d.n] for d in self.draws], axis=1) * present,
        )

    def _compiled(self, t: float, util: np.ndarray) -> np.ndarray:
        """One epoch in the compiled kernel (the state updated in place in the slots): the time
        share used per flat group, the same numbers as :func:`epoch_step`."""
        world, sim, slots = self.world, self.world.sim, self.slots
        assert slots is not None
        r = self._rows(t, util)
        present, slices = r["present"], r["slice"]
        cqi, prb_bps = world.link.rates(r["own"] / (world.noise_mw + r["interference"]))
        burst = world.burst_bits[slices]
        arrived = burst * r["counts"] * present
        if self.recorder is not None:
            self.recorder.epoch([d.n for d in self.draws], present, prb_bps[0], cqi[0], r["counts"])
        return epoch_user_ps(
            r["base"],
            world.n_groups,
            int(np.prod(self.shape)),
            self.budget_flat,
            prb_bps,
            cqi,
            present,
            arrived,
            burst,
            world.offered_bps[slices] * sim.buffer_s,
            slots.columns(),
            slots.backlog,
            slots.sums,
            sim.epoch_s,
            sim.buffer_s,
        )

    def step(self, t: float, util: np.ndarray) -> np.ndarray:
        """One epoch at time ``t`` under the cell loads ``util``; the loads it leaves."""
        world, draws = self.world, self.draws
        if self.slots is not None:
            used = self._compiled(t, util).reshape(self.shape) * self.budget
            return self._loads(used)
        users = self.users(t, util)
        result = epoch_step(world, users, self.budget_flat)
        if self.recorder is not None:
            self.recorder.epoch(
                [d.n for d in draws], users.present, result.prb_bps[0], result.cqi[0], users.counts
            )
        if len(draws) == 1:  # one draw (run_period, most replays): each term in place
            draws[0].backlog[:, : draws[0].n] = result.backlog
            draws[0].add_terms(result.values)
        else:  # many draws (replicas): the terms stacked once, then one add per draw
            copies, n = self.shape[1], result.backlog.shape[1]
            values = np.concatenate(
                [np.broadcast_to(result.values[name], (copies, n)) for name in _PER_COPY]
                + [np.reshape(result.values[name], (1, n)) for name in _SHARED]
            )
            lo = 0
            for d in draws:
                d.backlog[:, : d.n] = result.backlog[:, lo : lo + d.n]
                d.accumulate(lo, values)
                lo += d.n
        return self._loads(result.used.reshape(self.shape) * self.budget)

    def _loads(self, used: np.ndarray) -> np.ndarray:
        """Add the epoch's PRBs used per (draw, copy, group); the cell loads it leaves."""
        world = self.world
        self.prb_s += used * world.sim.epoch_s
        cells = used.reshape(*self.shape[:2], world.n_cells, world.n_slices).sum(axis=3)
        return np.minimum(cells / world.n_prb, 1.0)  # <= 1 unless a what-if overbooks


def simulate_window(
    world: World,
    inputs: PeriodInputs,
    rngs: Sequence[np.random.Generator],
    capture: list[Traffic] | None = None,
    offered: list[Offered] | None = None,
) -> Window:
    """Simulate one period's window for every copy and draw.

    Args:
        world: the network's static world.
        inputs: the period, its mask and slice set, the copies' shares and the cell loads.
        rngs: one generator per draw (consumed as the draw's users and bursts need).
        capture: if given, one :class:`~slicesim.sim.capture.Traffic` per draw is appended
            (users and bursts; the KPIs and the draws' generators are the same as without).
        offered: an empty list: the draws' traffic is recorded into it (one :class:`Offered`);
            a list holding a record of the same period and draws: the window replays that
            traffic instead of drawing it (``rngs`` are not used), with the same result.
    """
    recorder = None if capture is None else TrafficRecorder(world, inputs.period, len(rngs))
    window, draws = _simulate(
        [world] * len(rngs),
        [inputs] * len(rngs),
        inputs.warm,
        inputs.frozen,
        rngs,
        recorder,
        offered,
    )
    if capture is not None and recorder is not None:
        capture.extend(recorder.traffic(draws))
    return window


def simulate_windows(
    worlds: Sequence[World],
    inputs: Sequence[PeriodInputs],
    rngs: Sequence[np.random.Generator],
) -> Window:
    """Simulate the windows of several networks in one pass: draw k is network k.

    The networks share their scenario (sizes, radio and KPI models, time scales) but each has
    its own static world (drop pool, shadowing), period (mask, slice set), shares and warm
    loads. With an ``exact`` KPI model every draw's arithmetic is its own (per-draw
    interference, per-group sums), so draw k equals :func:`simulate_window` of network k alone,
    bit for bit; SimPy still orders every draw's events on one clock.

    Args:
        worlds: one static world per network.
        inputs: one per network, each with warm loads of shape (1, n_cells) and no frozen loads.
        rngs: one generator per network.
    """
    if not len(worlds) == len(inputs) == len(rngs):
        raise ValueError(
            f"worlds, inputs and rngs differ in length: {len(worlds)}, {len(inputs)}, {len(rngs)}"
        )
    shared = worlds[0]
    for k, (w, inp) in enumerate(zip(worlds, inputs, strict=True)):
        if (w.n_cells, w.n_slices, w.n_prb, w.sim) != (
            shared.n_cells,
            shared.n_slices,
            shared.n_prb,
            shared.sim,
        ) or type(w.kpi_model) is not type(shared.kpi_model):
            raise ValueError(f"network {k} is of another scenario than network 0")
        if inp.frozen is not None or np.shape(inp.warm) != (1, shared.n_cells):
            raise ValueError(
                f"inputs[{k}]: one draw per network (warm loads (1, n_cells), no frozen loads)"
            )
        if inp.xs.shape != inputs[0].xs.shape:
            raise ValueError(f"inputs[{k}].xs has shape {inp.xs.shape}, not {inputs[0].xs.shape}")
    warm = np.concatenate([inp.warm for inp in inputs])
    return _simulate(worlds, inputs, warm, None, rngs, None)[0]


def _simulate(
    worlds: Sequence[World],
    inputs: Sequence[PeriodInputs],
    warm: np.ndarray,
    frozen: np.ndarray | None,
    rngs: Sequence[np.random.Generator],
    recorder: TrafficRecorder | None,
    offered: list[Offered] | None = None,
) -> tuple[Window, list[_Draw]]:
    """The window of draw k = (``worlds[k]``, ``inputs[k]``, ``rngs[k]``); the shared parts of
    the world (time scales, link, KPI model, burst sizes) are ``worlds[0]``'s. ``offered``:
    record the traffic (an empty list) or replay it (:func:`simulate_window`)."""
    world = worlds[0]
    copies, n_groups = inputs[0].xs.shape[0], world.n_groups
    if offered and recorder is None:  # replay the recorded traffic
        source = offered[0]
        if len(source.draws) != len(rngs):
            raise ValueError(f"offered traffic of {len(source.draws)} draws, not {len(rngs)}")
        replayed = [
            _Draw.replayed(d, copies, k * copies * n_groups) for k, d in enumerate(source.draws)
        ]
        epochs = _Epochs(world, inputs, warm, frozen, replayed, None)
        epochs.source = source
        env = simpy.Environment()
        env.process(epochs.process(env))
        env.run(until=world.sim.window_s)
        for d, n in zip(replayed, source.final, strict=True):
            d.n = n
        return _window(epochs, replayed), replayed
    sim = world.sim
    draws, rates = [], []
    for k, (w, inp, rng) in enumerate(zip(worlds, inputs, rngs, strict=True)):
        users_mean = w.users_per_cell * inp.mask * w.n_cells  # (n_slices,)
        rate = users_mean / w.session_s  # sessions/s per slice
        n0 = rng.poisson(users_mean)
        expected = int(n0.sum() + np.ceil(rate.sum() * sim.window_s))
        draw = _Draw(w, inp.active, rng, copies, k * copies * n_groups, expected)
        for s in np.flatnonzero(n0):  # stationary population with memoryless residual sessions
            draw.add(int(s), 0.0, rng.exponential(w.session_s[s], size=n0[s]))
        draws.append(draw)
        rates.append(rate * inp.active.any(axis=0))
    env = simpy.Environment()
    for draw, rate in zip(draws, rates, strict=True):
        for s in np.flatnonzero(rate > 0):
            env.process(draw.arrivals(env, int(s), float(rate[s])))
    epochs = _Epochs(world, inputs, warm, frozen, draws, recorder)
    record = None
    if offered is not None and recorder is None:
        record = epochs.record = Offered(draws, [], [], [])
    env.process(epochs.process(env))
    env.run(until=sim.window_s)
    if record is not None and offered is not None:
        record.final.extend(d.n for d in draws)
        offered.append(record)
    return _window(epochs, draws), draws


def _window(epochs: _Epochs, draws: list[_Draw]) -> Window:
    """The window's result: KPI sums per (draw, copy, group), loads."""
    world = epochs.world
    per_draw = [d.group_sums(world.n_groups) for d in draws]
    sums = {name: np.stack([g[name] for g in per_draw]) for name in per_draw[0]}
    trace = np.stack(epochs.trace, axis=2)
    return Window(GroupSums(sums, epochs.prb_s, world.n_cells), trace, epochs.util_end)
