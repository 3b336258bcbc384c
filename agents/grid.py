"""Exact per-cell search over a grid of shares, given per-slice value tables.

Both grid oracles use it: the paper's estimator oracle (:mod:`agents.idla.oracle`, values from the
QoS estimator) and the simulator oracles (:mod:`agents.sim_oracle`, values from replays). When a
cell's objective is a sum of per-slice terms ``sum_s v[s, u_s]`` over integer share levels ``u_s``
(``u / n_units`` of the PRBs), every grid point is scored by table lookup and summation: the same
maximiser as evaluating each point, with one value per (slice, level) (DESIGN section 9).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

__all__ = ["TIE_TOL", "best_levels", "compositions", "grid_units"]

TIE_TOL = 1e-6
"""Grid points whose score is within this of a cell's best are ties (float32 value tables)."""
_LOOKUP_BUDGET = 1 << 22  # (cells x grid points) scored per block: 32 MB of float64


@functools.lru_cache(maxsize=32)
def compositions(n_slices: int, n_units: int) -> Tensor:
    """Every vector of ``n_slices`` non-negative integers with sum ``<= n_units``.

    Rows are in lexicographic order, the all-zero vector first; the result is cached, so callers
    must not modify it. For 4 slices and 20 units there are C(24, 4) = 10 626 rows.

    Returns:
        int64 tensor ``(K, n_slices)``.
    """
    if n_slices == 0:
        return torch.zeros((1, 0), dtype=torch.long)
    parts = []
    for first in range(n_units + 1):
        rest = compositions(n_slices - 1, n_units - first)
        parts.append(torch.cat([torch.full((rest.shape[0], 1), first), rest], dim=1))
    return torch.cat(parts)


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


def best_levels(table: Tensor, active: Tensor, full: bool = True) -> Tensor:
    """Each cell's best share levels for the objective ``sum_s table[b, s, u_s]``.

    Args:
        table: values ``(B, S, n_units + 1)`` of every slice at every level (NaN counts as
            -inf); entries of inactive slices are ignored.
        active: bool ``(B, S)``.
        full: search only allocations that use the whole cell and give every active slice at
            least one unit (with strict isolation an unallocated PRB serves nobody; the paper's
            objective is non-decreasing in x, so this loses nothing where the values are).
            ``False``: every point with ``sum u <= n_units``.

    Returns:
        int64 levels ``(B, S)``, 0 for inactive slices. Ties (within :data:`TIE_TOL`) go to the
        point nearest to equal shares, then to the first in lexicographic order.
    """
    n_cells, n_slices, n_values = table.shape
    n_units = n_values - 1
    levels = torch.zeros((n_cells, n_slices), dtype=torch.long)
    if n_slices == 0 or n_cells == 0:
        return levels
    values = torch.nan_to_num(table.double(), nan=-torch.inf)
    values = torch.where(active.unsqueeze(-1), values, torch.full_like(values, -torch.inf))
    values[..., 0] = torch.where(active, values[..., 0], torch.zeros_like(values[..., 0]))
    if full:
        values[..., 0] = torch.where(active, -torch.inf, values[..., 0])  # at least one unit
    comps = compositions(n_slices, n_units)
    if full:
        comps = comps[comps.sum(1) == n_units]
    n_active = active.sum(-1, keepdim=True).clamp(min=1)
    equal = active.double() * (n_units / n_active)  # (B, S) in units
    block = max(1, _LOOKUP_BUDGET // comps.shape[0])
    per_slice = values.transpose(0, 1)  # (S, B, U + 1)
    comps_d = comps.double()
    for a in range(0, n_cells, block):
        cells = slice(a, a + block)
        score = per_slice[0, cells].index_select(1, comps[:, 0])
        for s in range(1, n_slices):
            score += per_slice[s, cells].index_select(1, comps[:, s])
        top = score.max(dim=1, keepdim=True).values
        near = score >= top - TIE_TOL
        dist = (comps_d**2).sum(1) - 2 * equal[cells] @ comps_d.T  # + |equal|^2, same per cell
        pick = torch.where(near, dist, torch.full_like(dist, torch.inf)).argmin(dim=1)
        levels[cells] = comps[pick]
    return torch.where(active.any(-1, keepdim=True), levels, torch.zeros_like(levels))
