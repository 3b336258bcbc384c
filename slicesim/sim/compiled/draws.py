"""The draws of a compiled window: what each needs, its rows, and how the draws share the threads.

:func:`prepare` gathers, in Python, what every draw of a window needs (:class:`Draws`): the
reference's first random draw (the users in session at the start, ``Generator.poisson``) and row
estimate, each draw's generator (by address: :mod:`slicesim.sim.compiled.rng`), its world's drop
pool (by address: a vector env's replicas each have their own, read where they lie), the slice
traffic and the link tables. In compiled code, :func:`draw_rows` draws one draw's traffic
(:mod:`slicesim.sim.compiled.traffic`) and lays its rows out by group. The window
(:mod:`slicesim.sim.compiled.window`) and the oracles' level sweep
(:mod:`slicesim.sim.compiled.sweep`) run on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numba import carray, njit, types
from numba.core.extending import intrinsic

from slicesim.sim.compiled.rng import address, kind
from slicesim.sim.compiled.traffic import draw_traffic

__all__ = ["PARALLEL_DRAWS", "Draws", "Recording", "draw_rows", "epochs_in_window", "prepare"]

PARALLEL_DRAWS = 8
"""Draws from which a window runs on several threads (below, the threads cost more than they
give); ``numba.set_num_threads`` (or ``NUMBA_NUM_THREADS``) sets how many."""


class Draws(NamedTuple):
    """What the draws of a window need, as arrays (one row per draw where noted)."""

    bitgen: np.ndarray  # (draws,) address of each draw's bit generator
    kinds: np.ndarray  # (draws,) its kind (rng.kind)
    n0: np.ndarray  # (draws, n_slices) users in session at the start
    cap0: np.ndarray  # (draws,) rows drawn ahead at the start
    rate: np.ndarray  # (draws, n_slices) session arrivals per second (0: none)
    active: np.ndarray  # (1 or draws, n_cells, n_slices) the period's active pairs
    world_of: np.ndarray  # (draws,) the draw's world
    drop_cdf: np.ndarray  # (worlds, n_cells) the cells' spatial weights, cumulated
    gain_at: np.ndarray  # (worlds,) address of each world's drop gains
    cell_at: np.ndarray  # (worlds,) address of each world's drops' serving cells
    drops: int  # drops per cell
    session_s: np.ndarray  # (n_slices,) mean session length
    burst_table: np.ndarray  # PoissonTable.table
    burst_offset: np.ndarray  # PoissonTable.offset
    burst_guide: np.ndarray  # PoissonTable.guide
    burst_bits: np.ndarray  # (n_slices,) bits of one burst
    cap_bits: np.ndarray  # (n_slices,) the buffer's cap
    thresholds: np.ndarray  # CQI thresholds (linear SINR)
    bps_of: np.ndarray  # bit/s per PRB of each CQI
    noise: float  # noise per PRB
    window_s: float
    epoch_s: float
    n_epochs: int  # epochs the window runs (epochs_in_window)
    n_prb: int
    cap_s: float  # the buffer (s)


class Recording:
    """What the compiled engine keeps of a window's draws to replay them (``offered``): their
    generators' states at the window's start. A replay draws the same traffic again from copies
    of them (the compiled draws cost little beside the epochs), so it equals the recorded window
    bit for bit; the draws' own generators are not used."""

    def __init__(self, rngs: Sequence[np.random.Generator]) -> None:
        self.states = [rng.bit_generator.state for rng in rngs]
        self._rngs: list[np.random.Generator] = []

    def generators(self) -> list[np.random.Generator]:
        """Generators at the recorded states (the recording's own, set back to them: a replay
        of the same draws never runs beside another)."""
        if not self._rngs:
            for state in self.states:
                bit_generator = getattr(np.random, state["bit_generator"])(0)  # no entropy
                self._rngs.append(np.random.Generator(bit_generator))
        for rng, state in zip(self._rngs, self.states, strict=True):
            rng.bit_generator.state = state
        return self._rngs


def epochs_in_window(window_s: float, epoch_s: float) -> int:
    """The epochs a window runs: SimPy's clock from 0 in steps of ``epoch_s`` while below
    ``window_s`` (the same float sums as the reference's epoch process)."""
    t, n = 0.0, 0
    while t < window_s:
        n += 1
        t = t + epoch_s
    return n


