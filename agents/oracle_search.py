"""Exhaustive grid search of the estimator's utility, the paper's Oracle scheme (Section V-C).

Every cell's shares are searched over the whole simplex grid ``{x in step * N^S : sum x <= 1}``.
The objective ``sum_{s active} log(1 + f(x_s, z_s))`` is a sum of per-slice terms, so each active
slice is evaluated once at the ``1/step + 1`` grid values (one batched model call for all cells),
and every grid point is then scored by table lookup and summation: the same maximiser as
evaluating the model at every point, with far fewer model rows (DESIGN section 9).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from agents.idla.solver import N_FEATURES, frozen_model, model_rows

_LOOKUP_BUDGET = 1 << 23  # (cells x grid points) scored per block: 32 MB of float32


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


def grid_search(
    model: nn.Module, z: Tensor, active: Tensor, step: float = 0.05, chunk_rows: int = 32768
) -> Tensor:
    """Best grid shares per cell for the estimator utility, by exhaustive search.

    Args:
        model: QoS estimator ``(N, 13) -> (N, 1)`` in ``[0, 1]``; copied, never modified.
        z: Context features ``(B, S, 12)``, normalised as the estimator was trained.
        active: Bool mask ``(B, S)``; inactive slices get share 0.
        step: Grid spacing; ``1 / step`` must be an integer (paper: 0.05).
        chunk_rows: Rows per model call.

    Returns:
        float32 shares ``(B, S)`` on the grid, row sums ``<= 1``. Ties go to the first maximiser
        in lexicographic order of the integer grid coordinates.
    """
    n_units = _units(step)
    _check(z, active)
    frozen = frozen_model(model)
    with torch.no_grad():
        table = _value_table(frozen, z.detach().float(), active.bool(), n_units, chunk_rows)
        comps = compositions(active.shape[1], n_units)
        best = _argmax_blocks(table, comps)
    return comps[best].to(torch.float32) / n_units


def _units(step: float) -> int:
    """Grid units per whole resource; ``step`` must divide 1."""
    if not 0.0 < step <= 1.0:
        raise ValueError(f"step must be in (0, 1], got {step!r}")
    n_units = round(1.0 / step)
    if abs(n_units * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1 (1/step an integer), got {step!r}")
    return n_units


def _check(z: Tensor, active: Tensor) -> None:
    """Shapes ``z (B, S, 12)`` and ``active (B, S)``."""
    if z.dim() != 3 or z.shape[-1] != N_FEATURES:
        raise ValueError(f"z must have shape (B, S, {N_FEATURES}), got {tuple(z.shape)}")
    if tuple(active.shape) != tuple(z.shape[:2]):
        raise ValueError(f"active must have shape {tuple(z.shape[:2])}, got {tuple(active.shape)}")


def _value_table(model: nn.Module, z: Tensor, active: Tensor, n_units: int, chunk: int) -> Tensor:
    """``log(1 + f(u / n_units, z_s))`` per cell, slice and unit u, shape ``(B, S, n_units + 1)``.

    Inactive slices score 0 at 0 units and -inf elsewhere, so any grid point that gives them a
    share loses; NaN model outputs score -inf.
    """
    n_values = n_units + 1
    grid = torch.arange(n_values, dtype=torch.float32) / n_units
    z_act = z[active]  # one row per active (cell, slice)
    per_call = max(1, chunk // n_values)
    vals = [
        _grid_values(model, z_act[a : a + per_call], grid)
        for a in range(0, z_act.shape[0], per_call)
    ]
    table = torch.full((*active.shape, n_values), -torch.inf)
    table[..., 0] = 0.0
    if vals:
        table[active] = torch.nan_to_num(torch.cat(vals), nan=-torch.inf)
    return table


def _grid_values(model: nn.Module, z: Tensor, grid: Tensor) -> Tensor:
    """``log(1 + f(grid_u, z_a))`` for slices ``z (A, 12)``, shape ``(A, len(grid))``."""
    x_rows = grid.repeat(z.shape[0])
    z_rows = z.repeat_interleave(grid.shape[0], dim=0)
    return torch.log1p(model_rows(model, x_rows, z_rows)).view(z.shape[0], grid.shape[0])


def _argmax_blocks(table: Tensor, comps: Tensor) -> Tensor:
    """Index into ``comps`` of each cell's best grid point, scoring cells block by block."""
    n_cells, n_slices, _ = table.shape
    if n_slices == 0:
        return torch.zeros(n_cells, dtype=torch.long)
    block = max(1, _LOOKUP_BUDGET // comps.shape[0])
    best = torch.empty(n_cells, dtype=torch.long)
    per_slice = table.transpose(0, 1)  # (S, B, U + 1)
    for a in range(0, n_cells, block):
        score = per_slice[0, a : a + block].index_select(1, comps[:, 0])
        for s in range(1, n_slices):
            score += per_slice[s, a : a + block].index_select(1, comps[:, s])
        best[a : a + block] = score.argmax(dim=1)
    return best
