"""Exploration around ``idla``'s decisions (:class:`~agents.idla.config.ExploreConfig`) and the
inputs of a decision it explores from (:class:`Decision`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.idla.config import ExploreConfig
from agents.idla.ensemble import EnsembleEstimator, Estimator

__all__ = ["Decision", "move_scores", "perturb"]


@dataclass(frozen=True)
class Decision:
    """The inputs of one decision: its period, the contexts z, the slice set and the start."""

    period: int
    z: torch.Tensor
    active: torch.Tensor
    x0: torch.Tensor


def perturb(
    x: np.ndarray,
    active: np.ndarray,
    explore: ExploreConfig,
    rng: np.random.Generator,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """Move ``explore.step`` of the share between two active slices of a cell, in each cell
    with probability ``explore.rate``: the pair whose move ``scores`` (:func:`move_scores`)
    values most, where that is a gain, else (no scores) a random pair. Every share stays
    >= 0.01. Draws from ``rng`` in the same order whether or not there are scores."""
    x = x.copy()
    chosen = rng.random(len(x)) < explore.rate
    keys = rng.random(x.shape)  # a random pair of active slices per cell
    cells = np.flatnonzero(chosen & (active.sum(axis=1) >= 2))
    for cell in cells:
        if scores is not None:
            best = np.unravel_index(np.argmax(scores[cell]), scores[cell].shape)
            if not scores[cell][best] > 0:
                continue
            give, take = int(best[0]), int(best[1])
        else:
            order = np.argsort(np.where(active[cell], keys[cell], 2.0))
            give, take = order[0], order[1]
        moved = min(explore.step, x[cell, give] - 0.01)
        if moved > 0:
            x[cell, give] -= moved
            x[cell, take] += moved
    return x


def move_scores(
    model: Estimator, decision: Decision, x: np.ndarray, active: np.ndarray, explore: ExploreConfig
) -> np.ndarray | None:
    """Per cell, the optimistic value (members' mean + ``explore.optimism`` x their std) of
    moving ``explore.step`` from slice i to slice j: ``(C, S, S)``, -inf where no move; None
    without an ensemble of two or more members."""
    if not isinstance(model, EnsembleEstimator) or model.config.members < 2:
        return None
    step = explore.step
    shares = torch.from_numpy(x[active].astype(np.float32))
    grid = torch.stack([shares - step, shares, shares + step], dim=1).clamp(0.0, 1.0)
    with torch.no_grad():
        g = model.members(grid, decision.z[decision.active]).numpy()  # (M, A, 3)
    down, up = np.zeros((2, len(g), *x.shape))
    down[:, active], up[:, active] = g[..., 0] - g[..., 1], g[..., 2] - g[..., 1]
    change = down[:, :, :, None] + up[:, :, None, :]  # (M, C, give, take)
    score = change.mean(axis=0) + explore.optimism * change.std(axis=0)
    allowed = active[:, :, None] & active[:, None, :] & ~np.eye(x.shape[1], dtype=bool)
    return np.where(allowed & (x[:, :, None] > 0.01 + step), score, -np.inf)
