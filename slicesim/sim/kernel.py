"""A compiled scheduling epoch for the ``user_ps`` KPI model: the same arithmetic as the numpy path,
bit for bit, in one pass.

:func:`slicesim.sim.window.epoch_step` spends most of a large window (the oracles' replays of
hundreds of copy-draws, many replicas of the vector env) in some forty numpy calls over
``(copies, users)`` arrays: each a pass over memory and a temporary. This module fuses the part
after the link model (budgets -> needs -> max-min time shares -> the mean-field busy shares ->
delay, buffers, KPI terms, PRBs used) into numba-compiled loops with the numpy path's operations
in the numpy path's order: sums per group are taken in the order of the flat index (as
``np.bincount`` does), the fixed-point prefix sums of :func:`~slicesim.sim.scheduler.
segment_prefix` are integer sums, sorts use the same float keys. The result equals the numpy
path bit for bit (``tests/sim/test_kernel.py`` checks traces, replays and replicas); the one
theoretical exception is two different needs of one group whose sort keys round to the same
float (a relative difference below 1e-16 of the group index), where the two sorts may order them
differently.

``backend()`` says which path runs: ``numba`` when numba imports, else ``numpy``;
``SLICESIM_KERNEL=numpy`` in the environment (read at import) forces the numpy path, and
:func:`use` switches in a running process (tests, benchmarks). The first call compiles (about
2-4 s per process, cached on disk where the package directory is writable).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from slicesim.sim.kpi_model import _OVER
from slicesim.sim.scheduler import _FIXED

__all__ = ["available", "backend", "epoch_user_ps", "use"]

_FORCED_NUMPY = os.environ.get("SLICESIM_KERNEL", "").lower() == "numpy"
_state: dict[str, Any] = {"backend": "numpy" if _FORCED_NUMPY else "numba", "jit": None}


def available() -> bool:
    """Whether the compiled path can run: numba imports (tried once; the import is deferred to
    the first simulated window, so ``import slicesim`` stays quick)."""
    if _state["jit"] is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - machines without numba
            _state["jit"] = False
        else:
            _state["jit"] = numba.njit(cache=True, nogil=True)
    return bool(_state["jit"])


def backend() -> str:
    """``numba`` or ``numpy``: the path the windows take (``numpy`` where numba does not
    import)."""
    if _state["backend"] == "numba" and not available():
        _state["backend"] = "numpy"
    return str(_state["backend"])


def use(name: str) -> str:
    """Switch the path (``numba`` or ``numpy``); returns the previous one.

    Raises:
        ValueError: an unknown name, or ``numba`` where numba does not import.
    """
    if name not in ("numba", "numpy"):
        raise ValueError(f"kernel backend {name!r}: allowed 'numba' or 'numpy'")
    if name == "numba" and not available():
        raise ValueError("kernel backend 'numba': numba does not import on this machine")
    old, _state["backend"] = backend(), name
    return old


_KERNELS = ("_sort_by", "_members", "_water_fill", "_capped_level", "_busy_level", "_delay")


def _compiled() -> Any:
    """The compiled epoch: every function of the kernel jitted on first use (numba resolves the
    callees by their global names when it compiles the caller)."""
    fn = _state.get("epoch")
    if fn is None:
        if not available():
            raise RuntimeError("the compiled kernel needs numba (SLICESIM_KERNEL=numpy skips it)")
        jit, names = _state["jit"], globals()
        for name in _KERNELS:
            names[name] = jit(names[name])
        fn = _state["epoch"] = jit(_epoch_user_ps)
    return fn


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
        lh[p] = (1.0 - acc / _FIXED) / (m - p)
        if v > lh[p] and lh[p] > level:
            level = lh[p]
        acc += np.int64(np.rint(v * _FIXED))
    for p in range(m):
        v = w[order[p]]
        phi[order[p]] = level if v > lh[p] else v


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
        q[p] = np.int64(np.rint(u[order[p]] * _FIXED))
        tot += q[p]
    total = tot / _FIXED
    best = np.inf
    acc = 0
    for p in range(m):
        rest = total - acc / _FIXED
        d = 1.0 - rest
        root = (p + rest) / (d if d > 1.0 / _OVER else 1.0 / _OVER)
        if root < best:
            best = root
        acc += q[p]
    return best if best < m else float(m)


def _members(base: np.ndarray, present: np.ndarray, n_all: int) -> tuple[Any, Any, int]:
    """The rows in session of every group of copy 0, in row order (a stable counting sort):
    group g's are ``members[count[g]:count[g + 1]]``; and the largest group's size. Rows out of
    session are left out: they have no work and add exact zeros to every sum, and their backlog
    is never read again."""
    count = np.zeros(n_all + 1, dtype=np.int64)
    for i in range(base.shape[0]):
        if present[i]:
            count[base[i] + 1] += 1
    for g in range(n_all):
        count[g + 1] += count[g]
    members = np.empty(base.shape[0], dtype=np.int64)
    fill = count[:-1].copy()
    biggest = 0
    for i in range(base.shape[0]):
        if present[i]:
            g = base[i]
            members[fill[g]] = i
            fill[g] += 1
            biggest = max(biggest, fill[g] - count[g])
    return count, members, biggest


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
    lev = total / (d if d > 1.0 / _OVER else 1.0 / _OVER)
    for a in range(m):
        if work[a] * lev >= 1.0:  # some user capped: the smallest k-line root
            return _capped_level(work, u, m, g, key, order, q)
    return lev


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


def _epoch_user_ps(
    base: np.ndarray,
    stride: int,
    n_all: int,
    budget: np.ndarray,
    prb_bps: np.ndarray,
    cqi: np.ndarray,
    present: np.ndarray,
    arrived: np.ndarray,
    burst: np.ndarray,
    cap_bits: np.ndarray,
    slot: np.ndarray,
    backlog: np.ndarray,
    sums: np.ndarray,
    dt: float,
    cap_s: float,
) -> np.ndarray:
    """One epoch after the link model (see :func:`epoch_user_ps`), group by group."""
    copies = backlog.shape[0]
    per_copy_rate = prb_bps.shape[0] > 1
    count, members, biggest = _members(base, present, n_all)
    full = np.empty(biggest)
    need = np.empty(biggest)
    work = np.empty(biggest)
    w = np.empty(biggest)
    u = np.empty(biggest)
    phi = np.empty(biggest)
    key = np.empty(biggest)
    lh = np.empty(biggest)
    order = np.empty(biggest, dtype=np.int64)
    q = np.empty(biggest, dtype=np.int64)
    bl0 = np.empty(biggest)
    used = np.zeros(n_all)
    for g0 in range(n_all):
        lo = count[g0]
        m = count[g0 + 1] - lo
        if m == 0:
            continue
        for c in range(copies):
            g = g0 + c * stride
            pc = c if per_copy_rate else 0
            bud = budget[g]
            # needs and the group's load (scheduler.processor_share), summed in row order
            load = 0.0
            for a in range(m):
                i = members[lo + a]
                f = bud * prb_bps[pc, i]
                f = f if f > 1.0 else 1.0
                full[a] = f
                bl = backlog[c, slot[i]]
                bl0[a] = bl
                nd = bl + arrived[i]
                need[a] = nd
                wk = nd / (f * dt)
                work[a] = wk
                phi[a] = wk
                load += wk
            if load > 1.0:  # max-min fair water-filling (scheduler._water_fill_exact)
                _water_fill(work, phi, m, g, w, key, lh, order)
            lev = _busy_level(work, u, m, g, key, order, q)
            # the KPI model (kpi_model.UserPsKpis.epoch) and the rest of window.epoch_step
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
                r = slot[i]
                backlog[c, r] = lf if lf <= cb else cb
                on = dt  # (numpy: present * dt)
                sums[c, r] += sv
                sums[copies + c, r] += b * dt
                sums[2 * copies + c, r] += dl * arrived[i]
                sums[3 * copies + c, r] += cqi[pc, i] * on
                if c == 0:
                    sums[4 * copies, r] += arrived[i]
                    sums[4 * copies + 1, r] += on
                used_g += pj
            used[g] = used_g
    return used


def epoch_user_ps(
    base: np.ndarray,
    stride: int,
    n_all: int,
    budget: np.ndarray,
    prb_bps: np.ndarray,
    cqi: np.ndarray,
    present: np.ndarray,
    arrived: np.ndarray,
    burst: np.ndarray,
    cap_bits: np.ndarray,
    slot: np.ndarray,
    backlog: np.ndarray,
    sums: np.ndarray,
    dt: float,
    cap_s: float,
) -> np.ndarray:
    """The ``user_ps`` epoch after the link model, compiled; the rows' state is updated in place.

    The epoch's rows are ``n`` joined rows (every draw's users in turn, as
    :class:`~slicesim.sim.window.EpochUsers`); ``slot`` says where each row keeps its state in
    ``backlog`` and ``sums``.

    Args:
        base: group of every row in copy 0, (n,) int; copy c's is ``base + c * stride``.
        stride: groups per copy of a draw.
        n_all: number of groups (draws x copies x groups per copy).
        budget: PRBs of every group, (n_all,).
        prb_bps, cqi: bit/s per PRB and CQI under the epoch's loads, (copies or 1, n).
        present: rows in session, (n,) bool.
        arrived: bits that arrived, (n,).
        burst: bits of one burst of the row's slice, (n,).
        cap_bits: the buffer's cap in bits, (n,).
        slot: column of every row in ``backlog`` and ``sums``, (n,) int.
        backlog: bits queued per (copy, slot): read, then replaced by what is left.
        sums: per-slot KPI sums, rows as ``window._Draw.sums`` (bits, busy_s, delay_bits_s,
            cqi_s: a block of ``copies`` rows each; then arrived_bits, user_s): the epoch's
            terms are added.
        dt, cap_s: the epoch's length and the buffer's (s).

    Returns:
        The time share used per group, (n_all,).
    """
    return _compiled()(
        np.ascontiguousarray(base, dtype=np.int64),
        int(stride),
        int(n_all),
        np.ascontiguousarray(budget, dtype=np.float64),
        np.ascontiguousarray(prb_bps, dtype=np.float64),
        np.ascontiguousarray(cqi, dtype=np.float64),
        np.ascontiguousarray(present, dtype=np.bool_),
        np.ascontiguousarray(arrived, dtype=np.float64),
        np.ascontiguousarray(burst, dtype=np.float64),
        np.ascontiguousarray(cap_bits, dtype=np.float64),
        np.ascontiguousarray(slot, dtype=np.int64),
        backlog,
        sums,
        float(dt),
        float(cap_s),
    )
