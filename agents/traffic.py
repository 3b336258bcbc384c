"""The traffic-proportional baseline of the paper (Section V-C, "Traffic scheme")."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import Agent
from slicesim.sim import proportional_split

__all__ = ["TrafficAgent"]


class TrafficAgent(Agent):
    """Shares proportional to each slice's traffic in the coming period.

    Uses ``info["demand_next"]``: the perfect knowledge of the traffic amount that the paper
    assumes for this baseline. A cell with no expected traffic gets equal shares.
    """

    name = "traffic"
    role = "baseline"

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return proportional_split(info["demand_next"], info["active_next"])
