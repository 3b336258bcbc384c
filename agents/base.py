"""The agent interface every slicing controller implements, and the one runner that drives them.

A controller is a class with ``act(obs, info) -> shares``; everything else is optional:

>>> class Equal:
...     def act(self, obs, info):
...         active = info["active_next"]
...         return active / np.maximum(active.sum(axis=1, keepdims=True), 1)
>>> trajectory = run(env, Equal())

:class:`Agent` gives the optional hooks no-op defaults and an SB3-style ``predict``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from slicesim.config import ScenarioConfig
from slicesim.io import atomic_write, period_table, write_kpi_csv

__all__ = ["Agent", "Policy", "SlicingSpec", "Trajectory", "run"]


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
            thr_need_mbps=np.array([s.thr_mbps for s in config.slices]),
            delay_need_ms=np.array([s.delay_ms for s in config.slices]),
            feature_names=tuple(base.feature_names),  # type: ignore[attr-defined]
            history=int(base.history),  # type: ignore[attr-defined]
            config=config,
        )

    def feature(self, name: str) -> int:
        """Index of observation feature ``name`` on the observation's last axis."""
        return self.feature_names.index(name)


@runtime_checkable
class Policy(Protocol):
    """The one method a controller must have."""

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """PRB shares of shape (n_cells, n_slices) for the coming period."""
        ...


class Agent:
    """Base class with the optional hooks of the interface; subclasses implement :meth:`act`."""

    name: str = "agent"

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Prepare for an episode on an environment described by ``spec``."""
        self.spec = spec
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

    def save(self, path: str | Path) -> None:
        """Persist what the agent has learned (nothing by default)."""

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote (nothing by default)."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = True,
        info: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, Any]:
        """stable-baselines3-style call: ``(action, state)``."""
        return self.act(observation, info or {}), state


def _call_hook(agent: Any, name: str, *args: Any) -> None:
    hook = getattr(agent, name, None)
    if callable(hook):
        hook(*args)


@dataclass
class Trajectory:
    """What one run recorded, per period: actions, raw KPIs, QoS, utility and phase."""

    agent: str
    slice_ids: tuple[int, ...]
    periods: list[int] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    utility: list[float] = field(default_factory=list)
    decision_s: list[float] = field(default_factory=list)
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)

    ARRAYS = ("action", "x", "active", "qos", "thr_mbps", "delay_ms", "prb_util", "users", "cqi",
              "demand")  # fmt: skip

    def record(self, action: np.ndarray, info: dict[str, Any], decision_s: float) -> None:
        """Append one period from the env's step ``info``."""
        self.periods.append(int(info["period"]))
        self.phases.append(str(info["phase"]))
        self.utility.append(float(info["utility"]))
        self.decision_s.append(decision_s)
        values = {"action": np.asarray(action, dtype=float), "x": info["x"],
                  "active": info["active"], "qos": info["qos"], **info["kpi"]}  # fmt: skip
        for name in self.ARRAYS:
            self.arrays.setdefault(name, []).append(np.array(values[name]))

    def __len__(self) -> int:
        return len(self.periods)

    def stacked(self, name: str) -> np.ndarray:
        """Array ``name`` of every period, shape (T, n_cells, n_slices)."""
        return np.stack(self.arrays[name])

    def table(self) -> dict[str, np.ndarray]:
        """One row per period, cell and slice (columns: period, phase, cell, slice_id, ...)."""
        return period_table(
            np.array(self.periods),
            self.phases,
            self.slice_ids,
            {name: self.stacked(name) for name in self.ARRAYS},
        )

    def summary(self) -> dict[str, Any]:
        """Per phase: mean utility, mean QoS and P(r = 1) over active pairs, decision time."""
        out: dict[str, Any] = {"agent": self.agent, "periods": len(self)}
        phases = np.array(self.phases)
        qos, active = self.stacked("qos"), self.stacked("active")
        for phase in dict.fromkeys(self.phases):
            sel = phases == phase
            r = qos[sel][active[sel]]
            out[phase] = {
                "periods": int(sel.sum()),
                "mean_utility": float(np.mean(np.array(self.utility)[sel])),
                "mean_qos": float(r.mean()),
                "p_qos_1": float(np.mean(r >= 1 - 1e-9)),
                "decision_ms": float(1e3 * np.median(np.array(self.decision_s)[sel])),
            }
        return out

    def save(self, folder: str | Path) -> None:
        """Write ``trajectory.csv``, ``trajectory.npz`` and ``summary.json``, each atomically.

        ``summary.json`` is written last, so its presence marks a complete trajectory.
        """
        folder = Path(folder)
        write_kpi_csv(folder / "trajectory.csv", self.table())
        with atomic_write(folder / "trajectory.npz", "wb") as fh:
            arrays: dict[str, Any] = {f"a_{name}": self.stacked(name) for name in self.ARRAYS}
            arrays.update(
                periods=np.array(self.periods),
                phases=np.array(self.phases, dtype=str),
                utility=np.array(self.utility),
                decision_s=np.array(self.decision_s),
                slice_ids=np.array(self.slice_ids),
            )
            np.savez_compressed(fh, **arrays)
        with atomic_write(folder / "summary.json") as fh:
            json.dump(self.summary(), fh, indent=2)

    @classmethod
    def load(cls, folder: str | Path) -> Trajectory:
        """Read a trajectory written by :meth:`save`."""
        folder = Path(folder)
        summary = json.loads((folder / "summary.json").read_text())
        with np.load(folder / "trajectory.npz") as data:
            traj = cls(agent=summary["agent"], slice_ids=tuple(int(i) for i in data["slice_ids"]))
            traj.periods = data["periods"].tolist()
            traj.phases = data["phases"].tolist()
            traj.utility = data["utility"].tolist()
            traj.decision_s = data["decision_s"].tolist()
            traj.arrays = {name: list(data[f"a_{name}"]) for name in cls.ARRAYS}
        return traj


def run(
    env: gym.Env,
    agent: Any,
    periods: int | None = None,
    progress: bool = True,
    seed: int | None = None,
) -> Trajectory:
    """Drive ``agent`` on ``env`` for ``periods`` control periods (default: one episode).

    ``agent`` needs only ``act(obs, info)``; ``reset(spec, seed)`` and ``observe(obs, action,
    reward, next_obs, info)`` are called when it has them. Decision time covers ``act`` only.
    """
    spec = SlicingSpec.from_env(env)
    if periods is None:
        periods = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else None
        periods = periods or spec.config.timeline.n_periods
    name = getattr(agent, "name", type(agent).__name__)
    trajectory = Trajectory(agent=name, slice_ids=spec.slice_ids)
    obs, info = env.reset(seed=seed)
    _call_hook(agent, "reset", spec, seed)
    for _ in tqdm(range(periods), desc=f"run {name}", unit="period", disable=not progress):
        start = time.perf_counter()
        action = agent.act(obs, info)
        decision_s = time.perf_counter() - start
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        _call_hook(agent, "observe", obs, action, reward, next_obs, next_info)
        trajectory.record(action, next_info, decision_s)
        obs, info = next_obs, next_info
        if terminated or truncated:
            break
    return trajectory
