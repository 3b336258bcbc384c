"""Hyperparameters of the cell-wise TD3 agents: one frozen dataclass, its defaults the only ones.

Override them with a YAML file of some of the fields (``slicesim train td3 --config FILE``,
``TD3Agent(config="FILE")``); unknown keys and out-of-range values raise ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slicesim.config import ConfigError

__all__ = ["TD3Config"]


@dataclass(frozen=True)
class TD3Config:
    """TD3 hyperparameters: stable-baselines3 ``TD3`` arguments, then the online schedule.

    One shared actor/critic learns from every cell's transition: one SB3 timestep = one cell in
    one control period (12 per period on ``paper``). Sigmas are in the actor's [-1, 1] scale.
    """

    learning_rate: float = 1e-3
    buffer_size: int = 200_000
    """Cell transitions (16 600 periods of ``paper``: never full in one run)."""
    learning_starts: int = 1200
    """Offline ``learn()``: uniform random actions first (100 periods of ``paper``)."""
    batch_size: int = 256
    tau: float = 0.01
    gamma: float = 0.5
    """An allocation barely shapes later periods (Problem 1 is per period)."""
    train_freq: int = 1
    """Offline: VecEnv steps (= periods) between updates."""
    gradient_steps: int = 2
    """Offline: updates per VecEnv step of n_cells transitions."""
    policy_delay: int = 2
    target_policy_noise: float = 0.2
    target_noise_clip: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the actor and of each critic."""
    noise_sigma: float = 0.2
    """Exploration: offline constant; online at the start of H1 and after a slice change."""
    noise_sigma_min: float = 0.05
    """Online: after the linear decay."""
    noise_decay_periods: int = 500
    """Online: periods of the decay from noise_sigma to noise_sigma_min."""
    pretrain_gradient_steps: int = 2000
    """Once, on the buffer filled while exploring (H0), before acting with the actor."""
    online_gradient_steps: int = 4
    """Per period from H1 on (12 new transitions per period on ``paper``)."""
    on_slice_change: str = "keep"
    """``keep`` | ``clear``: the replay buffer when the slice set changes (``td3``)."""
    min_batch_size: int = 32
    """A run too short to fill ``batch_size`` trains on batches of what it has, down to this."""
    reexplore_periods: int = 100
    """``td3-paper``: periods of random exploration after a slice change, with fresh networks."""

    def __post_init__(self) -> None:
        positive = ("learning_rate", "buffer_size", "batch_size", "train_freq", "policy_delay",
                    "min_batch_size")  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"td3.{name} = {getattr(self, name)!r} is out of range: > 0")
        for name in ("tau", "gamma"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"td3.{name} = {getattr(self, name)!r} is out of range: [0, 1]")
        counts = ("learning_starts", "gradient_steps", "noise_decay_periods",
                  "pretrain_gradient_steps", "online_gradient_steps",
                  "reexplore_periods")  # fmt: skip
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
    def from_yaml(cls, path: str | Path) -> TD3Config:
        """The defaults overridden by the fields of a YAML file; unknown keys raise.

        Raises:
            FileNotFoundError: no file at ``path``.
            ConfigError: an unknown key or a bad value (named).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"TD3 config file {str(path)!r} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"TD3 config {str(path)!r} must be a mapping of hyperparameters")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"TD3 config {str(path)!r}: unknown keys {unknown} (known: {sorted(known)})"
            )
        if "net_arch" in data:
            data["net_arch"] = tuple(data["net_arch"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML-able) of every field."""
        return {**dataclasses.asdict(self), "net_arch": list(self.net_arch)}

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of stable-baselines3 ``TD3`` (without env, noise and seed)."""
        names = ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma",
                 "train_freq", "gradient_steps", "policy_delay", "target_policy_noise",
                 "target_noise_clip")  # fmt: skip
        kwargs: dict[str, Any] = {n: getattr(self, n) for n in names}
        return {**kwargs, "policy_kwargs": {"net_arch": list(self.net_arch)}}
