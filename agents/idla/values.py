"""The one way IDLA's searches evaluate the estimator: ``log(1 + f(x, z))`` per (cell, slice).

Every decision rule (the fast solver :func:`agents.idla.solve`, the paper's primal-dual
:class:`agents.idla.solver.LagrangianSolver`, the grid oracle
:func:`agents.idla.oracle.grid_search`) checks its inputs with :func:`check_inputs` and reads
the estimator through this module:

* :func:`model_rows`: ``f`` on rows ``[x, z]`` (any ``nn.Module`` mapping ``(N, 1 + W)`` to
  ``(N, 1)`` or ``(N,)`` in [0, 1]; W is the context width, 2H + 2 for H periods of history);
* :func:`log_values`: ``log(1 + f)`` at V shares for each of A rows, chunked, through the
  estimator's own fast grid path where it has one (:meth:`QosEstimator.grid_log_values`);
* :func:`value_table`: the same laid out per (cell, slice) for the exact knapsack of
  :mod:`agents.grid`, ``-inf`` where the estimator returned NaN;
* :func:`estimated_utility`: the objective of Problem 2 (eq. 11) at given shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from agents.idla.estimator import CHUNK_ROWS, QosEstimator, frozen_model

__all__ = [
    "GridEstimator",
    "check_inputs",
    "chunked",
    "estimated_utility",
    "log_values",
    "model_rows",
    "value_table",
]


@runtime_checkable
class GridEstimator(Protocol):
    """An estimator with its own fast path for many shares per context (the paper's MLP:
    :meth:`QosEstimator.grid_log_values`); :func:`log_values` uses it where a model has it."""

    def grid_log_values(self, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
        """``log(1 + f(x[a, v], z[a]))`` for ``z (A, W)`` and ``x (A, V)``: ``(A, V)``."""
        ...


def model_rows(model: nn.Module, x: Tensor, z: Tensor) -> Tensor:
    """``f(x, z)`` for shares ``x (N,)`` and contexts ``z (N, W)``, flattened to ``(N,)``.

    Raises:
        ValueError: the model does not return one value per row.
    """
    out = model(torch.cat([x.unsqueeze(1), z], dim=1))
    if out.numel() != x.shape[0]:
        raise ValueError(
            f"model must map (N, {1 + z.shape[-1]}) to (N, 1) or (N,), got {tuple(out.shape)}"
        )
    return out.reshape(-1)


def chunked(fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, z: Tensor, chunk: int) -> Tensor:
    """Apply the row function ``fn(x, z) -> (n,)`` chunk by chunk (20-50 k rows: fastest)."""
    if x.shape[0] <= chunk:
        return fn(x, z)
    return torch.cat([fn(x[a : a + chunk], z[a : a + chunk]) for a in range(0, x.shape[0], chunk)])


def log_values(model: nn.Module, z: Tensor, x: Tensor, chunk_rows: int = CHUNK_ROWS) -> Tensor:
    """``log(1 + f(x[a, v], z[a]))`` for contexts ``z (A, W)`` and shares ``x (A, V)``: ``(A, V)``.

    A :class:`GridEstimator` (the paper's MLP: the first layer's z part once per row) takes its
    own path; any other ``nn.Module`` is called on ``[x, z]`` rows (:func:`model_rows`).
    """
    if isinstance(model, GridEstimator):
        return model.grid_log_values(z, x, chunk_rows)
    n_rows, n_values = x.shape
    out = torch.empty((n_rows, n_values))
    per_call = max(1, chunk_rows // max(n_values, 1))
    for a in range(0, n_rows, per_call):
        zc, xc = z[a : a + per_call], x[a : a + per_call]
        f = model_rows(model, xc.reshape(-1), zc.repeat_interleave(n_values, dim=0))
        out[a : a + per_call] = torch.log1p(f.reshape(xc.shape))
    return out


def value_table(
    model: nn.Module, z: Tensor, active: np.ndarray, x: np.ndarray, chunk_rows: int = CHUNK_ROWS
) -> np.ndarray:
    """``log(1 + f)`` of every active (cell, slice) at its own V shares: ``(B, S, V)``.

    Args:
        model: the estimator, evaluated without gradients (a copy in eval mode if it is training).
        z: contexts ``(B, S, W)``.
        active: bool ``(B, S)``; inactive rows are 0 (the knapsack ignores them).
        x: shares ``(A, V)`` of the A active rows in row-major order, or ``(V,)`` for all.

    Returns:
        float64 ``(B, S, V)``; ``-inf`` where the estimator returned NaN.
    """
    if model.training:
        model = frozen_model(model)
    table = np.zeros((*active.shape, np.shape(x)[-1]))
    z_act = z.detach().float()[torch.from_numpy(active)]
    if len(z_act):
        shares = np.broadcast_to(x, (len(z_act), np.shape(x)[-1]))
        xt = torch.from_numpy(np.ascontiguousarray(shares, dtype=np.float32))
        with torch.no_grad():
            values = log_values(model, z_act, xt, chunk_rows).numpy()
        table[active] = np.where(np.isnan(values), -np.inf, values)
    return table


def estimated_utility(
    model: nn.Module, z: Tensor, active: Tensor, x: Tensor, chunk_rows: int = 32768
) -> Tensor:
    """The estimated objective of eq. 11, ``sum_{s active} log(1 + f(x_s, z_s))``, per cell.

    Args:
        model: the estimator (a frozen copy is evaluated; the model is never modified).
        z: contexts ``(..., S, W)``, broadcast against ``x``.
        active: bool ``(..., S)``, broadcast against ``x``.
        x: shares ``(..., S)``; extra leading dimensions (e.g. several candidates per cell).

    Returns:
        ``(...)``: one value per row of ``x``.
    """
    if model.training or any(p.requires_grad for p in model.parameters()):
        model = frozen_model(model)
    with torch.no_grad():
        return _utility(model, z.float(), active, x.float(), chunk_rows)


def _utility(model: nn.Module, z: Tensor, active: Tensor, x: Tensor, chunk: int) -> Tensor:
    """:func:`estimated_utility` without the copy (the model is frozen already)."""
    mask = active.expand_as(x)
    zr = z.expand(*x.shape, z.shape[-1])[mask]
    vals = chunked(lambda xc, zc: torch.log1p(model_rows(model, xc, zc)), x[mask], zr, chunk)
    return torch.zeros_like(x).masked_scatter(mask, vals).sum(-1)


def check_inputs(
    model: nn.Module,
    z: Tensor,
    active: Tensor,
    x0: Tensor | None = None,
    lower: Tensor | None = None,
    upper: Tensor | None = None,
    *,
    range_check: bool = True,
) -> None:
    """The checks of a search's arrays against each other and the model.

    Args:
        model: an estimator that declares its input width (a :class:`QosEstimator`) fixes the
            context width W = ``n_inputs - 1``; any other model takes any W.
        range_check: check ``x0`` (and the bounds) lie in [0, 1]; the primal-dual solver
            projects any start instead.

    Raises:
        ValueError: naming the argument, its expected shape or range, and the offending entry.
    """
    width = model.n_inputs - 1 if isinstance(model, QosEstimator) else None
    if z.dim() != 3 or (width is not None and z.shape[-1] != width):
        expected = f"(B, S, {width})" if width is not None else "(B, S, W)"
        raise ValueError(f"z must have shape {expected}, got {tuple(z.shape)}")
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
        if range_check and outside.any():
            b, s = (int(i) for i in outside.nonzero()[0])
            raise ValueError(f"{name}[{b}, {s}] = {float(value[b, s])}: allowed [0, 1]")