def prepare(
    worlds: Sequence[Any],
    inputs: Sequence[Any],
    rngs: Sequence[np.random.Generator],
    offered: list[Any] | None,
) -> tuple[Draws, list[Any], list[np.random.Generator]]:
    """What draw k = (``worlds[k]``, ``inputs[k]``, ``rngs[k]``) needs; the periods (one, or one
    per draw) and the generators that run (the recorded ones in a replay).

    ``offered``: an empty list records the draws (a :class:`Recording` is appended), a list
    holding one replays them.
    """
    world = worlds[0]
    sim = world.sim
    draws = len(rngs)
    if offered:  # a replay: the recorded draws again
        recording = offered[0]
        if len(recording.states) != draws:
            raise ValueError(f"offered traffic of {len(recording.states)} draws, not {draws}")
        rngs = recording.generators()
    elif offered is not None:
        offered.append(Recording(rngs))
    periods = [inputs[0]] if all(inp is inputs[0] for inp in inputs) else list(inputs)
    active = np.stack([p.active for p in periods])
    # the reference's first draws and row estimate (population.Users.drawn), in Python: the
    # users in session at the start, per slice (each draw from its own generator)
    users_mean = world.users_per_cell * np.stack([p.mask for p in periods]) * world.n_cells
    per_s = users_mean / world.session_s  # sessions/s per slice, (periods, n_slices)
    n0 = np.stack([rng.poisson(users_mean[k if len(periods) > 1 else 0])
                   for k, rng in enumerate(rngs)])  # fmt: skip
    rows = np.ceil(per_s.sum(axis=1) * sim.window_s)  # per row, the reference's own sums
    expected = (n0.sum(axis=1) + rows).astype(np.int64)
    shared = all(w is world for w in worlds)
    distinct = [world] if shared else list(worlds)
    thresholds, bps_of = world.link.cqi_tables()
    out = Draws(
        bitgen=np.array([address(rng) for rng in rngs], dtype=np.uintp),
        kinds=np.array([kind(rng) for rng in rngs], dtype=np.int64),
        n0=n0,
        cap0=np.array([e + 4 * math.isqrt(e) + 16 for e in expected.tolist()], dtype=np.int64),
        rate=np.ascontiguousarray(np.broadcast_to(per_s * active.any(axis=1), n0.shape)),
        active=active,
        world_of=np.zeros(draws, np.int64) if shared else np.arange(draws, dtype=np.int64),
        drop_cdf=np.stack([w.drop_cdf for w in distinct]),
        gain_at=np.array([w.pool_gain.ctypes.data for w in distinct], dtype=np.uintp),
        cell_at=np.array([w.pool_cell.ctypes.data for w in distinct], dtype=np.uintp),
        drops=int(world.pool_cell.shape[1]),
        session_s=world.session_s,
        burst_table=world.bursts.table,
        burst_offset=world.bursts.offset,
        burst_guide=world.bursts.guide,
        burst_bits=world.burst_bits,
        cap_bits=world.offered_bps * sim.buffer_s,
        thresholds=thresholds,
        bps_of=bps_of,
        noise=float(world.noise_mw),
        window_s=float(sim.window_s),
        epoch_s=float(sim.epoch_s),
        n_epochs=epochs_in_window(sim.window_s, sim.epoch_s),
        n_prb=int(world.n_prb),
        cap_s=float(sim.buffer_s),
    )
    return out, periods, list(rngs)


def _pointer(kind: Any) -> Any:
    @intrinsic
    def at(typingctx: Any, addr: Any) -> Any:
        ptr = types.CPointer(kind)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.inttoptr(args[0], context.get_value_type(ptr))

        return ptr(types.uintp), codegen

    return at


_f64_at = _pointer(types.float64)
_i64_at = _pointer(types.int64)


@njit(cache=True, nogil=True)
def draw_rows(d: int, t: Draws) -> Any:
    """Draw ``d``'s traffic and its rows laid out by group (a stable counting sort, so a group's
    rows stay in row order - every sum over a group runs in the reference's order - and lie
    together).

    Returns:
        ``n`` rows; per position (rows by group): the original row, the group, the gains to
        the other cells (the serving cell's zeroed), the own gain, session start and end, one
        burst's bits and the buffer's cap; per epoch its time, the rows so far, and every
        row's burst count (``counts[offset[k] + row]``).
    """
    n_cells, n_slices = t.active.shape[1], t.active.shape[2]
    w = t.world_of[d]
    n, ints, times, epoch_t, epoch_n, counts, offset = draw_traffic(
        t.bitgen[d], t.kinds[d], t.n0[d], t.cap0[d], t.rate[d], t.session_s,
        t.active[d if t.active.shape[0] > 1 else 0], t.drop_cdf[w], t.drops,
        carray(_i64_at(t.cell_at[w]), n_cells * t.drops), t.burst_table, t.burst_offset,
        t.burst_guide, t.window_s, t.epoch_s, t.n_epochs,
    )  # fmt: skip
    pool_gain = carray(_f64_at(t.gain_at[w]), n_cells * t.drops * n_cells)
    drop, cell, slc = ints[0], ints[1], ints[2]
    n_groups = n_cells * n_slices
    count = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(n):
        count[cell[i] * n_slices + slc[i] + 1] += 1
    for g in range(n_groups):
        count[g + 1] += count[g]
    rank = np.empty(n, dtype=np.int64)
    for i in range(n):
        g = cell[i] * n_slices + slc[i]
        rank[count[g]] = i
        count[g] += 1
    group = np.empty(n, dtype=np.int64)
    others, own = np.empty((n, n_cells)), np.empty(n)
    start, end = np.empty(n), np.empty(n)
    burst, cap = np.empty(n), np.empty(n)
    burst_bits, cap_bits = t.burst_bits, t.cap_bits  # locals: a tuple field read in a loop costs
    for p in range(n):
        i = rank[p]
        group[p] = cell[i] * n_slices + slc[i]
        base = drop[i] * n_cells
        for j in range(n_cells):
            others[p, j] = pool_gain[base + j]
        own[p] = others[p, cell[i]]
        others[p, cell[i]] = 0.0
        start[p], end[p] = times[0, i], times[1, i]
        burst[p], cap[p] = burst_bits[slc[i]], cap_bits[slc[i]]
    return n, rank, group, others, own, start, end, burst, cap, epoch_t, epoch_n, counts, offset


@njit(cache=True, nogil=True)
def in_session(
    rank: np.ndarray, start: np.ndarray, end: np.ndarray, rows: int, t: float, present: np.ndarray
) -> int:
    """The positions whose rows are among the first ``rows`` and in session at ``t``, into
    ``present`` (by group); how many."""
    m = 0
    for p in range(len(rank)):
        if rank[p] < rows and start[p] <= t and end[p] > t:
            present[m] = p
            m += 1
    return m
