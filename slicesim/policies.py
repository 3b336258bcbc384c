"""Fixed allocations: the share rules used by ``slicesim simulate`` and by the traffic agent."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from slicesim.sim.engine import Network

__all__ = ["POLICIES", "equal_shares", "equal_split", "proportional_split", "traffic_shares"]


def equal_split(active: np.ndarray) -> np.ndarray:
    """Equal shares among each cell's active slices (rows sum to 1, or 0 without any)."""
    active = np.asarray(active, dtype=float)
    return active / np.maximum(active.sum(axis=1, keepdims=True), 1.0)


def proportional_split(demand: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Shares proportional to each active slice's demand; equal shares in a cell without any."""
    active = np.asarray(active, dtype=bool)
    demand = np.where(active, np.asarray(demand, dtype=float), 0.0)
    total = demand.sum(axis=1, keepdims=True)
    return np.where(total > 0, demand / np.where(total > 0, total, 1.0), equal_split(active))


def equal_shares(net: Network) -> np.ndarray:
    """Every active slice of a cell gets the same share; the shares of a cell sum to 1."""
    return equal_split(net.active_mask())


def traffic_shares(net: Network) -> np.ndarray:
    """Shares proportional to each slice's traffic in the coming period (perfect knowledge)."""
    return proportional_split(net.expected_demand_mbps(), net.active_mask())


POLICIES: dict[str, Callable[[Network], np.ndarray]] = {
    "equal": equal_shares,
    "traffic": traffic_shares,
}
