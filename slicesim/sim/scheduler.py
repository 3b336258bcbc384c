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

import numpy as np

__all__ = ["prb_budgets", "processor_share", "validate_shares"]


def validate_shares(
    x: np.ndarray, shape: tuple[int, int], active: np.ndarray | None = None, tol: float = 1e-6
) -> np.ndarray:
    """Check PRB shares: shape, finite, in [0, 1], each row sums to at most 1 (+ tol).

    Entries outside ``active`` (if given) do not count towards the row sums.

    Raises:
        ValueError: naming the first offending cell and slice (or row) and the allowed range.
    """
    x = np.asarray(x, dtype=float)
    if x.shape != shape:
        raise ValueError(f"x has shape {x.shape}, expected (n_cells, n_slices) = {shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        c, s = map(int, np.argwhere(bad)[0])
        raise ValueError(f"x[{c}, {s}] = {x[c, s]} (cell {c}, slice column {s}) is not finite")
    bad = (x < 0) | (x > 1 + tol)
    if bad.any():
        c, s = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"x[{c}, {s}] = {x[c, s]:.6g} (cell {c}, slice column {s}) is out of range: "
            f"allowed [0, 1]"
        )
    sums = (x if active is None else np.where(active, x, 0.0)).sum(axis=1)
    if (sums > 1 + tol).any():
        c = int(np.argmax(sums > 1 + tol))
        raise ValueError(
            f"shares of cell {c} sum to {sums[c]:.6g}: allowed at most 1 (+{tol:g}); "
            f"row = {np.round(x[c], 6).tolist()}"
        )
    return x


def prb_budgets(x: np.ndarray, n_prb: int) -> np.ndarray:
    """PRBs each slice may use: floor(x * n_prb), the scheduler's upper bound (DESIGN section 3)."""
    return np.floor(x * n_prb + 1e-9)


def processor_share(
    group: np.ndarray, work: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Max-min fair time shares phi (sum <= 1 per group, phi_u <= work_u), vectorised.

    Args:
        group: group index (cell * n_slices + slice) of every user.
        work: share of its group's time each user needs this epoch (finite, >= 0).
        n_groups: number of groups.

    Returns:
        phi per user, and the load (sum of work) of every group, shape (n_groups,).
    """
    load = np.bincount(group, weights=work, minlength=n_groups)
    over = load[group] > 1.0
    if not over.any():  # the common case: every slice can serve all its users' data
        return work, load
    phi = work.copy()
    phi[over] = _water_fill(group[over], work[over], n_groups)
    return phi, load


def _water_fill(group: np.ndarray, work: np.ndarray, n_groups: int) -> np.ndarray:
    """Time shares of users in saturated groups: equal shares, capped at each user's need."""
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
    # group's level is the one where that starts.
    # group's level is the one where that starts (levels fall along the capped users).
    short = w > level_here
    level = np.zeros(n_groups)
    np.maximum.at(level, g[short], level_here[short])
    phi = np.empty_like(w)
    phi[order] = np.where(short, level[g], w)
    return phi
