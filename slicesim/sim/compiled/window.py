"""The compiled window: every epoch of every draw (replica or oracle draw) in one call.

:func:`simulate` is the compiled engine's :func:`slicesim.sim.window.simulate_window`: one numba
call runs every draw (:mod:`slicesim.sim.compiled.draws`): its traffic, then its epochs
(:mod:`slicesim.sim.compiled.epoch`) for every copy, then its KPI sums per group. Draws are
independent (each its own generator, world, shares and loads), so with many of them the call
runs them on several threads (``numba.prange``, a draw at a time; the numbers do not depend on
it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from slicesim.sim.compiled.draws import PARALLEL_DRAWS, Draws, draw_rows, in_session, prepare
from slicesim.sim.compiled.epoch import epoch, link, scratch_arrays
from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS

__all__ = ["simulate", "threaded"]


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


@njit(cache=True, nogil=True)
def _one_draw(d: int, t: Draws, prbs: np.ndarray, share: bool, warm: np.ndarray,
              frozen: np.ndarray, outs: Any) -> None:  # fmt: skip
    """Draw ``d``'s window: its traffic, then its epochs for every copy, then its group sums."""
    out_per_copy, out_shared, out_prb, out_trace, out_end, out_epochs = outs
    n_cells, n_slices = t.active.shape[1], t.active.shape[2]
    n_groups = n_cells * n_slices
    pd = prbs[:, d if prbs.shape[1] > 1 else 0]  # dedicated, minimum, maximum: (3, copies, G)
    bud, policy = pd[2], pd[:2]
    copies = bud.shape[0]
    avail = np.empty((copies, n_groups))
    n, rank, group, others, own, start, end, burst, cap, epoch_t, epoch_n, counts, offset = (
        draw_rows(d, t)
    )
    out_epochs[d] = len(epoch_t)
    # one interference row where every copy sees the same loads
    links = 1 if frozen.shape[1] > 0 or copies == 1 else copies
    cqi, prb_bps = np.empty((links, n)), np.empty((links, n))
    arrived, backlog = np.zeros(n), np.zeros((copies, n))
    sums = np.zeros((len(PER_COPY_SUMS) * copies + len(SHARED_SUMS), n))
    used, present = np.zeros((copies, n_groups)), np.empty(n, dtype=np.int64)
    scratch = scratch_arrays(n, n_groups)
    util = np.empty((copies, n_cells))
    util[:] = warm[d]
    # the draws' constants as locals: a field of the Draws tuple read in a loop costs a copy
    noise, thresholds, bps_of = t.noise, t.thresholds, t.bps_of
    epoch_s, cap_s, n_prb = t.epoch_s, t.cap_s, t.n_prb
    for k in range(len(epoch_t)):
        if frozen.shape[1] > 0:
            util[:] = frozen[d, min(k, frozen.shape[1] - 1)]
        out_trace[d, :, k] = util
        m = in_session(rank, start, end, epoch_n[k], epoch_t[k], present)
        link(present, m, others, own, util[:links], noise, thresholds, bps_of, cqi, prb_bps)
        for a in range(m):
            p = present[a]
            arrived[p] = burst[p] * counts[offset[k] + rank[p]]
        epoch(present, m, group, n_groups, bud, policy, share, n_slices, float(n_prb), avail,
              prb_bps, cqi, arrived, burst, cap, backlog, sums, used, scratch,
              d * copies * n_groups, epoch_s, cap_s)  # fmt: skip
        _loads(used, avail, n_slices, n_prb, epoch_s, out_prb[d], util)
    out_end[d] = util
    _group_sums(sums, group, n, out_per_copy[d], out_shared[d])


@njit(cache=True, nogil=True)
def _all_draws(t: Draws, prbs: np.ndarray, share: bool, warm: np.ndarray, frozen: np.ndarray,
               outs: Any) -> None:  # fmt: skip
    """:func:`_one_draw` for every draw, one after the other."""
    for d in range(len(t.bitgen)):
        _one_draw(d, t, prbs, share, warm, frozen, outs)


@njit(cache=True, nogil=True, parallel=True)
def _all_draws_threaded(t: Draws, prbs: np.ndarray, share: bool, warm: np.ndarray,
                        frozen: np.ndarray, outs: Any) -> None:  # fmt: skip
    """:func:`_all_draws` on numba's threads."""
    for d in prange(len(t.bitgen)):
        _one_draw(np.int64(d), t, prbs, share, warm, frozen, outs)  # numba's index is unsigned


def threaded(draws: int) -> tuple[bool, Any]:
    """Whether ``draws`` draws run on several threads, and the chunk size that hands them out
    (a draw at a time: a core that another process holds lags less)."""
    on = draws >= PARALLEL_DRAWS and numba.get_num_threads() > 1
    return on, numba.parallel_chunksize(1 if on else 0)


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
    (draws, epochs, n_cells) or None); ``offered``: an empty list records the draws, a list
    holding a recording replays them (:class:`~slicesim.sim.compiled.draws.Recording`).

    Returns:
        The group sums by name (draws, copies, n_groups), the PRB-seconds used (same shape), the
        loads behind every epoch (draws, copies, epochs, n_cells) and after the last (draws,
        copies, n_cells).
    """
    world = worlds[0]
    t, periods, rngs = prepare(worlds, inputs, rngs, offered)  # rngs: kept alive for the call
    draws, copies, n_groups = len(rngs), inputs[0].xs.shape[0], world.n_groups
    prbs = np.ascontiguousarray(world.slice_prbs(np.stack([p.xs for p in periods])))
    frozen = np.zeros((draws, 0, world.n_cells)) if frozen is None else frozen
    outs = (
        np.zeros((draws, len(PER_COPY_SUMS), copies, n_groups)),
        np.zeros((draws, len(SHARED_SUMS), n_groups)),
        np.zeros((draws, copies, n_groups)),  # PRB-seconds used
        np.zeros((draws, copies, t.n_epochs, world.n_cells)),  # the loads behind every epoch
        np.zeros((draws, copies, world.n_cells)),  # the loads after the last
        np.zeros(draws, dtype=np.int64),  # the epochs each ran
    )
    on, chunks = threaded(draws)
    with chunks:
        (_all_draws_threaded if on else _all_draws)(
            t,
            prbs,
            world.sim.slicing == "rrm_policy",
            np.ascontiguousarray(warm),
            np.ascontiguousarray(frozen, np.float64),
            outs,
        )
    per_copy, shared, prb_s, trace, util_end, ran = outs
    assert (ran == t.n_epochs).all(), "the compiled window ran another number of epochs"
    sums = {name: per_copy[:, r] for r, name in enumerate(PER_COPY_SUMS)}
    for r, name in enumerate(SHARED_SUMS):
        sums[name] = np.broadcast_to(shared[:, r, None, :], (draws, copies, n_groups))
    return sums, prb_s, trace, util_end
