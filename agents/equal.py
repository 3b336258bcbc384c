"""Equal shares: the floor every result is read against."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import Agent
from slicesim.sim import equal_split

__all__ = ["EqualAgent"]


class EqualAgent(Agent):
    """Every active slice of a cell gets the same share; each cell's shares sum to 1.

    It needs no traffic knowledge and no learning: a controller that does not beat it is not
    worth deploying.
    """

    name = "equal"
    role = "floor"

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return equal_split(info["active_next"])
