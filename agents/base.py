"""The agent interface: what every slicing controller implements, and what it may know.

A controller is a class with ``act(obs, info) -> shares`` (:class:`Policy`); everything else is
optional, and :class:`Agent` gives the optional hooks their defaults:

>>> class Equal:
...     def act(self, obs, info):
...         active = info["active_next"]
...         return active / np.maximum(active.sum(axis=1, keepdims=True), 1)
>>> trajectory = agents.run(env, Equal())

``info`` of ``act`` is the env's last step (or reset) info; what it says of the coming period is
in the ``*_next`` keys (``active_next``, ``demand_next``, ``period_next``, ``phase_next``). The
runner is :func:`agents.runner.run`; to evaluate an agent with stable-baselines3's
``evaluate_policy`` wrap it in :class:`agents.adapters.SB3Policy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from slicesim.config import ScenarioConfig

__all__ = ["Agent", "Policy", "SlicingSpec"]


@dataclass(frozen=True)
class SlicingSpec:
    """What an agent may know about the environment before it acts (no simulator internals)."""

    n_cells: int
    n_slices: int
    slice_ids: tuple[int, ...]
    thr_need_mbps: np.ndarray
    delay_need_ms: np.ndarray
    feature_names: tuple[str, ...]
    history: int
    config: ScenarioConfig

    @classmethod
    def from_env(cls, env: gym.Env) -> SlicingSpec:
        """The spec of a :class:`slicesim.envs.SlicingEnv` (wrapped or not)."""
        base = env.unwrapped
        config: ScenarioConfig = base.config  # type: ignore[attr-defined]
        return cls(
            n_cells=base.n_cells,  # type: ignore[attr-defined]
            n_slices=config.n_slices,
            slice_ids=config.slice_ids,
            thr_need_mbps=config.thr_need_mbps,
            delay_need_ms=config.delay_need_ms,
            feature_names=tuple(base.feature_names),  # type: ignore[attr-defined]
            history=int(base.history),  # type: ignore[attr-defined]
            config=config,
        )

    def feature(self, name: str) -> int:
        """Index of observation feature ``name`` on the observation's last axis."""
        return self.feature_names.index(name)

    @property
    def first_phase_end(self) -> int:
        """Where learners stop exploring (:attr:`TimelineConfig.first_phase_end`: H1's start)."""
        return self.config.timeline.first_phase_end


@runtime_checkable
class Policy(Protocol):
    """The one method a controller must have."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """PRB shares of shape (n_cells, n_slices) for the coming period."""
        ...


class Agent:
    """Base class with the optional hooks of the interface; subclasses implement :meth:`act`.

    Lifecycle: :meth:`reset` before every episode (it keeps what the agent has learned, so a
    trained agent run again goes on from where it was); :meth:`act` once a period;
    :meth:`observe` after each period (online learners); :meth:`forget` for a fresh start.
    """

    name: str = "agent"
    _spec: SlicingSpec | None = None

    @property
    def spec(self) -> SlicingSpec:
        """The environment's spec, set by :meth:`reset`."""
        if self._spec is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been reset: call reset(spec, seed) first "
                "(agents.run does)"
            )
        return self._spec

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Prepare for an episode on an environment described by ``spec``; keep what was learned."""
        self._spec = spec
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """PRB shares of shape (n_cells, n_slices) for the coming period."""
        raise NotImplementedError

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        """Learn from one transition (online learners); no-op by default."""

    def forget(self) -> None:
        """Drop everything learned: the next :meth:`reset` starts from scratch (no-op here)."""

    def stats(self) -> dict[str, Any]:
        """Plain-data facts about the agent's learning for reports (e.g. gradient steps)."""
        return {}

    def save(self, path: str | Path) -> None:
        """Persist what the agent has learned into folder ``path`` (nothing by default)."""

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Agent:
        """A ready agent restored from what :meth:`save` wrote (default: a fresh one)."""
        return cls(**kwargs)
