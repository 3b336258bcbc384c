"""Fixed allocations used by ``slicesim simulate`` (the agents live in the ``agents`` package)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from slicesim.sim.engine import Network

__all__ = ["POLICIES", "equal_shares", "traffic_shares"]


def equal_shares(net: Network) -> np.ndarray:
    """Every active slice of a cell gets the same share; the shares of a cell sum to 1."""
    active = net.active_mask().astype(float)
    return active / np.maximum(active.sum(axis=1, keepdims=True), 1.0)


def traffic_shares(net: Network) -> np.ndarray:
    """Shares proportional to each slice's traffic in the coming period (perfect knowledge)."""
    demand = net.expected_demand_mbps()
    total = demand.sum(axis=1, keepdims=True)
    return np.where(total > 0, demand / np.where(total > 0, total, 1.0), equal_shares(net))


POLICIES: dict[str, Callable[[Network], np.ndarray]] = {
    "equal": equal_shares,
    "traffic": traffic_shares,
}
