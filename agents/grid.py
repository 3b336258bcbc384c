"""Exact per-cell search over a grid of shares, given per-slice value tables.

The grid oracles and IDLA's fast solver share it: the paper's estimator oracle
(:mod:`agents.idla.oracle`, values from the QoS estimator), the simulator oracles
(:mod:`agents.sim_oracle`, values from replays) and :func:`agents.idla.solve`. A cell's
objective is a sum of per-slice terms ``sum_s v[s, u_s]`` over integer share levels ``u_s`` with
``sum_s u_s <= U`` (or ``= U``): a knapsack, solved exactly by dynamic programming over the
slices in O(S U^2) per cell - the same maximiser as scoring every grid point (C(U + S, S) of
them, 10 626 for 4 slices at step 0.05; the tests check it against that enumeration), batched
over cells in numpy (blocks on two threads).

Ties (flat value tables: the estimator or the simulator says r = 1 at many shares) go to the
point nearest a preferred one (default: equal shares): every value gets a separable penalty of
:data:`TIE_EPS` times the squared distance in grid units, far below any real difference.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from slicesim.sim import equal_split

__all__ = ["TIE_EPS", "best_levels", "full_levels", "grid_units", "knapsack"]

TIE_EPS = 1e-9
"""Weight of the squared distance (in units) to the preferred point: breaks ties only."""
_DP_BUDGET = 1 << 21  # (cells x totals x levels) per DP block: 16 MB of float64


def grid_units(step: float) -> int:
    """Grid units per whole cell; ``step`` must divide 1.

    Raises:
        ValueError: ``step`` outside (0, 1] or not dividing 1.
    """
    if not 0.0 < step <= 1.0:
        raise ValueError(f"step must be in (0, 1], got {step!r}")
    n_units = round(1.0 / step)
    if abs(n_units * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1 (1/step an integer), got {step!r}")
    return n_units


def full_levels(active: np.ndarray, n_units: int) -> np.ndarray:
    """The levels a slice can take when the cell is used whole and every active slice gets at
    least one unit: from 1 up to what leaves the other active slices one unit each (in the cell
    with the fewest active slices). The levels worth evaluating, by replay or estimator."""
    counts = np.asarray(active).sum(-1)
    fewest = int(counts[counts > 0].min()) if (counts > 0).any() else 1
    return np.arange(1, max(n_units - fewest + 1, 1) + 1)


def knapsack(values: np.ndarray, total: np.ndarray, exact: bool) -> np.ndarray:
    """Per cell, the levels ``u_s`` maximising ``sum_s values[b, s, u_s]`` under a total.

    Args:
        values: ``(B, S, V)`` float64, -inf where a level is not allowed.
        total: ``(B,)`` integers: ``sum_s u_s == total`` if ``exact``, else ``<= total``.
        exact: see ``total``.

    Returns:
        int64 levels ``(B, S)`` (arbitrary but valid-shaped where no allocation is feasible).
    """
    n_cells, n_slices, n_values = values.shape
    levels = np.zeros((n_cells, n_slices), dtype=np.int64)
    if n_cells == 0 or n_slices == 0:
        return levels
    top = min(n_slices * (n_values - 1), int(np.max(total)))
    block = max(1, _DP_BUDGET // ((top + 1) * n_values))
    starts = range(0, n_cells, block)
    limits = np.minimum(np.asarray(total), top)

    def solve_block(a: int) -> None:
        levels[a : a + block] = _knapsack_block(
            values[a : a + block], limits[a : a + block], top, exact
        )

    if len(starts) > 1:  # numpy releases the GIL in its loops: blocks run on both cores
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(solve_block, starts))
    else:
        solve_block(0)
    return levels


def _knapsack_block(vals: np.ndarray, limit: np.ndarray, top: int, exact: bool) -> np.ndarray:
    """:func:`knapsack` on one block of cells (totals 0..top)."""
    b, n_slices, n_values = vals.shape
    width, pad = top + 1, n_values - 1
    best = np.full((b, width + pad), -np.inf)  # the left padding stands for negative totals
    best[:, pad : pad + min(n_values, width)] = vals[:, 0, :width]
    flipped = vals[:, :, ::-1]  # level V - 1 - j at position j
    choice = []
    last = n_slices - 1 if exact else n_slices  # with an exact total the last slice is solved
    for s in range(1, last):  # at that total only
        # window u holds best[u - V + 1 .. u]: the total before slice s takes V - 1 - j
        windows = np.lib.stride_tricks.sliding_window_view(best, n_values, axis=1)
        cand = windows + flipped[:, s, None, :]  # (b, width, V)
        arg = cand.argmax(axis=2)
        best[:, pad:] = np.take_along_axis(cand, arg[..., None], axis=2)[..., 0]
        choice.append(n_values - 1 - arg)
    rows = np.arange(b)
    out = np.zeros((b, n_slices), dtype=np.int64)
    if exact and n_slices > 1:
        k = np.arange(n_values)
        before = limit[:, None] - k[None, :]  # total left for the other slices
        prior = np.where(before >= 0, best[rows[:, None], pad + np.maximum(before, 0)], -np.inf)
        pick = (prior + vals[:, -1, :]).argmax(axis=1)
        out[:, -1] = pick
        at = np.maximum(limit - pick, 0)
    elif exact:
        at = limit.astype(np.int64)
    else:
        allowed = np.arange(width)[None, :] <= limit[:, None]
        at = np.where(allowed, best[:, pad:], -np.inf).argmax(axis=1)
    for s in range(len(choice), 0, -1):
        pick = choice[s - 1][rows, at]
        out[:, s] = pick
        at = np.maximum(at - pick, 0)
    out[:, 0] = at
    return out


def best_levels(
    table: np.ndarray | Tensor,
    active: np.ndarray | Tensor,
    full: bool = True,
    prefer: np.ndarray | Tensor | None = None,
) -> Tensor:
    """Each cell's best share levels for the objective ``sum_s table[b, s, u_s]``.

    Args:
        table: values ``(B, S, n_units + 1)`` of every slice at every level (NaN counts as
            -inf); entries of inactive slices are ignored.
        active: bool ``(B, S)``.
        full: search only allocations that use the whole cell and give every active slice at
            least one unit (with strict isolation an unallocated PRB serves nobody; the paper's
            objective is non-decreasing in x, so this loses nothing where the values are).
            ``False``: every point with ``sum u <= n_units``.
        prefer: levels ``(B, S)`` (float) that ties go to; default equal shares.

    Returns:
        int64 levels ``(B, S)`` (a tensor), 0 for inactive slices and for cells without active
        slices.
    """
    values = np.asarray(table, dtype=np.float64)
    values = np.where(np.isnan(values), -np.inf, values)
    act = np.asarray(active, dtype=bool)
    n_cells, _, n_values = values.shape
    n_units = n_values - 1
    values = np.where(act[..., None], values, -np.inf)
    values[..., 0] = np.where(act, -np.inf if full else values[..., 0], 0.0)  # full: >= 1 unit
    if prefer is None:
        pref = equal_split(act) * n_units
    else:
        pref = np.asarray(prefer, dtype=np.float64)
    values -= TIE_EPS * (np.arange(n_values) - pref[..., None]) ** 2
    levels = knapsack(values, np.full(n_cells, n_units), exact=full)
    chosen = np.take_along_axis(values, levels[..., None], axis=-1)[..., 0].sum(-1)
    lost = ~np.isfinite(chosen) & act.any(-1)  # no allowed point (e.g. more slices than units)
    if lost.any():
        levels[lost] = _rounded(pref[lost], n_units)
    return torch.from_numpy(np.where(act, levels, 0))


def _rounded(prefer: np.ndarray, n_units: int) -> np.ndarray:
    """Integer levels near ``prefer`` (in units) that sum to at most ``n_units``."""
    levels = np.floor(np.clip(prefer, 0, n_units)).astype(np.int64)
    rows = np.arange(len(levels))
    for _ in range(levels.shape[1]):  # take any excess from the largest levels first
        over = np.maximum(levels.sum(-1) - n_units, 0)
        top = levels.argmax(-1)
        levels[rows, top] -= np.minimum(over, levels[rows, top])
    return levels
