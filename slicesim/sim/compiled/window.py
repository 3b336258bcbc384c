"""The compiled window: every epoch of every draw (replica or oracle draw) in one call.

:func:`simulate` is the compiled engine's :func:`slicesim.sim.window.simulate_window`: each draw's
users in session at the start are drawn in Python (``Generator.poisson``, the reference's first
draw), then one numba call runs every draw: its traffic (:mod:`slicesim.sim.compiled.traffic`)
and its epochs (:mod:`slicesim.sim.compiled.epoch`) for every copy, and adds up its KPI sums per
group. Draws are independent (each its own generator, world, shares and loads), so with many of
them the call runs them on several threads (``numba.prange``; the numbers do not depend on it).

The worlds' drop pools are read where they lie (by address; a vector env's replicas each have
their own), so nothing is copied per call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import carray, njit, prange, types
from numba.core.extending import intrinsic

from slicesim.sim.compiled.epoch import epoch, link, scratch_arrays
from slicesim.sim.compiled.rng import address, kind
from slicesim.sim.compiled.traffic import draw_traffic
from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS
from slicesim.sim.scheduler import prb_budgets

__all__ = ["PARALLEL_DRAWS", "Recording", "epochs_in_window", "simulate"]

PARALLEL_DRAWS = 8
"""Draws from which a window runs on several threads (below, the threads cost more than they
give); ``numba.set_num_threads`` (or ``NUMBA_NUM_THREADS``) sets how many."""


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
_ = ir  # llvmlite is numba's: imported for the intrinsics' types


@njit(cache=True, nogil=True)
def _rows_by_group(
    n: int,
    ints: np.ndarray,
    times: np.ndarray,
    pool_gain: np.ndarray,
    n_cells: int,
    n_slices: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The draw's rows laid out by group for its epochs: a stable counting sort, so a group's
    rows stay in row order (every sum over a group runs in the reference's order) and lie
    together (an epoch reads them in one sweep). Returns the original row of each position,
    then per position its group, gains to the other cells (the serving cell's zeroed), own
    gain and session start and end."""
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
    for p in range(n):
        i = rank[p]
        group[p] = cell[i] * n_slices + slc[i]
        base = drop[i] * n_cells
        for j in range(n_cells):
            others[p, j] = pool_gain[base + j]
        own[p] = others[p, cell[i]]
        others[p, cell[i]] = 0.0
        start[p], end[p] = times[0, i], times[1, i]
    return rank, group, others, own, start, end


