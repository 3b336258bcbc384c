"""Cell-wise TD3 (paper Section V-C "DRL scheme", ref. [8]): one stable-baselines3 TD3, all cells.

Every cell is a sample of one shared actor and critic: its observation is its block of the env's
observation flattened to (max_slices * F,), its action a weight in [0, 1] per slice type, its
reward ``info["cell_reward"]`` (min over the cell's active slices of the QoS r).

Action map (:func:`to_shares`): inactive slices get nothing, each active slice keeps a weight of
at least :data:`MIN_WEIGHT`, and a row is normalised to sum 1. Rows sum to 1, not <= 1: the
scheduler isolates slices strictly, so an unallocated PRB serves nobody, and a cell's reward
cannot see the interference it would spare its neighbours. The actor's outputs are thus relative
weights (the map ignores their scale).

Online, inside :func:`agents.base.run` on the paper's timeline:

* H0 (``collect_periods``; default: until the timeline's second phase): uniform random weights
  (SB3's warm-up); every cell's transition goes into SB3's replay buffer (n_envs = n_cells).
* End of H0: ``pretrain_gradient_steps`` SB3 ``train`` updates on the collected buffer.
* From H1: the actor plus Gaussian noise, sigma decaying linearly from ``noise_sigma`` to
  ``noise_sigma_min`` over ``noise_decay_periods``; ``online_gradient_steps`` updates per period.
* A slice-set change (``active_next`` differs from the previous period's) retrains from the
  current weights: the noise schedule restarts (the new slice's weight is untrained, so
  re-explore), and with ``on_slice_change: keep`` (default) the buffer stays. Its transitions are
  still true samples: the observation carries each slice's active flag, so the old slice set is
  a region of the state space the shared policy still covers, told apart from the new one.
  ``clear`` empties the buffer instead (training on the new slice set only, at first on few
  samples). ``TD3Agent.changes`` lists the periods of the changes.

Offline: :func:`agents.td3_train.train_offline` (``slicesim train td3``) runs SB3 ``learn()`` on
:class:`slicesim.envs.CellVecEnv` behind :class:`ShareVecEnv` (the same action map), with
checkpoints (model, replay buffer, step count) for ``--resume``, a cheap periodic evaluation and
a progress bar; ``TD3Agent().load(folder)`` then acts deterministically with the result.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
import yaml
from gymnasium import spaces
from stable_baselines3 import TD3
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.base import Agent, SlicingSpec
from agents.idla.agent import collect_periods_of
from slicesim.config import ConfigError
from slicesim.io import atomic_write

__all__ = [
    "DEFAULT_CONFIG",
    "MIN_WEIGHT",
    "MODEL_FILE",
    "TD3Agent",
    "TD3Config",
    "build_model",
    "cell_spaces",
    "save_model",
    "to_shares",
]

DEFAULT_CONFIG = Path(__file__).with_name("td3.yaml")
MODEL_FILE = "model.zip"
MIN_WEIGHT = 1e-3
"""Least weight of an active slice before normalising (an all-zero row gives equal shares)."""


@dataclass(frozen=True)
class TD3Config:
    """Hyperparameters (defaults = ``agents/td3.yaml``; field comments there).

    The first block are stable-baselines3 ``TD3`` arguments (``net_arch`` for actor and critics);
    sigmas are in the actor's [-1, 1] scale; the rest drive the online schedule.
    """

    learning_rate: float = 1e-3
    buffer_size: int = 200_000
    learning_starts: int = 1200
    batch_size: int = 256
    tau: float = 0.01
    gamma: float = 0.5
    train_freq: int = 1
    gradient_steps: int = 2
    policy_delay: int = 2
    target_policy_noise: float = 0.2
    target_noise_clip: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    noise_sigma: float = 0.2
    noise_sigma_min: float = 0.05
    noise_decay_periods: int = 500
    pretrain_gradient_steps: int = 2000
    online_gradient_steps: int = 4
    on_slice_change: str = "keep"

    def __post_init__(self) -> None:
        positive = ("learning_rate", "buffer_size", "batch_size", "train_freq", "policy_delay")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"td3.{name} = {getattr(self, name)!r} is out of range: > 0")
        for name in ("tau", "gamma"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"td3.{name} = {getattr(self, name)!r} is out of range: [0, 1]")
        counts = ("learning_starts", "gradient_steps", "noise_decay_periods",
                  "pretrain_gradient_steps", "online_gradient_steps")  # fmt: skip
        sigmas = ("target_policy_noise", "target_noise_clip", "noise_sigma", "noise_sigma_min")
        for name in counts + sigmas:
            if getattr(self, name) < 0:
                raise ConfigError(f"td3.{name} = {getattr(self, name)!r} is out of range: >= 0")
        if not self.net_arch or min(self.net_arch) < 1:
            raise ConfigError(f"td3.net_arch = {list(self.net_arch)} must list widths >= 1")
        if self.on_slice_change not in ("keep", "clear"):
            raise ConfigError(
                f"td3.on_slice_change = {self.on_slice_change!r}: allowed keep, clear"
            )

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> TD3Config:
        """Read hyperparameters from YAML (default :data:`DEFAULT_CONFIG`); unknown keys raise."""
        path = Path(path) if path is not None else DEFAULT_CONFIG
        if not path.is_file():
            raise FileNotFoundError(f"TD3 config file {str(path)!r} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(
                f"TD3 config {str(path)!r}: unknown keys {unknown} (known: {sorted(known)})"
            )
        if "net_arch" in data:
            data["net_arch"] = tuple(data["net_arch"])
        return cls(**data)

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of stable-baselines3 ``TD3`` (without env, noise and seed)."""
        names = ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma",
                 "train_freq", "gradient_steps", "policy_delay", "target_policy_noise",
                 "target_noise_clip")  # fmt: skip
        kwargs: dict[str, Any] = {n: getattr(self, n) for n in names}
        return {**kwargs, "policy_kwargs": {"net_arch": list(self.net_arch)}}


