"""The traffic-proportional baseline of the paper (Section V-C, "Traffic scheme")."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import Agent

__all__ = ["TrafficAgent", "equal_shares"]


def equal_shares(active: np.ndarray) -> np.ndarray:
    """Equal shares among each cell's active slices (rows sum to 1, or 0 without any)."""
    active = np.asarray(active, dtype=float)
    return active / np.maximum(active.sum(axis=1, keepdims=True), 1.0)


class TrafficAgent(Agent):
    """Shares proportional to each slice's traffic in the coming period.

    Uses ``info["demand_next"]``: the perfect knowledge of the traffic amount that the paper
    assumes for this baseline. A cell with no expected traffic gets equal shares.
    """

    name = "traffic"

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        active = np.asarray(info["active_next"], dtype=bool)
        demand = np.where(active, np.asarray(info["demand_next"], dtype=float), 0.0)
        total = demand.sum(axis=1, keepdims=True)
        share = demand / np.where(total > 0, total, 1.0)
        return np.where(total > 0, share, equal_shares(active))
