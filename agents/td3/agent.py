"""Cell-wise TD3 (paper Section V-C "DRL scheme", ref. [8]): one stable-baselines3 TD3, all cells.

Every cell is a sample of one shared actor and critic: its observation is its block of the env's
observation flattened to (max_slices * F,), its action a weight in [0, 1] per slice type, its
reward ``info["cell_reward"]`` (min over the cell's active slices of the QoS r). The action map
(:func:`agents.td3.vec_env.to_shares`) gives inactive slices nothing, each active slice at least
:data:`~agents.td3.vec_env.MIN_WEIGHT`, and normalises each row to 1.

Online, inside :func:`agents.run` on the paper's timeline:

* H0 (``collect_periods``; default: until the timeline's second phase): uniform random weights
  (SB3's warm-up); every cell's transition goes into SB3's replay buffer (n_envs = n_cells).
* End of H0: ``pretrain_gradient_steps`` SB3 ``train`` updates on the collected buffer. A run too
  short to fill one batch of ``batch_size`` trains on smaller batches (down to
  ``min_batch_size``) and says so (a warning and ``stats()["batch_size"]``); below that it does
  not learn at all, and ``stats()["learned"]`` is False for the report to flag.
* From H1: the actor plus Gaussian noise, sigma decaying linearly from ``noise_sigma`` to
  ``noise_sigma_min`` over ``noise_decay_periods``; ``online_gradient_steps`` updates per period.
* A slice-set change (``active_next`` differs from the previous period's) retrains from the
  current weights: the noise schedule restarts (the new slice's weight is untrained, so
  re-explore), and with ``on_slice_change: keep`` (default) the buffer stays. Its transitions are
  still true samples: the observation carries each slice's active flag, so the old slice set is
  a region of the state space the shared policy still covers, told apart from the new one.
  ``clear`` empties the buffer instead. :class:`agents.td3.paper.TD3PaperAgent` is the paper's
  variant, whose networks are sized to the slice set and rebuilt when it changes.

Running a trained agent again continues from what it learned (no new exploration phase);
``forget()`` starts afresh. Offline: :mod:`agents.td3.training` (``slicesim train td3``), then
``TD3Agent.load(folder)``.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import torch
import yaml
from stable_baselines3 import TD3
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from agents.base import Agent, SlicingSpec
from agents.schedule import Schedule
from agents.td3.config import TD3Config
from agents.td3.vec_env import CellSpaces, cell_spaces, to_action
from slicesim.io import atomic_write

__all__ = ["CONFIG_FILE", "MODEL_FILE", "TD3Agent", "build_model", "save_model"]

MODEL_FILE = "model.zip"
CONFIG_FILE = "td3.yaml"


def build_model(
    config: TD3Config, env: VecEnv, seed: int | None = None, tensorboard_log: str | None = None
) -> TD3:
    """A stable-baselines3 TD3 on ``env`` (its n_envs = the replay buffer's), Gaussian noise."""
    n_act = int(np.prod(env.action_space.shape or ()))
    noise = NormalActionNoise(np.zeros(n_act), np.full(n_act, config.noise_sigma))
    model = TD3(
        "MlpPolicy",
        env,
        action_noise=noise,
        seed=seed,
        device="cpu",
        tensorboard_log=tensorboard_log,
        **config.sb3_kwargs(),
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # train() records; learn() replaces
    return model


def save_model(model: TD3, path: str | Path) -> None:
    """``model.save`` into ``path`` atomically (a temporary file renamed over it)."""
    with atomic_write(path, "wb") as fh:
        model.save(cast(io.BufferedIOBase, fh))


class TD3Agent(Agent):
    """The paper's cell-wise DRL scheme on stable-baselines3 TD3 (schedule: module docstring).

    Args:
        config: hyperparameters, or the path of a YAML file overriding some of them.
        collect_periods: periods of random exploration before training (default: H0).
        model: a trained TD3 (e.g. from :meth:`load`) to act with from the first period.
        learn: keep learning online (default: True without ``model``, False with one).
    """

    name = "td3"
    transfer: ClassVar[tuple[str, ...]] = ("frozen", "online")

    @classmethod
    def default_config(cls) -> TD3Config:
        """The defaults of :class:`TD3Config`."""
        return TD3Config()

    def __init__(
        self,
        config: TD3Config | str | Path | None = None,
        collect_periods: int | None = None,
        model: TD3 | None = None,
        learn: bool | None = None,
    ) -> None:
        if config is None or isinstance(config, TD3Config):
            self.config = config or TD3Config()
        else:
            self.config = TD3Config.from_yaml(config)
        self.schedule = Schedule(collect_periods)
        self.model: TD3 | None = model
        self.learning = model is None if learn is None else bool(learn)
        self.trained = model is not None
        self.gradient_steps = 0
        self.batch_size_used = self.config.batch_size

    # ------------------------------------------------------------------ the cell view

    def cell_dims(self, spec: SlicingSpec, active: np.ndarray) -> tuple[int, int]:
        """Observation and action widths of one cell: every slice type's features and weight
        (two weights under ``sim.rrm_action = min_max``: a minimum and a maximum)."""
        return spec.n_slices * len(spec.feature_names), spec.n_slices * self._pairs(spec)

    @staticmethod
    def _pairs(spec: SlicingSpec) -> int:
        """Weights per slice: 2 under ``min_max`` (minimum, maximum), else 1."""
        return 2 if spec.config.sim.action_shape else 1

    def cell_obs(self, obs: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Each cell's observation row, shape (n_cells, obs width)."""
        return np.asarray(obs, dtype=np.float32).reshape(self.spec.n_cells, -1)

    def shares(self, weights: np.ndarray, active: np.ndarray) -> np.ndarray:
        """The action from the actor's weights in [0, 1]: PRB shares (a minimum and a maximum
        per slice under ``min_max``, :func:`~agents.td3.vec_env.to_action`)."""
        return to_action(weights, active, self._pairs(self.spec) == 2)

    # ------------------------------------------------------------------ lifecycle

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Start an episode; a model that fits the env is kept with its buffer."""
        super().reset(spec, seed)
        self.seed = seed
        self.schedule.reset(spec, trained=self.trained)
        self.pending: tuple[np.ndarray, np.ndarray] | None = None
        self.noise_start = (
            -self.config.noise_decay_periods if self.trained else self.schedule.collect
        )

    def forget(self) -> None:
        """Drop the networks and the buffer: the next episode explores and trains from scratch."""
        self.model, self.trained, self.learning = None, False, True
        self.gradient_steps = 0

    def stats(self) -> dict[str, Any]:
        return {
            "learned": self.trained,
            "gradient_steps": self.gradient_steps,
            "batch_size": self.batch_size_used,
            "slice_changes": list(self.schedule.changes),
        }

    def ensure_model(self, active: np.ndarray) -> TD3:
        """The model, built for the cell view of ``active`` if there is none that fits."""
        n_obs, n_act = self.cell_dims(self.spec, active)
        obs_space, act_space = cell_spaces(n_obs, n_act)
        if self.model is not None:
            if self.model.observation_space.shape == obs_space.shape and (
                self.model.action_space.shape == act_space.shape
            ):
                if self.learning and self.model.n_envs != self.spec.n_cells:
                    self._adopt(self.model, obs_space, act_space)
                return self.model
            if not self.learning:
                raise ValueError(
                    f"the TD3 model has observation shape {self.model.observation_space.shape} "
                    f"and action shape {self.model.action_space.shape}; this env's cells give "
                    f"{obs_space.shape}, {act_space.shape}"
                )
        if self.model is not None:  # a rebuild (another slice set): explore, then train again
            self.schedule.collect_again(self.config.reexplore_periods)
            self.noise_start = self.schedule.period + self.schedule.collect
        env = DummyVecEnv([lambda: CellSpaces(obs_space, act_space)] * self.spec.n_cells)
        self.model = build_model(self.config, env, self.seed)
        self.trained = False
        return self.model

    def _adopt(self, model: TD3, obs_space: Any, act_space: Any) -> None:
        """A loaded model learning on a network with another number of cells: a replay buffer
        (empty, as after any load) with one sub-env per cell, and a logger for ``train``."""
        # SB3's set_env refuses another n_envs; the model only needs the env's size and spaces
        model.env = DummyVecEnv([lambda: CellSpaces(obs_space, act_space)] * self.spec.n_cells)
        model.n_envs = self.spec.n_cells
        buffer_class = model.replay_buffer_class or ReplayBuffer
        model.replay_buffer = buffer_class(
            model.buffer_size,
            model.observation_space,
            model.action_space,
            device=model.device,
            n_envs=self.spec.n_cells,
            **(model.replay_buffer_kwargs or {}),
        )
        model.set_logger(Logger(folder=None, output_formats=[]))

    # ------------------------------------------------------------------ interface

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        self.spec  # noqa: B018  (raises a clear error before reset)
        active = np.asarray(info["active_next"], dtype=bool)
        if self.schedule.see(active):
            self.on_slice_change(active)
        model = self.ensure_model(active)
        flat = self.cell_obs(obs, active)
        scaled = self.scaled_action(model, flat)
        self.pending = (flat, scaled)
        return self.shares(model.policy.unscale_action(scaled), active)

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        self.schedule.tick()
        if not self.learning or self.pending is None or self.model is None:
            return
        model, (flat, scaled), n = self.model, self.pending, self.spec.n_cells
        next_flat = self.cell_obs(next_obs, np.asarray(info["active_next"], dtype=bool))
        if next_flat.shape == flat.shape:  # td3-paper: not across a change of its cell view
            assert model.replay_buffer is not None
            rewards = np.asarray(info["cell_reward"], dtype=np.float32)
            model.replay_buffer.add(flat, next_flat, scaled, rewards, np.zeros(n), [{}] * n)
            model.num_timesteps += n
        if self.schedule.collecting:
            return
        if not self.trained:  # once, at the end of exploration (normally: end of H0)
            self.trained = self.train(self.config.pretrain_gradient_steps)
        if self.trained:
            self.train(self.config.online_gradient_steps)

    def save(self, path: str | Path) -> None:
        """Save the model (``model.zip``, SB3's format) and ``td3.yaml`` into folder ``path``."""
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__}.save(): no model yet (nothing learned)")
        save_model(self.model, Path(path) / MODEL_FILE)
        with atomic_write(Path(path) / CONFIG_FILE) as fh:
            yaml.safe_dump(self.config.to_dict(), fh)

    @classmethod
    def load(cls, path: str | Path, learn: bool = False, **kwargs: Any) -> TD3Agent:
        """An agent acting with the model saved in folder ``path`` (:meth:`save` or
        ``slicesim train td3``), deterministic and frozen unless ``learn``.

        Raises:
            FileNotFoundError: no ``model.zip`` in ``path``.
        """
        file = Path(path) / MODEL_FILE
        if not file.is_file():
            raise FileNotFoundError(f"TD3 model file {str(file)!r} does not exist")
        if "config" not in kwargs and (Path(path) / CONFIG_FILE).is_file():
            kwargs["config"] = Path(path) / CONFIG_FILE
        model = TD3.load(file, device="cpu")
        model.set_logger(Logger(folder=None, output_formats=[]))  # train() records into it
        return cls(model=model, learn=learn, **kwargs)

    # ------------------------------------------------------------------ steps

    def scaled_action(self, model: TD3, flat: np.ndarray) -> np.ndarray:
        """The action in the actor's [-1, 1] scale: random while exploring, then actor + noise."""
        shape = (flat.shape[0], int(np.prod(model.action_space.shape or ())))
        if self.learning and not self.trained:
            return self.rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        with torch.no_grad():
            weights, _ = model.predict(flat, deterministic=True)
        scaled = model.policy.scale_action(weights)
        if not self.learning:
            return scaled
        noisy = scaled + self.rng.normal(0.0, self.noise_sigma(), shape)
        return np.clip(noisy, -1.0, 1.0).astype(np.float32)

    def noise_sigma(self) -> float:
        """Exploration sigma: linear from noise_sigma to noise_sigma_min since the last restart."""
        c = self.config
        done = min(1.0, (self.schedule.period - self.noise_start) / max(c.noise_decay_periods, 1))
        return c.noise_sigma + max(done, 0.0) * (c.noise_sigma_min - c.noise_sigma)

    def train(self, gradient_steps: int) -> bool:
        """``gradient_steps`` SB3 updates if the buffer holds a batch; whether it could.

        A buffer below ``batch_size`` but at least ``min_batch_size`` trains on batches of its
        size, with a warning (once).
        """
        model = self.model
        assert model is not None and model.replay_buffer is not None
        stored = model.replay_buffer.size() * model.replay_buffer.n_envs  # size(): VecEnv steps
        batch = min(self.config.batch_size, stored)
        if batch < min(self.config.min_batch_size, self.config.batch_size):
            return False
        if batch < self.config.batch_size and batch < self.batch_size_used:
            warnings.warn(
                f"{self.name}: only {stored} transitions after exploring, fewer than batch_size "
                f"= {self.config.batch_size}: training on batches of {batch}",
                RuntimeWarning,
                stacklevel=2,
            )
        self.batch_size_used = min(self.batch_size_used, batch)
        if gradient_steps > 0:
            model.train(gradient_steps=gradient_steps, batch_size=batch)
            self.gradient_steps += gradient_steps
        return True

    def on_slice_change(self, active: np.ndarray) -> None:
        """The buffer policy on a slice-set change (module docstring): retrain, re-explore."""
        if not self.learning or not self.trained:
            return
        self.noise_start = self.schedule.period
        if self.config.on_slice_change == "clear":
            assert self.model is not None and self.model.replay_buffer is not None
            self.model.replay_buffer.reset()