@njit(cache=True, nogil=True)
def _in_session(
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


@njit(cache=True, nogil=True)
def _loads(
    used: np.ndarray, budget: np.ndarray, n_slices: int, n_prb: int, epoch_s: float,
    prb_s: np.ndarray, util: np.ndarray,
) -> None:  # fmt: skip
    """The epoch's PRBs used (time shares ``used`` times the budgets) added to ``prb_s``; the
    cell loads they leave into ``util`` (each cell's slices summed in order, as the
    reference)."""
    copies, n_groups = used.shape
    for c in range(copies):
        for g in range(n_groups):
            u = used[c, g] * budget[c, g]
            prb_s[c, g] += u * epoch_s
            used[c, g] = u
        for j in range(n_groups // n_slices):
            acc = used[c, j * n_slices]
            for s in range(1, n_slices):
                acc += used[c, j * n_slices + s]
            v = acc / n_prb
            util[c, j] = v if v < 1.0 else 1.0  # <= 1 unless a what-if overbooks


@njit(cache=True, nogil=True)
def _group_sums(
    sums: np.ndarray, group: np.ndarray, n: int, per_copy: np.ndarray, shared: np.ndarray
) -> None:
    """The per-row sums of rows ``[0, n)`` added up per group, in row order (np.bincount's)."""
    n_per, copies = per_copy.shape[0], per_copy.shape[1]
    for i in range(n):
        g = group[i]
        for r in range(n_per):
            for c in range(copies):
                per_copy[r, c, g] += sums[r * copies + c, i]
        for r in range(shared.shape[0]):
            shared[r, g] += sums[n_per * copies + r, i]


def _one_draw(
    d: int,
    bitgen: np.ndarray,
    kinds: np.ndarray,
    n0: np.ndarray,
    cap0: np.ndarray,
    rate: np.ndarray,
    active: np.ndarray,
    world_of: np.ndarray,
    drop_cdf: np.ndarray,
    gain_at: np.ndarray,
    cell_at: np.ndarray,
    drops: int,
    session_s: np.ndarray,
    burst_table: np.ndarray,
    burst_offset: np.ndarray,
    burst_guide: np.ndarray,
    burst_bits: np.ndarray,
    cap_bits: np.ndarray,
    budget: np.ndarray,
    warm: np.ndarray,
    frozen: np.ndarray,
    thresholds: np.ndarray,
    bps_of: np.ndarray,
    noise: float,
    window_s: float,
    epoch_s: float,
    n_epochs: int,
    n_prb: int,
    cap_s: float,
    out_per_copy: np.ndarray,
    out_shared: np.ndarray,
    out_prb: np.ndarray,
    out_trace: np.ndarray,
    out_end: np.ndarray,
    out_epochs: np.ndarray,
) -> None:
    """Draw ``d``'s window: its traffic, then its epochs for every copy, then its group sums."""
    n_cells, n_slices = active.shape[1], active.shape[2]
    n_groups = n_cells * n_slices
    w = world_of[d]
    pool_gain = carray(_f64_at(gain_at[w]), n_cells * drops * n_cells)
    bud = budget[d if budget.shape[0] > 1 else 0]
    copies = bud.shape[0]
    n, ints, times, epoch_t, epoch_n, counts, offset = draw_traffic(
        bitgen[d], kinds[d], n0[d], cap0[d], rate[d], session_s,
        active[d if active.shape[0] > 1 else 0], drop_cdf[w], drops,
        carray(_i64_at(cell_at[w]), n_cells * drops), burst_table, burst_offset, burst_guide,
        window_s, epoch_s, n_epochs,
    )  # fmt: skip
    out_epochs[d] = len(epoch_t)
    rank, group, others, own, start, end = _rows_by_group(
        n, ints, times, pool_gain, n_cells, n_slices
    )
    slc = ints[2]
    burst, cap = burst_bits[slc[rank]], cap_bits[slc[rank]]
    # one interference row where every copy sees the same loads
    links = 1 if frozen.shape[1] > 0 or copies == 1 else copies
    cqi, prb_bps = np.empty((links, n)), np.empty((links, n))
    arrived, backlog = np.zeros(n), np.zeros((copies, n))
    sums = np.zeros((len(PER_COPY_SUMS) * copies + len(SHARED_SUMS), n))
    used, present = np.zeros((copies, n_groups)), np.empty(n, dtype=np.int64)
    scratch = scratch_arrays(n, n_groups)
    util = np.empty((copies, n_cells))
    util[:] = warm[d]
    for k in range(len(epoch_t)):
        if frozen.shape[1] > 0:
            util[:] = frozen[d, min(k, frozen.shape[1] - 1)]
        out_trace[d, :, k] = util
        m = _in_session(rank, start, end, epoch_n[k], epoch_t[k], present)
        link(present, m, others, own, util[:links], noise, thresholds, bps_of, cqi, prb_bps)
        for a in range(m):
            p = present[a]
            arrived[p] = burst[p] * counts[offset[k] + rank[p]]
        epoch(present, m, group, n_groups, bud, prb_bps, cqi, arrived, burst, cap, backlog, sums,
              used, scratch, d * copies * n_groups, epoch_s, cap_s)  # fmt: skip
        _loads(used, bud, n_slices, n_prb, epoch_s, out_prb[d], util)
    out_end[d] = util
    _group_sums(sums, group, n, out_per_copy[d], out_shared[d])


def _all_draws(*args: Any) -> None:
    """:func:`_one_draw` for every draw, one after the other (``args`` as :func:`_one_draw`'s
    after ``d``)."""
    for d in range(len(args[0])):
        _one_draw_jit(d, *args)


def _all_draws_threaded(*args: Any) -> None:
    """:func:`_all_draws` on numba's threads (a draw at a time)."""
    for d in prange(len(args[0])):
        _one_draw_jit(np.int64(d), *args)  # a signed index (numba's parallel one is unsigned)


_one_draw_jit = njit(cache=True, nogil=True)(_one_draw)
_serial = njit(cache=True, nogil=True)(_all_draws)
_parallel = njit(cache=True, nogil=True, parallel=True)(_all_draws_threaded)


class Recording:
    """What the compiled engine keeps of a window's draws to replay them (``offered``): their
    generators' states at the window's start. A replay draws the same traffic again from copies
    of them (the compiled draws cost little beside the epochs), so it equals the recorded window
    bit for bit; the draws' own generators are not used."""

    def __init__(self, rngs: Sequence[np.random.Generator]) -> None:
        self.states = [rng.bit_generator.state for rng in rngs]

    def generators(self) -> list[np.random.Generator]:
        """Fresh generators at the recorded states."""
        out = []
        for state in self.states:
            bit_generator = getattr(np.random, state["bit_generator"])()
            bit_generator.state = state
            out.append(np.random.Generator(bit_generator))
        return out


def epochs_in_window(window_s: float, epoch_s: float) -> int:
    """The epochs a window runs: SimPy's clock from 0 in steps of ``epoch_s`` while below
    ``window_s`` (the same float sums as the reference's epoch process)."""
    t, n = 0.0, 0
    while t < window_s:
        n += 1
        t = t + epoch_s
    return n


def simulate(
    worlds: Sequence[Any],
    inputs: Sequence[Any],
    rngs: Sequence[np.random.Generator],
    warm: np.ndarray,
    frozen: np.ndarray | None,
    offered: list[Any] | None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The window of draw k = (``worlds[k]``, ``inputs[k]``, ``rngs[k]``), compiled.

    Args as :func:`slicesim.sim.window.simulate_windows` (``warm``: (draws, n_cells); ``frozen``:
    (draws, epochs, n_cells) or None); ``offered``: an empty list records the draws (a
    :class:`Recording` is appended), a list holding one replays them.

    Returns:
        The group sums by name (draws, copies, n_groups), the PRB-seconds used (same shape), the
        loads behind every epoch (draws, copies, epochs, n_cells) and after the last (draws,
        copies, n_cells).
    """
    world = worlds[0]
    sim, link = world.sim, world.link
    draws = len(rngs)
    if offered:  # a replay: the recorded draws again
        recording = offered[0]
        if len(recording.states) != draws:
            raise ValueError(f"offered traffic of {len(recording.states)} draws, not {draws}")
        rngs = recording.generators()
    elif offered is not None:
        offered.append(Recording(rngs))
    n_cells = world.n_cells
    one_period = all(inp is inputs[0] for inp in inputs)
    periods = [inputs[0]] if one_period else list(inputs)
    active = np.stack([p.active for p in periods])
    # the reference's first draws and row estimate (population.Users.drawn), in Python: the
    # users in session at the start, per slice (each draw from its own generator)
    users_mean = world.users_per_cell * np.stack([p.mask for p in periods]) * n_cells
    per_s = users_mean / world.session_s  # sessions/s per slice, (periods, n_slices)
    n0 = np.stack([rng.poisson(users_mean[k if len(periods) > 1 else 0])
                   for k, rng in enumerate(rngs)])  # fmt: skip
    rows = np.ceil(per_s.sum(axis=1) * sim.window_s)  # per row, the reference's own sums
    expected = (n0.sum(axis=1) + rows).astype(np.int64)
    cap0 = np.array([e + 4 * math.isqrt(e) + 16 for e in expected.tolist()], dtype=np.int64)
    rate = np.broadcast_to(per_s * active.any(axis=1), n0.shape)
    bitgen = np.array([address(rng) for rng in rngs], dtype=np.uintp)
    kinds = np.array([kind(rng) for rng in rngs], dtype=np.int64)
    shared_world = all(w is world for w in worlds)
    distinct = [world] if shared_world else list(worlds)
    world_of = np.zeros(draws, np.int64) if shared_world else np.arange(draws, dtype=np.int64)
    copies = inputs[0].xs.shape[0]
    n_groups = world.n_groups
    xs = np.stack([p.xs for p in periods])
    budget = prb_budgets(xs, world.n_prb).reshape(len(periods), copies, n_groups)
    n_epochs = epochs_in_window(sim.window_s, sim.epoch_s)
    frozen = np.zeros((draws, 0, n_cells)) if frozen is None else frozen
    thresholds, bps_of = link.cqi_tables()
    out_per_copy = np.zeros((draws, len(PER_COPY_SUMS), copies, n_groups))
    out_shared = np.zeros((draws, len(SHARED_SUMS), n_groups))
    out_prb = np.zeros((draws, copies, n_groups))
    out_trace = np.zeros((draws, copies, n_epochs, n_cells))
    out_end = np.zeros((draws, copies, n_cells))
    out_epochs = np.zeros(draws, dtype=np.int64)
    threaded = draws >= PARALLEL_DRAWS and numba.get_num_threads() > 1
    run = _parallel if threaded else _serial
    with numba.parallel_chunksize(1 if threaded else 0):  # a draw at a time: a busy core lags
        run(
            bitgen, kinds, n0, cap0, np.ascontiguousarray(rate), active, world_of,
            np.stack([w.drop_cdf for w in distinct]),
            np.array([w.pool_gain.ctypes.data for w in distinct], dtype=np.uintp),
            np.array([w.pool_cell.ctypes.data for w in distinct], dtype=np.uintp),
            world.pool_cell.shape[1], world.session_s, world.bursts.table, world.bursts.offset,
            world.bursts.guide, world.burst_bits, world.offered_bps * sim.buffer_s, budget,
            np.ascontiguousarray(warm), np.ascontiguousarray(frozen, dtype=np.float64),
            thresholds, bps_of, world.noise_mw, float(sim.window_s), float(sim.epoch_s),
            n_epochs, world.n_prb, float(sim.buffer_s),
            out_per_copy, out_shared, out_prb, out_trace, out_end, out_epochs,
        )  # fmt: skip
    assert (out_epochs == n_epochs).all(), "the compiled window ran another number of epochs"
    shape = (draws, copies, n_groups)
    sums = {name: out_per_copy[:, r] for r, name in enumerate(PER_COPY_SUMS)}
    for r, name in enumerate(SHARED_SUMS):
        sums[name] = np.broadcast_to(out_shared[:, r, None, :], shape)
    return sums, out_prb, out_trace, out_end