def to_shares(weights: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Actor weights in [0, 1], shape (n_cells, max_slices) -> valid PRB shares.

    Inactive slices get 0; active ones ``max(w, MIN_WEIGHT)`` normalised so each row sums to 1
    (rows without an active slice stay 0).
    """
    w = np.where(active, np.maximum(np.asarray(weights, dtype=np.float64), MIN_WEIGHT), 0.0)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def cell_spaces(n_slices: int, n_features: int) -> tuple[spaces.Box, spaces.Box]:
    """One cell's observation and action spaces (as in :class:`slicesim.envs.CellVecEnv`)."""
    obs = spaces.Box(0.0, 1.0, (n_slices * n_features,), np.float32)
    return obs, spaces.Box(0.0, 1.0, (n_slices,), np.float32)


class _CellSpaces(gym.Env):
    """Placeholder sub-env carrying a cell's spaces: the online agent never steps it."""

    def __init__(self, obs_space: spaces.Box, act_space: spaces.Box) -> None:
        self.observation_space, self.action_space = obs_space, act_space

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, np.float32), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        raise RuntimeError("placeholder env: TD3Agent is stepped by agents.base.run")


def build_model(
    config: TD3Config,
    env: VecEnv,
    seed: int | None = None,
    tensorboard_log: str | None = None,
) -> TD3:
    """A stable-baselines3 TD3 on ``env`` (its n_envs = the replay buffer's), Gaussian noise."""
    n_act = int(np.prod(env.action_space.shape or ()))
    noise = NormalActionNoise(np.zeros(n_act), np.full(n_act, config.noise_sigma))
    model = TD3("MlpPolicy", env, action_noise=noise, seed=seed, device="cpu",
                tensorboard_log=tensorboard_log, **config.sb3_kwargs())  # fmt: skip
    model.set_logger(Logger(folder=None, output_formats=[]))  # train() records; learn() replaces
    return model


def save_model(model: TD3, path: str | Path) -> None:
    """``model.save`` into ``path`` atomically (a temporary file renamed over it)."""
    with atomic_write(path, "wb") as fh:
        model.save(cast(io.BufferedIOBase, fh))


