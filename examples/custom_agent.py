"""A custom slicing policy in a few lines, run in the paper benchmark beside the built-in agents.

    slicesim bench --quick --agents traffic --agent examples.custom_agent:Headroom --out runs/x

A policy is any class with ``act(obs, info) -> shares`` (shape (n_cells, n_slices)); it may
also have ``reset(spec, seed)`` and ``observe(obs, action, reward, next_obs, info)``.
"""

import numpy as np


class Headroom:
    """Traffic-proportional shares, but every active slice keeps at least 15 % of the PRBs."""

    floor = 0.15

    def act(self, obs: np.ndarray, info: dict) -> np.ndarray:
        active = info["active_next"]
        demand = np.where(active, info["demand_next"], 0.0)
        share = demand / np.maximum(demand.sum(axis=1, keepdims=True), 1e-9)
        n = active.sum(axis=1, keepdims=True)
        x = self.floor * active + (1 - self.floor * n) * share
        return np.where(n > 0, x, 0.0)
