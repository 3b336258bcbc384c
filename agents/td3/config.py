"""Hyperparameters of the cell-wise TD3 agents: one frozen dataclass, its defaults the only ones.

Override them with a YAML file of some of the fields (``slicesim train td3 --config FILE``,
``TD3Agent(config="FILE")``); unknown keys and out-of-range values raise ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slicesim.typed_config import ConfigError, Validated, choice, load_yaml, num

__all__ = ["TD3Config"]


@dataclass(frozen=True)
class TD3Config(Validated):
    """TD3 hyperparameters: stable-baselines3 ``TD3`` arguments, then the online schedule.

    One shared actor/critic learns from every cell's transition: one SB3 timestep = one cell in
    one control period (12 per period on ``paper``). Sigmas are in the actor's [-1, 1] scale.
    Every field is validated (:mod:`slicesim.typed_config`); set them with ``--set
    agent.td3.<field>=...`` in ``slicesim bench`` and ``sweep``.
    """

    learning_rate: float = num(0, 1, 1e-3, lo_open=True)
    buffer_size: int = num(1, 10**9, 200_000)
    """Cell transitions (16 600 periods of ``paper``: never full in one run)."""
    learning_starts: int = num(0, 10**9, 1200)
    """Offline ``learn()``: uniform random actions first (100 periods of ``paper``)."""
    batch_size: int = num(1, 10**7, 256)
    tau: float = num(0, 1, 0.01)
    gamma: float = num(0, 1, 0.5)
    """An allocation barely shapes later periods (Problem 1 is per period)."""
    train_freq: int = num(1, 10**6, 1)
    """Offline: VecEnv steps (= periods) between updates."""
    gradient_steps: int = num(0, 10**6, 2)
    """Offline: updates per VecEnv step of n_cells transitions."""
    policy_delay: int = num(1, 10**6, 2)
    target_policy_noise: float = num(0, 10, 0.2)
    target_noise_clip: float = num(0, 10, 0.5)
    net_arch: tuple[int, ...] = num(1, 10**5, (64, 64))
    """Hidden widths of the actor and of each critic."""
    noise_sigma: float = num(0, 10, 0.2)
    """Exploration: offline constant; online at the start of H1 and after a slice change."""
    noise_sigma_min: float = num(0, 10, 0.05)
    """Online: after the linear decay."""
    noise_decay_periods: int = num(0, 10**9, 500)
    """Online: periods of the decay from noise_sigma to noise_sigma_min."""
    pretrain_gradient_steps: int = num(0, 10**9, 2000)
    """Once, on the buffer filled while exploring (H0), before acting with the actor."""
    online_gradient_steps: int = num(0, 10**9, 4)
    """Per period from H1 on (12 new transitions per period on ``paper``)."""
    on_slice_change: str = choice("keep", "keep", "clear")
    """``keep`` | ``clear``: the replay buffer when the slice set changes (``td3``)."""
    min_batch_size: int = num(1, 10**7, 32)
    """A run too short to fill ``batch_size`` trains on batches of what it has, down to this."""
    reexplore_periods: int = num(0, 10**9, 100)
    """``td3-paper``: periods of random exploration after a slice change, with fresh networks."""

    def _check(self) -> None:
        if not self.net_arch:
            raise ConfigError("net_arch = [] must list at least one hidden width")

    @classmethod
    def from_yaml(cls, path: str | Path) -> TD3Config:
        """The defaults overridden by the fields of a YAML file; unknown keys raise.

        Raises:
            FileNotFoundError: no file at ``path``.
            ConfigError: an unknown key or a bad value (named).
        """
        return load_yaml(cls, path, "TD3 config")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML-able) of every field."""
        return {**dataclasses.asdict(self), "net_arch": list(self.net_arch)}

    def sb3_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of stable-baselines3 ``TD3`` (without env, noise and seed)."""
        names = (
            "learning_rate",
            "buffer_size",
            "learning_starts",
            "batch_size",
            "tau",
            "gamma",
            "train_freq",
            "gradient_steps",
            "policy_delay",
            "target_policy_noise",
            "target_noise_clip",
        )
        kwargs: dict[str, Any] = {n: getattr(self, n) for n in names}
        return {**kwargs, "policy_kwargs": {"net_arch": list(self.net_arch)}}
