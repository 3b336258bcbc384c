"""In-cell scheduling: per-slice PRB budgets and proportional-fair time sharing inside a slice.

Flow-level model (Bonald and Proutiere, "Wireless downlink data channels: user performance and
cell dimensioning", ACM MobiCom 2003): with fast fading averaged out, proportional fair gives every
backlogged user of a slice an equal share of the slice's time, and a user alone would get
``R_u = B * r_u`` (B PRBs of the slice, r_u bit/s one PRB carries for it). For one scheduling
epoch of length dt with work ``tau_u = bits_u / (R_u dt)`` (share of the slice's time the user
needs), time shares are max-min fair (equal shares, capped at each user's need: water-filling),
and the throughput while backlogged follows processor sharing: ``R_u * max(1 - rho, phi_u)``
with rho = sum_u tau_u the slice's load (the M/G/1-PS mean ``R (1 - rho)`` below saturation,
the user's time share above it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slicesim.config import RRM_ACTIONS

__all__ = [
    "FIXED",
    "SHARE_TOL",
    "check_action_rows",
    "check_share_rows",
    "check_shares",
    "equal_split",
    "prb_budgets",
    "processor_share",
    "proportional_split",
    "rrm_available",
    "rrm_prbs",
    "segment_prefix",
]


FIXED = float(2**40)
"""Fixed-point unit of :func:`segment_prefix`: up to 2^23 values in [0, 1] fit an int64."""

SHARE_TOL = 1e-6
"""Float tolerance above 1 for a share and for a cell's sum of shares."""


