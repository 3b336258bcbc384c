"""One scheduling epoch of one draw, compiled: link, time shares, the KPI model, buffers, loads.

The reference engine's epoch (:func:`slicesim.sim.epoch.epoch_step` with
:class:`~slicesim.sim.kpi_model.UserPsKpis` and :class:`~slicesim.sim.link.CqiLink`) does this in
some forty numpy calls over ``(copies, users)`` arrays; here it is one pass over the draw's users
in session, group by group, with the reference's operations in the reference's order: the
interference is summed over the cells in index order (as the reference's running sum), sums per
group are taken in row order (as ``np.bincount``), the fixed-point prefix sums of
:func:`~slicesim.sim.scheduler.segment_prefix` are integer sums and the sorts use the same float
keys. The result equals the reference bit for bit (``tests/sim/test_compiled.py``); the one
theoretical exception is two different needs of one group whose sort keys round to the same
float (a relative difference below 1e-16 of the group index), which the two sorts may order
differently.

Rows out of session are skipped: they have no work and add exact zeros to every sum, and their
backlog is never read again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from slicesim.sim.epoch import PER_COPY_SUMS, SHARED_SUMS
from slicesim.sim.kpi_model import OVER
from slicesim.sim.scheduler import FIXED

__all__ = ["epoch", "link", "rrm_available", "scratch_arrays"]

# rows of the per-row KPI sums (the layout of slicesim.sim.epoch): a block of ``copies`` rows for
# each per-copy sum, then one row for each shared sum
_BITS, _BUSY, _DELAY, _CQI = (
    PER_COPY_SUMS.index(n) for n in ("bits", "busy_s", "delay_bits_s", "cqi_s")
)
_ARRIVED, _USER = (SHARED_SUMS.index(n) for n in ("arrived_bits", "user_s"))
_N_PER = len(PER_COPY_SUMS)


@njit(cache=True, nogil=True)
def _sort_by(key: np.ndarray, order: np.ndarray, m: int) -> None:
    """``order[:m]`` = the positions of ``key[:m]`` in ascending order (insertion sort for the
    few users of a group, numpy's sort above 32)."""
    if m > 32:
        order[:m] = np.argsort(key[:m])
        return
    for a in range(m):
        order[a] = a
    for a in range(1, m):
        o = order[a]
        k = key[o]
        b = a - 1
        while b >= 0 and key[order[b]] > k:
            order[b + 1] = order[b]
            b -= 1
        order[b + 1] = o


@njit(cache=True, nogil=True)
def _water_fill(
    work: np.ndarray,
    phi: np.ndarray,
    m: int,
    g: int,
    w: np.ndarray,
    key: np.ndarray,
    lh: np.ndarray,
    order: np.ndarray,
) -> None:
    """``phi[:m]``: max-min fair shares of one saturated group (scheduler._water_fill_exact:
    needs clipped at 1, sorted by the same float key, fixed-point prefix sums)."""
    for a in range(m):
        v = work[a]
        v = v if v < 1.0 else 1.0
        w[a] = v
        key[a] = g + v * 0.5
    _sort_by(key, order, m)
    acc = 0  # fixed-point prefix sum (scheduler.segment_prefix)
    level = 0.0
    for p in range(m):
        v = w[order[p]]
        lh[p] = (1.0 - acc / FIXED) / (m - p)
        if v > lh[p] and lh[p] > level:
            level = lh[p]
        acc += np.int64(np.rint(v * FIXED))
    for p in range(m):
        v = w[order[p]]
        phi[order[p]] = level if v > lh[p] else v


@njit(cache=True, nogil=True)
def _capped_level(
    work: np.ndarray,
    u: np.ndarray,
    m: int,
    g: int,
    key: np.ndarray,
    order: np.ndarray,
    q: np.ndarray,
) -> float:
    """One group's busy-share level with some user capped (kpi_model._capped_levels): the
    smallest k-line root, at most the group's size."""
    for a in range(m):
        key[a] = g + 0.5 / (1.0 + work[a])
    _sort_by(key, order, m)
    tot = 0
    for p in range(m):
        q[p] = np.int64(np.rint(u[order[p]] * FIXED))
        tot += q[p]
    total = tot / FIXED
    best = np.inf
    acc = 0
    for p in range(m):
        rest = total - acc / FIXED
        d = 1.0 - rest
        root = (p + rest) / (d if d > 1.0 / OVER else 1.0 / OVER)
        if root < best:
            best = root
        acc += q[p]
    return best if best < m else float(m)


@njit(cache=True, nogil=True)
def _busy_level(
    work: np.ndarray,
    u: np.ndarray,
    m: int,
    g: int,
    key: np.ndarray,
    order: np.ndarray,
    q: np.ndarray,
) -> float:
    """One group's mean-field busy-share level B (kpi_model.busy_shares); ``u[:m]`` is set to
    tau / (1 + tau)."""
    total = 0.0
    for a in range(m):
        u[a] = work[a] / (1.0 + work[a])
        total += u[a]
    d = 1.0 - total
    lev = total / (d if d > 1.0 / OVER else 1.0 / OVER)
    for a in range(m):
        if work[a] * lev >= 1.0:  # some user capped: the smallest k-line root
            return _capped_level(work, u, m, g, key, order, q)
    return lev


@njit(cache=True, nogil=True)
def _delay(
    work: float,
    phi: float,
    full: float,
    b: float,
    free: float,
    arrived: float,
    burst: float,
    backlog: float,
    dt: float,
) -> float:
    """The mean delay of a user's bursts (kpi_model.UserPsKpis.epoch, before the buffer's cap)."""
    rate = phi * full
    share = phi / b if b > 0 else 0.0
    own = share * (1.0 - b)
    own = own if own >= phi else phi
    x = free if free >= own else own
    thr = full * (x if x >= 1e-9 else 1e-9)
    if phi < work * (1.0 - 1e-12):
        s = backlog + 0.5 * (arrived - burst - rate * dt)
        wait = s if s >= 0.0 else 0.0
    else:
        wait = backlog
    return wait / (rate if rate >= 1e-9 else 1e-9) + burst / thr


@njit(cache=True, nogil=True)
def link(
    rows: np.ndarray,
    m: int,
    others: np.ndarray,
    own: np.ndarray,
    util: np.ndarray,
    noise: float,
    thresholds: np.ndarray,
    bps_of: np.ndarray,
    cqi: np.ndarray,
    prb_bps: np.ndarray,
) -> None:
    """CQI and bit/s per PRB of ``rows[:m]`` under each row of ``util`` (link.CqiLink.rates on
    the load-coupled SINR): ``others`` are the rows' gains with the serving cell's zeroed,
    summed times the loads in cell order (the reference's running sum)."""
    n_cells = others.shape[1]
    for c in range(util.shape[0]):
        for a in range(m):
            i = rows[a]
            acc = 0.0
            for j in range(n_cells):
                acc += others[i, j] * util[c, j]
            sinr = own[i] / (noise + acc)
            level = 0  # searchsorted(thresholds, sinr, "right"): the thresholds at or below
            for j in range(len(thresholds)):
                level += thresholds[j] <= sinr
            level = level if level > 1 else 1
            cqi[c, i] = level
            prb_bps[c, i] = bps_of[level]


@njit(cache=True, nogil=True)
def _fill_pool(pool: float, more: np.ndarray, n: int, order: np.ndarray, s: int) -> float:
    """Slice ``s``'s part of the pool when it is shared max-min fairly among the needs
    ``more[:n]`` (scheduler._fill_pool: the needs in ascending order, ties in slice order)."""
    for a in range(n):  # a stable insertion sort (np.argsort's "stable" order)
        order[a] = a
        b = a
        while b > 0 and more[order[b - 1]] > more[order[b]]:
            order[b - 1], order[b] = order[b], order[b - 1]
            b -= 1
    left = pool
    for k in range(n):
        j = order[k]
        share = left / (n - k)
        g = more[j] if more[j] <= share else share  # np.minimum
        if j == s:
            return g
        left = left - g
    return 0.0


@njit(cache=True, nogil=True)
def rrm_available(
    demand: np.ndarray, policy: np.ndarray, budget: np.ndarray, n_slices: int, n_prb: float,
    avail: np.ndarray,
) -> None:  # fmt: skip
    """Every slice's available PRBs under RRMPolicyRatio sharing into ``avail`` (copies,
    n_groups), from the PRBs the slices need (``demand``, same shape), the dedicated and minimum
    PRBs (``policy``: (2, copies, n_groups)) and the maximum (``budget``): the arithmetic of
    :func:`slicesim.sim.scheduler.rrm_available`, cell by cell, in its order."""
    n = n_slices
    want, prio, held, extra = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    more, order = np.empty(n), np.empty(n, dtype=np.int64)
    for c in range(demand.shape[0]):
        for cell in range(demand.shape[1] // n):
            lo = cell * n
            for j in range(n):
                dm, mx = demand[c, lo + j], budget[c, lo + j]
                mn, dd = policy[1, c, lo + j], policy[0, c, lo + j]
                w = dm if dm <= mx else mx
                pr = w if w <= mn else mn
                want[j], prio[j] = w, pr
                held[j] = pr if pr >= dd else dd
                extra[j] = w - pr
            for s in range(n):
                total = policy[1, c, lo] if s == 0 else held[0]
                for j in range(1, n):
                    total = total + (policy[1, c, lo + j] if j == s else held[j])
                for j in range(n):
                    more[j] = extra[j]
                more[s] = budget[c, lo + s] - policy[1, c, lo + s]
                pool = n_prb - total
                pool = pool if pool >= 0.0 else 0.0
                avail[c, lo + s] = policy[1, c, lo + s] + _fill_pool(pool, more, n, order, s)


@njit(cache=True, nogil=True)
def epoch(
    present: np.ndarray,
    m_all: int,
    group: np.ndarray,
    n_groups: int,
    budget: np.ndarray,
    policy: np.ndarray,
    share: bool,
    n_slices: int,
    n_prb: float,
    avail: np.ndarray,
    prb_bps: np.ndarray,
    cqi: np.ndarray,
    arrived: np.ndarray,
    burst: np.ndarray,
    cap_bits: np.ndarray,
    backlog: np.ndarray,
    sums: np.ndarray,
    used: np.ndarray,
    scratch: Any,
    key_base: int,
    dt: float,
    cap_s: float,
    one_group: int = -1,
) -> None:
    """The ``user_ps`` epoch after the link model for one draw's rows ``present[:m_all]`` (in row
    order), every copy; the rows' state is updated in place.

    The rows are kept by group (:func:`slicesim.sim.compiled.draws.draw_rows`): a group's rows
    are consecutive, in the order of their rows in the reference, so each group's sums run in
    the reference's order. The oracles' level sweep calls it on one group's rows at a time
    (:mod:`slicesim.sim.compiled.sweep`).

    Args:
        present: the rows in session, by group.
        m_all: how many.
        group: every row's group (cell * n_slices + slice).
        n_groups: groups per copy.
        budget: PRBs of every (copy, group), (copies, n_groups): the budgets (isolated
            slicing) or the maxima (``share``).
        policy, share: under RRMPolicyRatio sharing (``share``), the dedicated and minimum PRBs,
            (2, copies, n_groups); the slices' budgets are then what they can use of the cell
            this epoch (:func:`rrm_available`). Without ``share`` it is not read.
        n_slices, n_prb: slices and PRBs of a cell.
        avail: the budgets the epoch ran with, (copies, n_groups), written.
        prb_bps, cqi: bit/s per PRB and CQI of every row, (copies or 1, rows).
        arrived: bits that arrived per row; burst: one burst's bits per row; cap_bits: the
            buffer's cap per row.
        backlog: bits queued per (copy, row): read, then replaced by what is left.
        sums: per-row KPI sums (:data:`slicesim.sim.epoch.PER_COPY_SUMS`, ``copies`` rows each,
            then :data:`~slicesim.sim.epoch.SHARED_SUMS`): the epoch's terms are added.
        used: the time share used per (copy, group), written.
        scratch: work arrays (:func:`scratch_arrays`).
        key_base: the draw's first flat group (draw * copies * n_groups): the reference sorts a
            group's users by keys made of its flat group index.
        dt, cap_s: the epoch's length and the buffer's (s).
        one_group: every row is of this group (the level sweep's runs), or -1.
    """
    copies = backlog.shape[0]
    per_copy_rate = prb_bps.shape[0] > 1
    count, full, need, work, w, u, phi, key, lh, order, q, bl0 = scratch
    groups = range(n_groups)
    if one_group >= 0:  # the rows are one group's: no need to count them out
        count[one_group], count[one_group + 1] = 0, m_all
        groups = range(one_group, one_group + 1)
    else:
        count[: n_groups + 1] = 0  # each group's rows in session: members[count[g]:count[g + 1]]
        for a in range(m_all):
            count[group[present[a]] + 1] += 1
        for g in range(n_groups):
            count[g + 1] += count[g]
    members = present
    used[:, :] = 0.0
    if share:  # the PRBs each group needs (backlog and arrivals over its rate), in row order
        demand = np.zeros((copies, n_groups))
        for g in groups:
            for a in range(count[g], count[g + 1]):
                i = members[a]
                for c in range(copies):
                    pc = c if per_copy_rate else 0
                    demand[c, g] += (backlog[c, i] + arrived[i]) / (prb_bps[pc, i] * dt)
        rrm_available(demand, policy, budget, n_slices, n_prb, avail)
    else:
        avail[:, :] = budget
    for g in groups:
        lo = count[g]
        m = count[g + 1] - lo
        if m == 0:
            continue
        for c in range(copies):
            pc = c if per_copy_rate else 0
            bud = avail[c, g]
            # needs and the group's load (scheduler.processor_share), summed in row order
            load = 0.0
            for a in range(m):
                i = members[lo + a]
                f = bud * prb_bps[pc, i]
                f = f if f > 1.0 else 1.0
                full[a] = f
                bl = backlog[c, i]
                bl0[a] = bl
                nd = bl + arrived[i]
                need[a] = nd
                wk = nd / (f * dt)
                work[a] = wk
                phi[a] = wk
                load += wk
            key_g = key_base + c * n_groups + g  # the reference's flat group of (draw, copy, group)
            if load > 1.0:  # max-min fair water-filling (scheduler._water_fill_exact)
                _water_fill(work, phi, m, key_g, w, key, lh, order)
            lev = _busy_level(work, u, m, key_g, key, order, q)
            # the KPI model (kpi_model.UserPsKpis.epoch) and the rest of epoch.epoch_step
            free = 1.0 - load
            used_g = 0.0
            for a in range(m):
                i = members[lo + a]
                wj, pj, fj = work[a], phi[a], full[a]
                b = 1.0 if wj * lev >= 1.0 else u[a] * (1.0 + lev)
                rate = pj * fj
                dl = _delay(wj, pj, fj, b, free, arrived[i], burst[i], bl0[a], dt)
                dl = dl if dl <= cap_s else cap_s
                sv = rate * dt
                lf = need[a] - sv
                cb = cap_bits[i]
                backlog[c, i] = lf if lf <= cb else cb
                sums[_BITS * copies + c, i] += sv
                sums[_BUSY * copies + c, i] += b * dt
                sums[_DELAY * copies + c, i] += dl * arrived[i]
                sums[_CQI * copies + c, i] += cqi[pc, i] * dt
                if c == 0:
                    sums[_N_PER * copies + _ARRIVED, i] += arrived[i]
                    sums[_N_PER * copies + _USER, i] += dt
                used_g += pj
            used[c, g] = used_g


@njit(cache=True, nogil=True)
def scratch_arrays(rows: int, n_groups: int) -> Any:
    """Work arrays of :func:`epoch` for up to ``rows`` rows and ``n_groups`` groups."""
    return (
        np.zeros(n_groups + 1, dtype=np.int64),  # count
        np.empty(rows),  # full
        np.empty(rows),  # need
        np.empty(rows),  # work
        np.empty(rows),  # w
        np.empty(rows),  # u
        np.empty(rows),  # phi
        np.empty(rows),  # key
        np.empty(rows),  # lh
        np.empty(rows, dtype=np.int64),  # order
        np.empty(rows, dtype=np.int64),  # q
        np.empty(rows),  # bl0
    )
