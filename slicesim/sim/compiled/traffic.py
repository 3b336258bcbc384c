"""A window's users and bursts, drawn in compiled code in the reference engine's order.

The reference engine (:mod:`slicesim.sim.population`) draws a period's users and bursts from the
draw's generator as SimPy orders the window's events; :func:`draw_traffic` takes the same numbers
from the same generator in the same order, so both engines see the same traffic, bit for bit:

1. ``n0`` users in session at the window's start (drawn in Python, ``Generator.poisson``), rows
   for ``cap0`` drops (:func:`draw_drops`: ``World.sample_drops``), the ``n0`` session lengths;
2. SimPy's start of the processes: each slice with arrivals draws 16 gaps and 16 session
   lengths (slice order), then the first epoch draws its bursts;
3. then the events in SimPy's order (time, then the order they were scheduled in): an arrival
   takes the next row (more drops when the rows run out: ``max(16, n // 2)``) and, after every
   16th, draws the next 16 gaps and lengths; an epoch draws one burst count per row so far.
   Events at or after ``window_s`` do not run (SimPy's ``run(until=window_s)``).

The physics does not change the traffic, so the whole window's traffic is drawn first and the
epochs (:mod:`slicesim.sim.compiled.epoch`) run on it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from slicesim.sim.compiled.rng import bounded, standard_exponential, uniform

__all__ = ["draw_traffic"]

_CHUNK = 16  # gaps and session lengths an arrival process draws at a time (population.py)
_DROP, _CELL, _SLICE = 0, 1, 2  # rows of the int row arrays
_START, _END = 0, 1  # rows of the time row arrays


@njit(cache=True, nogil=True)
def _more_rows(ints: np.ndarray, times: np.ndarray, more: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows with ``more`` empty ones after them (slice 0, never in session)."""
    cap = ints.shape[1]
    new_ints = np.zeros((3, cap + more), dtype=np.int64)
    new_times = np.empty((2, cap + more))
    new_ints[:, :cap] = ints
    new_times[:, :cap] = times
    new_times[_START, cap:] = np.inf
    new_times[_END, cap:] = -np.inf
    return new_ints, new_times


@njit(cache=True, nogil=True)
def _chunk(
    bitgen: int,
    s: int,
    rate: np.ndarray,
    session_s: np.ndarray,
    gaps: np.ndarray,
    lengths: np.ndarray,
) -> None:
    """Slice ``s``'s next gaps between arrivals and session lengths (population.Users.arrivals)."""
    scale = 1.0 / rate[s]
    for j in range(_CHUNK):
        gaps[s, j] = scale * standard_exponential(bitgen)
    for j in range(_CHUNK):
        lengths[s, j] = session_s[s] * standard_exponential(bitgen)


@njit(cache=True, nogil=True)
def draw_drops(
    bitgen: int,
    kind: int,
    count: int,
    lo: int,
    drop_cdf: np.ndarray,
    drops: int,
    pool_cell: np.ndarray,
    drop: np.ndarray,
    cell: np.ndarray,
) -> None:
    """Rows ``[lo, lo + count)`` from the drop pool (``World.sample_drops``): ``count`` uniforms
    pick the dropped cell by the spatial weights, then ``count`` integers the drop; ``drop`` is
    the pool's flat index (cell * drops + drop), ``cell`` the serving cell."""
    for i in range(count):
        drop[lo + i] = np.searchsorted(drop_cdf, uniform(bitgen, kind), side="right")
    for i in range(count):
        flat = drop[lo + i] * drops + bounded(bitgen, drops)
        drop[lo + i] = flat
        cell[lo + i] = pool_cell[flat]


@njit(cache=True, nogil=True)
def _admit(ints: np.ndarray, times: np.ndarray, i: int, s: int, active: np.ndarray, t: float,
           length: float) -> None:  # fmt: skip
    """Row ``i`` becomes a session of slice ``s`` from ``t`` (blocked where the slice is
    inactive in its cell: never in session)."""
    ints[_SLICE, i] = s
    if active[ints[_CELL, i], s]:
        times[_START, i] = t
        times[_END, i] = t + length


@njit(cache=True, nogil=True)
def _bursts(
    bitgen: int,
    kind: int,
    ints: np.ndarray,
    times: np.ndarray,
    n: int,
    t: float,
    table: np.ndarray,
    offset: np.ndarray,
    guide: np.ndarray,
    counts: np.ndarray,
    lo: int,
) -> None:
    """One epoch's burst counts of rows ``[0, n)`` into ``counts[lo:]`` (PoissonTable.draw: a
    uniform per row plus the row's class, counted in the joined sorted table). Every row takes
    its uniform; only rows in session at ``t`` need their count (the others get 0: the epoch
    ignores them). The search starts at the guide of the uniform's bucket: every entry before
    it is at or below ``class + bucket / GUIDE``, so at or below the value (rounding is
    monotone), and the count is exact."""
    last, buckets = len(table), guide.shape[1]
    for i in range(n):
        u = uniform(bitgen, kind)
        if times[_START, i] <= t and times[_END, i] > t:
            s = ints[_SLICE, i]
            v = u + s
            j = guide[s, int(u * buckets)]
            while j < last and table[j] <= v:
                j += 1
            counts[lo + i] = j - offset[s]
        else:
            counts[lo + i] = 0