def check_shares(
    x: object,
    active: np.ndarray,
    slice_ids: Sequence[int],
    rescale: bool = False,
    name: str = "x",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate PRB shares; zero inactive entries; raise on (or rescale) cells summing above 1.

    This is the one check of shares, for the simulator and the Gymnasium env alike.

    Args:
        x: shares of shape ``active.shape`` = (n_cells, n_slices), real numbers (not bool).
        active: the (cell, slice) pairs active in the period the shares apply to.
        slice_ids: the slice id of every column (for the messages).
        rescale: scale a cell whose active shares sum above 1 (+ SHARE_TOL) to sum 1 instead
            of raising.
        name: what the shares are called in messages (``x``, ``action``).

    Returns:
        The shares to apply (float64, zero where inactive, rows summing to at most 1 + tol) and a
        bool array of the rescaled cells.

    Raises:
        ValueError: a boolean or non-numeric array; a wrong shape; a NaN, infinite, negative or
            > 1 entry (active or not); a cell over 1 unless ``rescale``. The message names the
            cell, the slice id and the allowed range.
    """
    arr = np.asarray(x)
    if arr.dtype == bool:
        raise ValueError(f"{name} is a boolean array: give PRB shares as numbers in [0, 1]")
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} is not an array of numbers: {err}") from None
    if arr.shape != active.shape:
        raise ValueError(
            f"{name} has shape {arr.shape}, expected (n_cells, n_slices) = {active.shape}"
        )
    bad = ~((arr >= 0.0) & (arr <= 1.0 + SHARE_TOL))  # NaN fails both comparisons
    if bad.any():
        c, s = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{c}, {s}] (cell {c}, slice id {slice_ids[s]}) is {arr[c, s]:.6g}: "
            "allowed [0, 1]"
        )
    arr = np.where(active, np.minimum(arr, 1.0), 0.0)
    sums = arr.sum(axis=1)
    over = sums > 1.0 + SHARE_TOL
    if over.any() and not rescale:
        c = int(np.argmax(over))
        ids = [slice_ids[int(s)] for s in np.flatnonzero(active[c])]
        raise ValueError(
            f"{name}: shares of cell {c} sum to {sums[c]:.6g} over its active slices (ids {ids}): "
            f"allowed at most 1 (+{SHARE_TOL:g})"
        )
    arr[over] /= sums[over, None]
    return arr, over


def check_share_rows(
    xs: object,
    active: np.ndarray,
    slice_ids: Sequence[int],
    labels: Sequence[str],
    rescale: bool = False,
    name: str = "x",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_shares` for a batch of share arrays, each against its own active pairs, in
    one pass: the same numbers as one :func:`check_shares` per row.

    Args:
        xs: shares of shape ``active.shape`` = (rows, n_cells, n_slices).
        active: the active (cell, slice) pairs of each row's coming period.
        slice_ids, rescale, name: as :func:`check_shares`.
        labels: what each row is called in messages (``replica 3``, or ``""``).

    Returns:
        The shares to apply, (rows, n_cells, n_slices), and the rescaled cells, (rows, n_cells).

    Raises:
        ValueError: :func:`check_shares`' error for the first bad row, prefixed with its label.
    """
    arr = np.asarray(xs)
    if arr.dtype == bool or arr.dtype.kind not in "iuf" or arr.shape != active.shape:
        _first_bad_row(xs, active, slice_ids, labels, rescale, name)
    arr = arr.astype(np.float64)
    if not ((arr >= 0.0) & (arr <= 1.0 + SHARE_TOL)).all():  # NaN fails both comparisons
        _first_bad_row(xs, active, slice_ids, labels, rescale, name)
    arr = np.where(active, np.minimum(arr, 1.0), 0.0)
    sums = arr.sum(axis=2)  # per row, the very sums check_shares takes
    over = sums > 1.0 + SHARE_TOL
    if over.any() and not rescale:
        _first_bad_row(xs, active, slice_ids, labels, rescale, name)
    arr[over] /= sums[over, None]
    return arr, over


def check_action_rows(
    xs: object,
    active: np.ndarray,
    slice_ids: Sequence[int],
    labels: Sequence[str],
    mapping: str,
    rescale: bool = False,
    name: str = "x",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_share_rows` for the actions of a mapping (``SimConfig.mapping``): one
    share per (cell, slice), or under ``min_max`` (n_cells, n_slices, 2): the minimum, checked
    as shares (a cell's minimums sum to at most 1), and the maximum, each in [0, 1]; a maximum
    below its minimum is taken as the minimum (TS 28.541: minimum <= maximum).

    Returns:
        The actions to apply, (rows, n_cells, n_slices[, 2]), and the rescaled cells.

    Raises:
        ValueError: as :func:`check_share_rows`, naming the cell, slice id and part.
    """
    if mapping != "min_max":
        return check_share_rows(xs, active, slice_ids, labels, rescale, name)
    arr = np.asarray(xs)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} is not an array of numbers: give ratios in [0, 1]")
    if len(arr) != len(labels):
        raise ValueError(f"{name} has {len(arr)} rows, expected {len(labels)}")
    if arr.shape != (*active.shape, 2):
        raise ValueError(
            f"{name} has shape {arr.shape[1:]}, expected (n_cells, n_slices, 2) = "
            f"{(*active.shape[1:], 2)} under sim.rrm_action = min_max (a minimum and a "
            "maximum per slice)"
        )
    arr = arr.astype(np.float64)
    bad = ~((arr[..., 1] >= 0.0) & (arr[..., 1] <= 1.0 + SHARE_TOL))
    if bad.any():
        k, c, s = (int(i) for i in np.argwhere(bad)[0])
        label = f"{labels[k]}: " if labels[k] else ""
        raise ValueError(
            f"{label}{name} maximum[{c}, {s}] (cell {c}, slice id {slice_ids[s]}) is "
            f"{arr[k, c, s, 1]:.6g}: allowed [0, 1]"
        )
    low, rescaled = check_share_rows(
        arr[..., 0], active, slice_ids, labels, rescale, f"{name} minimum"
    )
    high = np.where(active, np.maximum(np.minimum(arr[..., 1], 1.0), low), 0.0)
    return np.stack([low, high], axis=-1), rescaled


def _first_bad_row(
    xs: object,
    active: np.ndarray,
    slice_ids: Sequence[int],
    labels: Sequence[str],
    rescale: bool,
    name: str,
) -> None:
    """Raise :func:`check_shares`' error for the first bad row of ``xs``, with its label."""
    rows = list(xs) if isinstance(xs, (list, tuple)) else np.asarray(xs)
    if len(rows) != len(labels):
        raise ValueError(f"{name} has {len(rows)} rows, expected {len(labels)}")
    for row, mask, label in zip(rows, active, labels, strict=True):
        try:
            check_shares(row, mask, slice_ids, rescale, name)
        except ValueError as err:
            raise ValueError(f"{label}: {err}" if label else str(err)) from None
    raise ValueError(f"{name}: every row checks alone, but not the batch")  # pragma: no cover


def equal_split(active: np.ndarray) -> np.ndarray:
    """Equal shares among each cell's active slices (rows sum to 1, or 0 without any)."""
    active = np.asarray(active, dtype=float)
    return active / np.maximum(active.sum(axis=1, keepdims=True), 1.0)


def proportional_split(demand: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Shares proportional to each active slice's demand; equal shares in a cell without any."""
    active = np.asarray(active, dtype=bool)
    demand = np.where(active, np.asarray(demand, dtype=float), 0.0)
    total = demand.sum(axis=1, keepdims=True)
    return np.where(total > 0, demand / np.where(total > 0, total, 1.0), equal_split(active))


def prb_budgets(x: np.ndarray, n_prb: int) -> np.ndarray:
    """PRBs each slice may use: floor(x * n_prb), the scheduler's upper bound (paper Sec. II)."""
    return np.floor(x * n_prb + 1e-9)


def rrm_prbs(xs: np.ndarray, n_prb: int, action: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dedicated, minimum and maximum PRBs of an action under ``sim.rrm_action`` = ``action``.

    Ratios become PRBs as the isolated budgets do (:func:`prb_budgets`: floor(ratio * n_prb)).

    Args:
        xs: shares, (..., n_slices); for ``min_max``, (..., n_slices, 2): minimum, maximum.
        n_prb: PRBs of a cell.
        action: one of :data:`RRM_ACTIONS`.

    Returns:
        (dedicated, minimum, maximum), each (..., n_slices): dedicated <= minimum <= maximum.
    """
    if action == "min_max":
        minimum, maximum = prb_budgets(xs[..., 0], n_prb), prb_budgets(xs[..., 1], n_prb)
        return np.zeros_like(minimum), minimum, np.maximum(maximum, minimum)
    budget = prb_budgets(xs, n_prb)
    if action == "min":
        return np.zeros_like(budget), budget, np.full_like(budget, float(n_prb))
    if action == "max":
        return np.zeros_like(budget), np.zeros_like(budget), budget
    if action == "dedicated":
        return budget, budget, budget
    raise ValueError(f"rrm_action = {action!r} is unknown: allowed {list(RRM_ACTIONS)}")


def _fill_pool(pool: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """The pool's PRBs (...,) shared max-min fairly among the slices' extra needs (..., S):
    equal parts, capped at each need (the smallest needs served first)."""
    n = extra.shape[-1]
    order = np.argsort(extra, axis=-1, kind="stable")
    need = np.take_along_axis(extra, order, axis=-1)
    grant = np.empty_like(need)
    left = pool
    for k in range(n):
        g = np.minimum(need[..., k], left / (n - k))
        grant[..., k] = g
        left = left - g
    out = np.empty_like(grant)
    np.put_along_axis(out, order, grant, axis=-1)
    return out


def rrm_available(
    demand: np.ndarray,
    dedicated: np.ndarray,
    minimum: np.ndarray,
    maximum: np.ndarray,
    n_prb: int,
) -> np.ndarray:
    """PRBs each slice of a cell can use in a scheduling interval under RRMPolicyRatio sharing.

    The rule (3GPP TS 28.541 clause 4.3.36, RRMPolicyRatio, and clause 4.4.1; the docs' scope
    page): a slice's dedicated PRBs are its alone (idle when it does not need them); its
    minimum's PRBs go to it first while it needs them, else to the others; the rest of the cell
    is shared among the slices that need more, max-min fairly (equal parts, capped at each
    one's need), no slice above its maximum. A slice's *available* PRBs are what it would get
    if it needed more than it does, the others' needs as they are: a slice that needs fewer
    uses what it needs, a slice that needs more uses all of it, and the cell's slices never use
    more than the cell.

    Args:
        demand: PRBs each slice needs in the interval, (..., n_slices) (its users' data over
            their bit/s per PRB and the interval).
        dedicated: the policy's dedicated PRBs (:func:`rrm_prbs`), same shape.
        minimum: its minimum PRBs, dedicated <= minimum.
        maximum: its maximum PRBs, minimum <= maximum.
        n_prb: PRBs of a cell.

    Returns:
        The available PRBs, (..., n_slices). With dedicated = minimum = maximum (isolated
        slicing) they are the budgets themselves, bit for bit.
    """
    want = np.minimum(demand, maximum)
    prio = np.minimum(want, minimum)
    held = np.maximum(prio, dedicated)  # PRBs out of the pool: used first, or dedicated
    extra = want - prio
    n = demand.shape[-1]
    avail = np.empty_like(want)
    for s in range(n):  # slice s needing more: it holds its minimum and may grow to its maximum
        total = minimum[..., 0] if s == 0 else held[..., 0]
        for j in range(1, n):
            total = total + (minimum[..., j] if j == s else held[..., j])
        more = extra.copy()
        more[..., s] = maximum[..., s] - minimum[..., s]
        grant = _fill_pool(np.maximum(n_prb - total, 0.0), more)
        avail[..., s] = minimum[..., s] + grant[..., s]
    return avail


def processor_share(
    group: np.ndarray, work: np.ndarray, n_groups: int, exact: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Max-min fair time shares phi (sum <= 1 per group, phi_u <= work_u), vectorised.

    Args:
        group: group index (cell * n_slices + slice) of every user.
        work: share of its group's time each user needs this epoch (finite, >= 0).
        n_groups: number of groups.
        exact: each group's arithmetic on its own users only, so a group's shares do not depend
            on the other groups in the call (a replayed copy equals the run bit for bit) and
            stay within float rounding of its budget whatever the needs. ``False`` is slicesim
            0.1's water-filling (one cumulative sum over every saturated user), kept for the
            ``legacy`` KPI model.

    Returns:
        phi per user, and the load (sum of work) of every group, shape (n_groups,).
    """
    load = np.bincount(group, weights=work, minlength=n_groups)
    over = load[group] > 1.0
    if not over.any():  # the common case: every slice can serve all its users' data
        return work, load
    phi = work.copy()
    fill = _water_fill_exact if exact else _water_fill
    phi[over] = fill(group[over], work[over], n_groups)
    return phi, load


def segment_prefix(values: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sums of the earlier values of each segment, and each segment's total, segment by segment.

    ``values`` (in [0, 1]) are sorted by segment and ``new`` marks each segment's first entry.
    The sums are taken in fixed point (multiples of 2^-40): integer addition is exact, so a
    segment's sums do not depend on the other segments in the array (a float cumulative sum
    minus its value at the segment's start does), at a rounding of 2^-41 per value.

    Returns:
        The exclusive prefix sum of every entry within its segment, and the total of every
        segment (in order of appearance).
    """
    q = np.rint(values * FIXED).astype(np.int64)
    cum = np.cumsum(q)
    excl = cum - q
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    base = excl[starts]
    last = np.append(starts[1:], len(q)) - 1
    return (excl - base[run]) / FIXED, (cum[last] - base) / FIXED


def _water_fill_exact(group: np.ndarray, work: np.ndarray, n_groups: int) -> np.ndarray:
    """:func:`_water_fill` with each group summed on its own (:func:`segment_prefix`) and needs
    clipped at 1: a need of a whole epoch or more is capped at the level anyway, and clipping
    keeps a zero-budget slice's huge needs out of the sums."""
    w_all = np.minimum(work, 1.0)
    order = np.argsort(group + w_all * 0.5)
    w, g = w_all[order], group[order]
    new = np.ones(len(g), dtype=bool)
    np.not_equal(g[1:], g[:-1], out=new[1:])
    before, _ = segment_prefix(w, new)
    size = np.bincount(g, minlength=n_groups)[g]
    first = np.maximum.accumulate(np.where(new, np.arange(len(g)), 0))
    level_here = (1.0 - before) / (size - (np.arange(len(g)) - first))
    short = w > level_here
    level = np.zeros(n_groups)
    np.maximum.at(level, g[short], level_here[short])
    phi = np.empty_like(w)
    phi[order] = np.where(short, level[g], w)
    return phi


def _water_fill(group: np.ndarray, work: np.ndarray, n_groups: int) -> np.ndarray:
    """Time shares of users in saturated groups: equal shares, capped at each user's need
    (slicesim 0.1's arithmetic, the ``legacy`` KPI model's)."""
    # Sort by group, then by need; needs >= 1 are always capped, so clipping keeps the order
    # that matters and lets one argsort of a float key replace a lexsort.
    order = np.argsort(group + np.minimum(work, 1.0) * 0.5)
    w, g = work[order], group[order]
    pos = np.arange(len(g))
    new_group = np.ones(len(g), dtype=bool)
    np.not_equal(g[1:], g[:-1], out=new_group[1:])
    first = np.maximum.accumulate(np.where(new_group, pos, 0))
    size = np.bincount(g, minlength=n_groups)[g]
    cum = np.cumsum(w) - w
    before = cum - cum[first]  # need of the smaller users of the same group
    level_here = (1.0 - before) / (size - (pos - first))
    # Once a user is capped at the level, so is every later (larger) one of its group; the
    # group's level is the one where that starts (levels fall along the capped users).
    short = w > level_here
    level = np.zeros(n_groups)
    np.maximum.at(level, g[short], level_here[short])
    phi = np.empty_like(w)
    phi[order] = np.where(short, level[g], w)
    return phi
