"""The oracles' level sweep, compiled, with an exact early exit.

With the cell loads frozen (``Network.replay(..., frozen_util=...)``) every (cell, slice) group
of a draw depends on its own share only, so the sweep over share levels - the simulator oracles'
value tables - splits into independent runs of one group at one level over the window's epochs.
:func:`sweep` runs them group by group with the levels ascending; a group's QoS satisfaction r
at a level is the reference's (``GroupSums.kpis``, ``kpi.qos``, 1 where inactive or unserved).

``exact``: once a group's r is 1 at a level, its r at every higher level is 1 for a KPI model
whose r does not decrease in the share (``KpiModel.monotone``), so those levels are filled with
1 instead of run. Where the levels it does run show r falling from one level to the next, the
group runs every level (the early exit never assumes what it sees broken). The value tables
equal the full sweep's (``tests/sim/test_compiled.py``); on ``paper``'s busy periods the exit
spares most of the runs (benchmarks/oracle_speed.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit, prange

from slicesim.sim.compiled.draws import Draws, draw_rows, in_session, prepare
from slicesim.sim.compiled.epoch import epoch, link, scratch_arrays
from slicesim.sim.compiled.window import threaded
from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS
from slicesim.sim.scheduler import prb_budgets

__all__ = ["sweep"]

# rows of a one-copy per-row sums array (slicesim.sim.epoch.sum_rows(1))
_BITS, _BUSY, _DELAY = (PER_COPY_SUMS.index(n) for n in ("bits", "busy_s", "delay_bits_s"))
_ARRIVED = len(PER_COPY_SUMS) + SHARED_SUMS.index("arrived_bits")


@njit(cache=True, nogil=True)
def _qos(sums: np.ndarray, lo: int, hi: int, thr_need: float, delay_need: float) -> float:
    """r of one group from its rows' sums (``GroupSums.kpis`` then ``kpi.qos``, operation for
    operation: the sums in row order from 0, thr and delay as the KPIs, then the terms)."""
    bits = busy = delay_bits = arrived = 0.0
    for p in range(lo, hi):
        bits += sums[_BITS, p]
        busy += sums[_BUSY, p]
        delay_bits += sums[_DELAY, p]
        arrived += sums[_ARRIVED, p]
    if not busy > 0:
        return 1.0  # no data in the period: no need went unmet
    thr = bits / busy / 1e6
    delay = delay_bits / arrived * 1e3 if arrived > 0 else 0.0
    thr_term = thr / thr_need
    delay_term = delay_need / delay if delay > 0 else 1.0
    r = thr_term if thr_term < delay_term else delay_term
    return r if r < 1.0 else 1.0


@njit(cache=True, nogil=True)
def _sweep_draw(d: int, t: Draws, budget: np.ndarray, frozen: np.ndarray, thr_need: np.ndarray,
                delay_need: np.ndarray, exact: bool, out_r: np.ndarray,
                out_runs: np.ndarray) -> None:  # fmt: skip
    """Draw ``d``'s value table: r of every (level, group) into ``out_r[d]``; the (level, group)
    runs made into ``out_runs[d]``."""
    n_cells, n_slices = t.active.shape[1], t.active.shape[2]
    n_groups, levels = n_cells * n_slices, budget.shape[0]
    active = t.active[d if t.active.shape[0] > 1 else 0]
    n, rank, group, others, own, start, end, burst, cap, epoch_t, epoch_n, counts, offset = (
        draw_rows(d, t)
    )
    epochs = len(epoch_t)
    # the draws' constants as locals: a field of the Draws tuple read in a loop costs a copy
    noise, thresholds, bps_of, epoch_s, cap_s = t.noise, t.thresholds, t.bps_of, t.epoch_s, t.cap_s
    # every epoch's users (by group: present[k, at[k, g]:at[k, g + 1]] are group g's), rates and
    # arrivals: the same at every level (the loads are frozen)
    present, at = np.empty((epochs, n), dtype=np.int64), np.zeros((epochs, n_groups + 1), np.int64)
    bps, cqi, arrived = np.empty((1, n)), np.empty((1, n)), np.zeros((epochs, n))
    bps_k, cqi_k = np.empty((epochs, n)), np.empty((epochs, n))
    util = np.empty((1, n_cells))
    for k in range(epochs):
        util[0] = frozen[d, min(k, frozen.shape[1] - 1)]
        m = in_session(rank, start, end, epoch_n[k], epoch_t[k], present[k])
        link(present[k], m, others, own, util, noise, thresholds, bps_of, cqi, bps)
        for a in range(m):
            p = present[k, a]
            bps_k[k, p], cqi_k[k, p] = bps[0, p], cqi[0, p]
            arrived[k, p] = burst[p] * counts[offset[k] + rank[p]]
            at[k, group[p] + 1] += 1
        for g in range(n_groups):
            at[k, g + 1] += at[k, g]
    first = np.zeros(n_groups + 1, dtype=np.int64)  # the group's rows: [first[g], first[g + 1])
    for p in range(n):
        first[group[p] + 1] += 1
    for g in range(n_groups):
        first[g + 1] += first[g]
    backlog = np.zeros((1, n))
    sums = np.zeros((len(PER_COPY_SUMS) + len(SHARED_SUMS), n))
    scratch, used = scratch_arrays(n, n_groups), np.zeros((1, n_groups))
    policy, avail = np.zeros((2, 1, n_groups)), np.zeros((1, n_groups))  # isolated budgets only
    runs = 0
    for g in range(n_groups):
        lo, hi = first[g], first[g + 1]
        s = g % n_slices
        done, last, monotone = False, -1.0, True
        for lev in range(levels):
            if done or not active[g // n_slices, s]:
                out_r[d, lev, g] = 1.0  # inactive, or r = 1 at a lower level (monotone)
                continue
            backlog[0, lo:hi] = 0.0
            sums[:, lo:hi] = 0.0
            for k in range(epochs):  # the group's epochs alone: one copy, this level's budget
                a, b = at[k, g], at[k, g + 1]
                if b > a:
                    epoch(present[k, a:b], b - a, group, n_groups, budget[lev : lev + 1],
                          policy, False, n_slices, 0.0, avail, bps_k[k : k + 1],
                          cqi_k[k : k + 1], arrived[k], burst, cap, backlog, sums, used, scratch,
                          (d * levels + lev) * n_groups, epoch_s, cap_s, g)  # fmt: skip
            r = _qos(sums, lo, hi, thr_need[s], delay_need[s])
            out_r[d, lev, g] = r
            runs += 1
            if r < last:  # r fell with the share: this group runs every level
                monotone = False
            last = r
            done = exact and monotone and r == 1.0
    out_runs[d] = runs


@njit(cache=True, nogil=True)
def _all_draws(t: Draws, budget: np.ndarray, frozen: np.ndarray, thr_need: np.ndarray,
               delay_need: np.ndarray, exact: bool, out_r: np.ndarray,
               out_runs: np.ndarray) -> None:  # fmt: skip
    for d in range(len(t.bitgen)):
        _sweep_draw(d, t, budget, frozen, thr_need, delay_need, exact, out_r, out_runs)


@njit(cache=True, nogil=True, parallel=True)
def _all_draws_threaded(t: Draws, budget: np.ndarray, frozen: np.ndarray, thr_need: np.ndarray,
                        delay_need: np.ndarray, exact: bool, out_r: np.ndarray,
                        out_runs: np.ndarray) -> None:  # fmt: skip
    for d in prange(len(t.bitgen)):
        _sweep_draw(np.int64(d), t, budget, frozen, thr_need, delay_need, exact, out_r, out_runs)


def sweep(
    world: Any,
    inputs: Any,
    rngs: Sequence[np.random.Generator],
    offered: list[Any] | None,
    thr_need: np.ndarray,
    delay_need: np.ndarray,
    exact: bool,
) -> tuple[np.ndarray, int]:
    """r of every (draw, level, cell, slice) of the level sweep ``inputs`` (copies = levels,
    each share non-decreasing from one copy to the next; frozen loads), and how many (draw,
    level, group) runs it made.

    Args:
        world, inputs, rngs, offered: as :func:`slicesim.sim.window.simulate_window`.
        thr_need, delay_need: the slices' needs.
        exact: skip the levels above a group's first r = 1 (module docstring).
    """
    if inputs.frozen is None:
        raise ValueError("a level sweep needs frozen cell loads (its groups are then apart)")
    xs = inputs.xs
    if (np.diff(xs, axis=0) < 0).any():
        raise ValueError("a level sweep's copies must not lower any share from one to the next")
    draws = len(rngs)
    t, _, rngs = prepare([world] * draws, [inputs] * draws, rngs, offered)
    levels, n_groups = xs.shape[0], world.n_groups
    budget = prb_budgets(xs, world.n_prb).reshape(levels, n_groups)
    out_r = np.zeros((draws, levels, n_groups))
    out_runs = np.zeros(draws, dtype=np.int64)
    on, chunks = threaded(draws)
    with chunks:
        (_all_draws_threaded if on else _all_draws)(
            t, budget, np.ascontiguousarray(inputs.frozen, np.float64),
            np.asarray(thr_need, np.float64), np.asarray(delay_need, np.float64),
            bool(exact and world.kpi_model.monotone), out_r, out_runs,
        )  # fmt: skip
    return out_r.reshape(draws, levels, world.n_cells, world.n_slices), int(out_runs.sum())