@njit(cache=True, nogil=True)
def draw_traffic(
    bitgen: int,
    kind: int,
    n0: np.ndarray,
    cap0: int,
    rate: np.ndarray,
    session_s: np.ndarray,
    active: np.ndarray,
    drop_cdf: np.ndarray,
    drops: int,
    pool_cell: np.ndarray,
    burst_table: np.ndarray,
    burst_offset: np.ndarray,
    burst_guide: np.ndarray,
    window_s: float,
    epoch_s: float,
    n_epochs: int,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One draw's users and bursts over a window (module docstring).

    ``rate[s]`` is 0 for a slice without arrivals; ``n_epochs`` is the number of epochs the
    window runs (:func:`slicesim.sim.compiled.window.epochs_in_window`).

    Returns:
        The rows used ``n``; the rows as ints (flat pool index of the drop, serving cell,
        slice; (3, >= n)) and times (session start and end, inf / -inf where blocked; (2, >=
        n)); every epoch's time and rows so far; every epoch's burst counts of its rows,
        ``counts[offset[k]:offset[k + 1]]`` (0 for rows out of session).
    """
    n_slices = len(n0)
    ints, times = _more_rows(np.zeros((3, 0), dtype=np.int64), np.empty((2, 0)), cap0)
    draw_drops(bitgen, kind, cap0, 0, drop_cdf, drops, pool_cell, ints[_DROP], ints[_CELL])
    n = 0
    for s in range(n_slices):  # the stationary population, memoryless residual sessions
        for _ in range(n0[s]):
            _admit(ints, times, n, s, active, 0.0, session_s[s] * standard_exponential(bitgen))
            n += 1
    # the arrival processes start (SimPy's initialisation, in order), then the epochs'
    gaps, lengths = np.zeros((n_slices, _CHUNK)), np.zeros((n_slices, _CHUNK))
    pos = np.zeros(n_slices, dtype=np.int64)
    due = np.full(n_slices, np.inf)  # next arrival time per slice
    order = np.zeros(n_slices, dtype=np.int64)  # when it was scheduled (SimPy's event id)
    scheduled = 0
    for s in range(n_slices):
        if rate[s] > 0.0:
            _chunk(bitgen, s, rate, session_s, gaps, lengths)
            due[s], order[s] = 0.0 + gaps[s, 0], scheduled
            scheduled += 1
    epoch_t, epoch_n = np.zeros(n_epochs), np.zeros(n_epochs, dtype=np.int64)
    counts = np.zeros(n_epochs * ints.shape[1] + 16, dtype=np.int32)
    offset = np.zeros(n_epochs + 1, dtype=np.int64)
    t_epoch, order_epoch = 0.0, -1  # the first epoch runs at its process's start
    k = 0
    while True:
        nxt, t, rank = -1, t_epoch, order_epoch  # -1: the epoch process
        for s in range(n_slices):
            if due[s] < t or (due[s] == t and order[s] < rank):
                nxt, t, rank = s, due[s], order[s]
        if t >= window_s:  # SimPy's run(until=window_s)
            break
        if nxt < 0:  # an epoch: one burst count per row so far
            epoch_t[k], epoch_n[k] = t, n
            if offset[k] + n > len(counts):
                grown = np.zeros(max(2 * len(counts), offset[k] + n), dtype=np.int32)
                grown[: len(counts)] = counts
                counts = grown
            _bursts(bitgen, kind, ints, times, n, t, burst_table, burst_offset, burst_guide,
                    counts, offset[k])  # fmt: skip
            offset[k + 1] = offset[k] + n
            k += 1
            # the next epoch, unless this was the window's last (counted as SimPy does)
            t_epoch, order_epoch = (t + epoch_s if k < n_epochs else np.inf), scheduled
            scheduled += 1
            continue
        s = nxt  # an arrival of slice s takes the next row (more drops when they run out)
        if n == ints.shape[1]:
            more = max(16, n // 2)
            ints, times = _more_rows(ints, times, more)
            draw_drops(bitgen, kind, more, n, drop_cdf, drops, pool_cell, ints[_DROP], ints[_CELL])
        _admit(ints, times, n, s, active, t, lengths[s, pos[s]])
        n += 1
        pos[s] += 1
        if pos[s] == _CHUNK:
            _chunk(bitgen, s, rate, session_s, gaps, lengths)
            pos[s] = 0
        due[s], order[s] = t + gaps[s, pos[s]], scheduled
        scheduled += 1
    return n, ints, times, epoch_t[:k], epoch_n[:k], counts, offset
