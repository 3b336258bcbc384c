"""IDLA's fast solver: the estimator on a share grid, exact dynamic programming, then a finer pass.

Problem 2 of the paper (eq. 11) for every cell b: maximise ``sum_{s active} log(1 + f(x_s, z_s))``
subject to ``sum_s x_s <= 1`` (or ``= 1``), ``x >= 0``. The objective is separable over the slices
of a cell, so:

1. the estimator is evaluated once for every active (cell, slice) at the ``1/step + 1`` shares
   of a coarse grid (one batched forward pass; for the paper's MLP the z part of the first layer
   is computed once per row, not once per share);
2. an exact max-plus knapsack over the slices (:func:`agents.grid.knapsack`, O(S U^2) per cell)
   picks the best coarse point - the same point as scoring all C(U + S, S) grid points;
3. around it every slice may move by ``k * fine`` for ``|k| <= span`` (default: up to the
   neighbouring coarse points, ``step / fine - 1``), evaluated in a second forward pass and chosen
   by the same exact knapsack over the offsets. On random MLPs this lands within 1e-3 of an
   exhaustive search of the fine grid (``tests/agents/idla/test_search.py``).

That is two forward passes instead of the primal-dual method's 20 forward + backward passes
(:class:`agents.idla.solver.LagrangianSolver`, kept for ``idla-paper``), and no autograd. Ties
(a saturated estimator) go to the point nearest ``x0``. Optional per-(cell, slice) bounds keep a
slice near ``x0`` where the estimator has seen little data (a trust region).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from agents.grid import TIE_EPS, best_levels, full_levels, grid_units, knapsack
from agents.idla.estimator import CHUNK_ROWS, frozen_model
from agents.idla.values import check_inputs, value_table
from slicesim.sim import equal_split

__all__ = ["solve"]


def solve(
    model: nn.Module,
    z: Tensor,
    active: Tensor,
    x0: Tensor | None = None,
    *,
    step: float = 0.05,
    fine: float = 0.01,
    full: bool = True,
    span: int | None = None,
    lower: Tensor | None = None,
    upper: Tensor | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Tensor:
    """Best shares per cell for the estimated utility (module docstring).

    Args:
        model: QoS estimator: any ``nn.Module`` mapping rows ``[x, z]`` of shape (N, 1 + W) to
            (N, 1) or (N,) in [0, 1]; never modified (evaluated without gradients, in eval mode).
        z: context ``(B, S, W)`` (W = 12 for the paper's H = 5), normalised as the estimator
            was trained; finite where active.
        active: bool ``(B, S)``; inactive slices get 0.
        x0: ``(B, S)`` shares that ties go to (last period's solution); default equal shares.
        step: coarse grid (1 / step must be an integer).
        fine: second-pass resolution (step / fine must be an integer); ``fine = step`` skips it.
        full: use the whole cell, every active slice at least ``fine`` (an unallocated PRB
            serves nobody under strict isolation); ``False``: any ``sum x <= 1``.
        span: fine moves of up to ``span * fine`` per slice (default ``step / fine - 1``).
        lower: optional lower bounds ``(B, S)`` on each share (a trust region).
        upper: optional upper bounds ``(B, S)`` on each share.
        chunk_rows: model rows per call.

    Returns:
        float32 shares ``(B, S)``: ``x >= 0``, rows summing to 1 (``full``) or at most 1,
        inactive slices and cells without an active slice exactly 0. A cell whose bounds leave
        no point of the coarse grid gets ``x0`` (or equal shares) as it is.

    Raises:
        ValueError: wrong shapes, a non-finite z of an active slice, x0 or bounds outside
            [0, 1], a step or fine that does not divide, a negative span, chunk_rows < 1.
    """
    n_units = grid_units(step)
    if not 0.0 < fine <= step:
        raise ValueError(f"fine = {fine!r} is out of range: allowed (0, step = {step}]")
    ratio = round(step / fine)
    if abs(ratio * fine - step) > 1e-9:
        raise ValueError(f"fine = {fine!r} must divide step = {step!r}")
    span = ratio - 1 if span is None else span
    if span < 0 or chunk_rows < 1:
        raise ValueError(f"span = {span} and chunk_rows = {chunk_rows}: allowed >= 0 and >= 1")
    active = active.bool()
    check_inputs(model, z, active, x0, lower, upper)
    if model.training:  # dropout or batch-norm estimators must not be sampled while searched
        model = frozen_model(model)
    act = active.numpy()
    bounds = (
        None if lower is None else lower.double().numpy(),
        None if upper is None else upper.double().numpy(),
    )
    with torch.no_grad():
        prefer = _prefer(act, x0)
        levels = full_levels(act, n_units) if full else np.arange(n_units + 1)
        table = np.full((*act.shape, n_units + 1), -np.inf)
        table[..., levels] = value_table(model, z, act, levels / n_units, chunk_rows)
        table = _bounded(table, np.arange(n_units + 1) / n_units, *bounds)
        coarse = best_levels(table, act, full=full, prefer=prefer * n_units).numpy()
        x = coarse / n_units
        centre = np.take_along_axis(table, coarse[..., None], axis=-1)[..., 0]
        lost = act.any(-1) & ~np.isfinite(np.where(act, centre, 0.0).sum(-1))
        if span > 0:
            x = _refine(
                model,
                z,
                act,
                x,
                np.where(lost[:, None], 0.0, centre),
                prefer,
                span,
                fine,
                full,
                bounds,
                chunk_rows,
            )
        x[lost] = prefer[lost]  # bounds with no grid point: keep the preferred shares
    return torch.from_numpy(np.where(act, x, 0.0).astype(np.float32))


def _prefer(active: np.ndarray, x0: Tensor | None) -> np.ndarray:
    """Where ties go: ``x0``, or equal shares over the active slices."""
    return equal_split(active) if x0 is None else x0.detach().double().numpy()


def _bounded(
    table: np.ndarray, x: np.ndarray, lower: np.ndarray | None, upper: np.ndarray | None
) -> np.ndarray:
    """-inf where the share ``x`` (``(V,)`` or ``(B, S, V)``) is outside the bounds."""
    tol = 1e-9
    if lower is not None:
        table = np.where(x >= lower[..., None] - tol, table, -np.inf)
    if upper is not None:
        table = np.where(x <= upper[..., None] + tol, table, -np.inf)
    return table


def _refine(
    model: nn.Module,
    z: Tensor,
    active: np.ndarray,
    coarse: np.ndarray,
    centre: np.ndarray,
    prefer: np.ndarray,
    span: int,
    fine: float,
    full: bool,
    bounds: tuple[np.ndarray | None, np.ndarray | None],
    chunk_rows: int,
) -> np.ndarray:
    """Moves of ``k * fine`` (``|k| <= span``) around ``coarse``, chosen by an exact knapsack.

    ``centre`` holds the values at ``coarse`` (known from the coarse pass).
    """
    offsets = np.arange(-span, span + 1)
    x = coarse[..., None] + offsets * fine  # (B, S, 2 span + 1)
    moved = offsets != 0
    table = np.empty(x.shape)
    table[..., moved] = value_table(
        model, z, active, np.clip(x[active][:, moved], 0.0, 1.0), chunk_rows
    )
    table[..., span] = centre
    low = fine - 1e-9 if full else -1e-9
    table = np.where((x >= low) & (x <= 1.0 + 1e-9), table, -np.inf)
    table = _bounded(table, x, *bounds)
    table = np.where(active[..., None], table, np.where(offsets == 0, 0.0, -np.inf))
    table -= TIE_EPS * ((x - prefer[..., None]) / fine) ** 2
    # levels k + span; the offsets may add the units the coarse point left (0 when it is full)
    n_fine = round(1.0 / fine)
    spare = n_fine - np.round(coarse * n_fine).astype(np.int64).sum(-1)
    levels = knapsack(table, active.shape[1] * span + spare, exact=full)
    return coarse + (levels - span) * fine
