"""The oracle of the paper (Section V-C): exhaustive grid search of IDLA's estimator.

It learns the same estimator as the paper's IDLA (same collection in H0), then picks, per cell,
the best point of the simplex grid with step 0.05. Like the paper's oracle it optimises the
*estimated* utility; it measures the estimator, not the network (the simulator oracles of
:mod:`agents.sim_oracle` do that). The objective ``sum_{s active} log(1 + f(x_s, z_s))`` is a sum
of per-slice terms, so each active slice is evaluated once at the ``1/step + 1`` grid values (one
batched model call for all cells) and an exact knapsack over the slices
(:func:`agents.grid.best_levels`) finds the best grid point: the same point as scoring all of
them.

Ties: where the estimator is saturated (f = 1 at many shares) many points tie; they go to the
point nearest to equal shares among the allocations that use the whole cell and give every active
slice at least one step (an unallocated PRB serves nobody under strict isolation).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from agents.grid import best_levels, grid_units
from agents.idla.agent import IDLAPaperAgent
from agents.idla.estimator import CHUNK_ROWS
from agents.idla.values import check_inputs, value_table

__all__ = ["OracleAgent", "grid_search"]


def grid_search(
    model: nn.Module,
    z: Tensor,
    active: Tensor,
    step: float = 0.05,
    full: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> Tensor:
    """Best grid shares per cell for the estimator utility, by exhaustive search.

    Args:
        model: QoS estimator ``(N, 1 + W) -> (N, 1)`` in ``[0, 1]``; never modified.
        z: Context features ``(B, S, W)``, normalised as the estimator was trained.
        active: Bool mask ``(B, S)``; inactive slices get share 0.
        step: Grid spacing; ``1 / step`` must be an integer (paper: 0.05).
        full: Only allocations that use the whole cell, every active slice >= ``step``
            (:func:`agents.grid.best_levels`); ``False`` searches every point with sum <= 1.
        chunk_rows: Rows per model call.

    Returns:
        float32 shares ``(B, S)`` on the grid, row sums ``<= 1``.
    """
    n_units = grid_units(step)
    check_inputs(model, z, active)
    levels = np.arange(n_units + 1) / n_units
    table = value_table(model, z, active.bool().numpy(), levels, chunk_rows)
    return best_levels(table, active.bool(), full=full).to(torch.float32) / n_units


class OracleAgent(IDLAPaperAgent):
    """The paper's IDLA estimator with exhaustive grid search instead of the Lagrangian method.

    Args:
        step: grid step of the shares (paper: 0.05).
        **kwargs: as :class:`agents.idla.IDLAPaperAgent` (collection, training, estimator).
    """

    name = "oracle"

    def __init__(self, step: float = 0.05, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.step = step

    def search(self, z: Tensor, active: Tensor, x0: Tensor) -> Tensor:
        return grid_search(self.estimator, z, active, step=self.step)