class TD3Agent(Agent):
    """The paper's cell-wise DRL scheme on stable-baselines3 TD3 (schedule: module docstring).

    Args:
        config: hyperparameters, or the path of a YAML file of them (default ``td3.yaml``).
        collect_periods: periods of random exploration before training (default: H0).
        model: a trained TD3 (e.g. from :meth:`load`) to act with deterministically, no learning.
    """

    name = "td3"

    def __init__(
        self,
        config: TD3Config | str | Path | None = None,
        collect_periods: int | None = None,
        model: TD3 | None = None,
    ) -> None:
        self.config = config if isinstance(config, TD3Config) else TD3Config.from_yaml(config)
        self.collect_periods = collect_periods
        self.pretrained = model
        self.model: TD3 | None = model

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        super().reset(spec, seed)
        obs_space, act_space = cell_spaces(spec.n_slices, len(spec.feature_names))
        self.learning = self.pretrained is None
        self.steps = 0
        self.changes: list[int] = []
        self.active_prev: np.ndarray | None = None
        self.pending: tuple[np.ndarray, np.ndarray] | None = None
        self.pretrained_steps_done = False
        if not self.learning:
            assert self.pretrained is not None
            model_space = self.pretrained.observation_space
            if model_space.shape != obs_space.shape or self.pretrained.action_space != act_space:
                raise ValueError(
                    f"the TD3 model has observation shape {model_space.shape} and action space "
                    f"{self.pretrained.action_space}; this env gives {obs_space.shape}, {act_space}"
                )
            self.model, self.collect = self.pretrained, 0
            return
        default = collect_periods_of(spec)
        self.collect = default if self.collect_periods is None else self.collect_periods
        self.noise_start = self.collect
        env = DummyVecEnv([lambda: _CellSpaces(obs_space, act_space)] * spec.n_cells)
        self.model = build_model(self.config, env, seed)

    # ------------------------------------------------------------------ interface

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        active = np.asarray(info["active_next"], dtype=bool)
        if self.active_prev is not None and not np.array_equal(active, self.active_prev):
            self.on_slice_change()
        self.active_prev = active
        flat = np.asarray(obs, dtype=np.float32).reshape(self.spec.n_cells, -1)
        scaled = self.scaled_action(flat)
        self.pending = (flat, scaled)
        assert self.model is not None
        return to_shares(self.model.policy.unscale_action(scaled), active)

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        self.steps += 1
        if not self.learning or self.pending is None:
            return
        model, (flat, scaled), n = self.model, self.pending, self.spec.n_cells
        assert model is not None and model.replay_buffer is not None
        next_flat = np.asarray(next_obs, dtype=np.float32).reshape(n, -1)
        rewards = np.asarray(info["cell_reward"], dtype=np.float32)
        model.replay_buffer.add(flat, next_flat, scaled, rewards, np.zeros(n), [{}] * n)
        model.num_timesteps += n
        if self.steps < self.collect:
            return
        if not self.pretrained_steps_done:  # once the buffer holds a batch (normally: end of H0)
            self.pretrained_steps_done = self.train(self.config.pretrain_gradient_steps)
        self.train(self.config.online_gradient_steps)

    def save(self, path: str | Path) -> None:
        """Save the TD3 model into folder ``path`` (``model.zip``, SB3's format)."""
        if self.model is None:
            raise RuntimeError("TD3Agent.save(): no model yet (call reset() or load() first)")
        save_model(self.model, Path(path) / MODEL_FILE)

    def load(self, path: str | Path) -> None:
        """Load ``model.zip`` from folder ``path`` (:meth:`save` or ``slicesim train td3``).

        The agent then acts deterministically with it from the first period, without learning.
        """
        file = Path(path) / MODEL_FILE
        if not file.is_file():
            raise FileNotFoundError(f"TD3 model file {str(file)!r} does not exist")
        self.pretrained = self.model = TD3.load(file, device="cpu")

    # ------------------------------------------------------------------ steps

    def scaled_action(self, flat: np.ndarray) -> np.ndarray:
        """The action in the actor's [-1, 1] scale: random in H0, actor (+ noise) after."""
        assert self.model is not None
        shape = (flat.shape[0], self.spec.n_slices)
        if self.learning and self.steps < self.collect:
            return self.rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        with torch.no_grad():
            weights, _ = self.model.predict(flat, deterministic=True)
        scaled = self.model.policy.scale_action(weights)
        if not self.learning:
            return scaled
        noisy = scaled + self.rng.normal(0.0, self.noise_sigma(), shape)
        return np.clip(noisy, -1.0, 1.0).astype(np.float32)

    def noise_sigma(self) -> float:
        """Exploration sigma: linear from noise_sigma to noise_sigma_min since the last restart."""
        c = self.config
        done = min(1.0, (self.steps - self.noise_start) / max(c.noise_decay_periods, 1))
        return c.noise_sigma + max(done, 0.0) * (c.noise_sigma_min - c.noise_sigma)

    def train(self, gradient_steps: int) -> bool:
        """``gradient_steps`` SB3 updates if the buffer holds a batch; whether it did."""
        model = self.model
        assert model is not None and model.replay_buffer is not None
        stored = model.replay_buffer.size() * model.replay_buffer.n_envs  # size(): VecEnv steps
        if stored < self.config.batch_size:
            return False
        if gradient_steps > 0:
            model.train(gradient_steps=gradient_steps, batch_size=self.config.batch_size)
        return True

    def on_slice_change(self) -> None:
        """The buffer policy on a slice-set change (module docstring): retrain, re-explore."""
        self.changes.append(self.steps)
        if not self.learning or self.steps < self.collect:
            return
        self.noise_start = self.steps
        if self.config.on_slice_change == "clear":
            assert self.model is not None and self.model.replay_buffer is not None
            self.model.replay_buffer.reset()
