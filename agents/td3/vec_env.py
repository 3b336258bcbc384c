"""The cell-wise view TD3 learns on: per-cell spaces, the action map, and the training VecEnv."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from slicesim.config import ScenarioConfig

__all__ = [
    "MIN_WEIGHT",
    "CellSpaces",
    "ShareVecEnv",
    "cell_spaces",
    "cell_vec_env",
    "to_action",
    "to_shares",
]

MIN_WEIGHT = 1e-3
"""Least weight of an active slice before normalising (an all-zero row gives equal shares)."""


def to_shares(weights: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Actor weights in [0, 1], shape (n_cells, max_slices) -> valid PRB shares.

    Inactive slices get 0; active ones ``max(w, MIN_WEIGHT)`` normalised so each row sums to 1
    (rows without an active slice stay 0). Rows sum to 1, not <= 1: the scheduler isolates
    slices strictly, so an unallocated PRB serves nobody.
    """
    w = np.where(active, np.maximum(np.asarray(weights, dtype=np.float64), MIN_WEIGHT), 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def to_action(weights: np.ndarray, active: np.ndarray, pair: bool = False) -> np.ndarray:
    """Actor weights -> the env's action: shares (:func:`to_shares`), or with ``pair``
    (``sim.rrm_action = min_max``: weights (n_cells, 2 * max_slices)) the first half as the
    minimums (:func:`to_shares`) and the second as the maximums (at least the minimum), stacked
    to (n_cells, max_slices, 2)."""
    if not pair:
        return to_shares(weights, active)
    w = np.asarray(weights, dtype=np.float64)
    n = active.shape[1]
    low = to_shares(w[:, :n], active)
    high = np.where(active, np.maximum(np.clip(w[:, n:], 0.0, 1.0), low), 0.0)
    return np.stack([low, high], axis=-1)


def cell_spaces(n_obs: int, n_actions: int) -> tuple[spaces.Box, spaces.Box]:
    """One cell's observation ``(n_obs,)`` and action ``(n_actions,)`` spaces, both in [0, 1]."""
    obs = spaces.Box(0.0, 1.0, (n_obs,), np.float32)
    return obs, spaces.Box(0.0, 1.0, (n_actions,), np.float32)


class CellSpaces(gym.Env):
    """Placeholder sub-env carrying a cell's spaces: the online agents never step it."""

    def __init__(self, obs_space: spaces.Box, act_space: spaces.Box) -> None:
        self.observation_space, self.action_space = obs_space, act_space

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        raise RuntimeError("placeholder env: TD3 agents are stepped by agents.run")


class ShareVecEnv(VecEnvWrapper):
    """A per-cell VecEnv whose actions are actor weights, mapped to shares by :func:`to_action`.

    The active slices of each cell are read from the observation's ``active`` feature (the
    slices active in the coming period), so the map needs no info from the wrapped env.

    Args:
        venv: a :class:`slicesim.envs.CellVecEnv` (or any VecEnv with its spaces).
        active_index: index of the ``active`` feature on an observation's last axis.
        pair: actions of a minimum and a maximum per slice (``sim.rrm_action = min_max``).
    """

    def __init__(self, venv: VecEnv, active_index: int = 0, pair: bool = False) -> None:
        super().__init__(venv)
        self.pair = pair
        self.n_slices = int(np.prod(venv.action_space.shape or ())) // (2 if pair else 1)
        self.active_index = active_index
        self.active = np.ones((venv.num_envs, self.n_slices), dtype=bool)

    def _track(self, obs: np.ndarray) -> None:
        self.active = obs.reshape(self.num_envs, self.n_slices, -1)[:, :, self.active_index] > 0.5

    def reset(self) -> np.ndarray:
        """Reset the wrapped env and note each cell's active slices."""
        obs = self.venv.reset()
        self._track(obs)  # type: ignore[arg-type]
        return obs  # type: ignore[return-value]

    def step_async(self, actions: np.ndarray) -> None:
        """Map the weights to shares and pass them on."""
        self.venv.step_async(to_action(actions, self.active, self.pair).astype(np.float32))

    def step_wait(self) -> VecEnvStepReturn:
        """Step the wrapped env and note each cell's active slices for the next action."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self._track(obs)  # type: ignore[arg-type]
        return obs, rewards, dones, infos


def cell_vec_env(config: ScenarioConfig, replicas: int = 1) -> ShareVecEnv:
    """The per-cell training env of a scenario (one episode = its timeline): the cells of one
    network, or of ``replicas`` networks stepped in one pass (:func:`slicesim.envs.sb3_vec_env`).
    """
    from slicesim.envs import CellVecEnv, SlicingEnv, sb3_vec_env

    pair = bool(config.sim.action_shape)
    if replicas > 1:
        venv = sb3_vec_env(config, replicas, cellwise=True)
        return ShareVecEnv(venv, venv.envs.feature_names.index("active"), pair)
    base = SlicingEnv(config)
    return ShareVecEnv(CellVecEnv(env=base), base.feature_names.index("active"), pair)
