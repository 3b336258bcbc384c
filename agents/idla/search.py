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
   exhaustive search of the fine grid (``tests/test_solve.py``).

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
from agents.idla.dataset import N_CONTEXT
from agents.idla.estimator import CHUNK_ROWS, frozen_model
from slicesim.sim import equal_split

__all__ = ["check_inputs", "grid_log_values", "solve"]


def grid_log_values(model: nn.Module, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
    """``log(1 + f(x[a, v], z[a]))`` for rows ``z (A, 12)`` and shares ``x (A, V)``: ``(A, V)``.

    Uses ``model.grid_log_values`` when the model has it (the paper's MLP and ensembles:
    the first layer's z part once per row); any other ``nn.Module`` is called on ``[x, z]``
    rows of shape ``(N, 13)``.
    """
    fast = getattr(model, "grid_log_values", None)
    if callable(fast):
        return fast(z, x, chunk_rows)
    n_rows, n_values = x.shape
    out = torch.empty((n_rows, n_values))
    per_call = max(1, chunk_rows // max(n_values, 1))
    for a in range(0, n_rows, per_call):
        zc, xc = z[a : a + per_call], x[a : a + per_call]
        rows = torch.cat([xc.reshape(-1, 1), zc.repeat_interleave(n_values, dim=0)], dim=1)
        f = model(rows).reshape(-1)
        if f.numel() != rows.shape[0]:
            raise ValueError(f"model must map (N, 13) to (N, 1) or (N,), got {tuple(f.shape)}")
        out[a : a + per_call] = torch.log1p(f.reshape(xc.shape))
    return out


def check_inputs(
    z: Tensor,
    active: Tensor,
    x0: Tensor | None = None,
    lower: Tensor | None = None,
    upper: Tensor | None = None,
) -> None:
    """The checks of :func:`solve`'s arrays (also used by the grid oracle).

    Raises:
        ValueError: naming the argument, its expected shape or range, and the offending entry.
    """
    if z.dim() != 3 or z.shape[-1] != N_CONTEXT:
        raise ValueError(f"z must have shape (B, S, {N_CONTEXT}), got {tuple(z.shape)}")
    shape = tuple(z.shape[:2])
    if tuple(active.shape) != shape:
        raise ValueError(f"active must have shape {shape}, got {tuple(active.shape)}")
    bad = ~torch.isfinite(z).all(-1) & active.bool()
    if bad.any():
        b, s = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"z[{b}, {s}] (cell {b}, slice column {s}) is not finite")
    for name, value in (("x0", x0), ("lower", lower), ("upper", upper)):
        if value is None:
            continue
        if tuple(value.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
        outside = ~((value >= 0) & (value <= 1))  # NaN fails too
        if outside.any():
            b, s = (int(i) for i in outside.nonzero()[0])
            raise ValueError(f"{name}[{b}, {s}] = {float(value[b, s])}: allowed [0, 1]")


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
        model: QoS estimator: any ``nn.Module`` mapping rows ``[x, z]`` of shape (N, 13) to
            (N, 1) or (N,) in [0, 1]; never modified (evaluated without gradients, in eval mode).
        z: context ``(B, S, 12)``, normalised as the estimator was trained; finite where active.
        active: bool ``(B, S)``; inactive slices get 0.
        x0: ``(B, S)`` shares that ties go to (last period's solution); default equal shares.
        step: coarse grid (1 / step must be an integer).
        fine: second-pass resolution (step / fine must be an integer); ``fine = step`` skips it.
        full: use the whole cell, every active slice at least ``fine`` (an unallocated PRB
            serves nobody under strict isolation); ``False``: any ``sum x <= 1``.
        span: fine moves of up to ``span * fine`` per slice (default ``step / fine - 1``).
        lower, upper: optional bounds ``(B, S)`` on each share (a trust region).
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
    check_inputs(z, active, x0, lower, upper)
    if model.training:  # dropout or batch-norm estimators must not be sampled while searched
        model = frozen_model(model)
    act = active.numpy()
    bounds = (
        None if lower is None else lower.double().numpy(),
        None if upper is None else upper.double().numpy(),
    )
    with torch.no_grad():
        z_act = z.detach().float()[active]
        prefer = _prefer(act, x0)
        levels = full_levels(act, n_units) if full else np.arange(n_units + 1)
        table = np.full((*act.shape, n_units + 1), -np.inf)
        table[..., levels] = _table(
            model,
            z_act,
            act,
            np.broadcast_to(levels / n_units, (len(z_act), len(levels))),
            chunk_rows,
        )
        table = _bounded(table, np.arange(n_units + 1) / n_units, *bounds)
        coarse = best_levels(table, act, full=full, prefer=prefer * n_units).numpy()
        x = coarse / n_units
        centre = np.take_along_axis(table, coarse[..., None], axis=-1)[..., 0]
        lost = act.any(-1) & ~np.isfinite(np.where(act, centre, 0.0).sum(-1))
        if span > 0:
            x = _refine(
                model,
                z_act,
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


def _table(
    model: nn.Module, z_act: Tensor, active: np.ndarray, x_act: np.ndarray, chunk_rows: int
) -> np.ndarray:
    """``log(1 + f)`` at the shares ``x_act (A, V)`` of every active row, as ``(B, S, V)``."""
    table = np.zeros((*active.shape, x_act.shape[1]))
    if len(z_act):
        x = torch.from_numpy(np.ascontiguousarray(x_act, dtype=np.float32))
        values = grid_log_values(model, z_act, x, chunk_rows).numpy()
        table[active] = np.where(np.isnan(values), -np.inf, values)
    return table


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
    z_act: Tensor,
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
    table[..., moved] = _table(
        model, z_act, active, np.clip(x[active][:, moved], 0.0, 1.0), chunk_rows
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
