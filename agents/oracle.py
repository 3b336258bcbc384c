"""The oracle of the paper (Section V-C): exhaustive grid search of the estimator.

It learns the same estimator as IDLA (same collection in H0), then picks, per cell, the best
point of the simplex grid with step 0.05 - every grid point of every cell is considered, exactly.
Like the paper's oracle it optimises the *estimated* utility; it sees nothing of the simulator.
"""

from __future__ import annotations

import torch

from agents.idla.agent import IDLAAgent
from agents.oracle_search import grid_search

__all__ = ["OracleAgent"]


class OracleAgent(IDLAAgent):
    """IDLA's estimator with exhaustive search instead of the Lagrangian method.

    Args:
        step: grid step of the shares (paper: 0.05).
        **kwargs: as :class:`agents.IDLAAgent` (collection, training, estimator).
    """

    name = "oracle"

    def __init__(self, step: float = 0.05, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.step = step

    def search(self, z: torch.Tensor, active: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        assert self.model is not None
        return grid_search(self.model, z, active, step=self.step)
