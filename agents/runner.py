"""The one runner that drives every agent on a :class:`slicesim.envs.SlicingEnv`, and what it
records (:class:`Trajectory`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from agents.base import Policy, SlicingSpec
from slicesim.envs import SlicingEnv
from slicesim.io import atomic_write, csv_writer, period_table
from slicesim.sim import p_satisfied

__all__ = ["Trajectory", "check_env", "run"]

_CSV_CHUNK = 256  # periods per CSV chunk: memory stays flat however long the run


class _Growing:
    """A preallocated array of rows that doubles when full (no per-period Python objects)."""

    def __init__(self, row_shape: tuple[int, ...], dtype: Any) -> None:
        self.data = np.empty((16, *row_shape), dtype=dtype)
        self.n = 0

    def append(self, row: Any) -> None:
        if self.n == len(self.data):
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.n] = row
        self.n += 1

    def view(self) -> np.ndarray:
        return self.data[: self.n]


@dataclass
class Trajectory:
    """What one run recorded, per period: actions, raw KPIs, QoS, utility, phase and timings.

    Per-period arrays live in compact preallocated buffers (about 4 KB a period on ``paper``),
    so a long run's memory stays flat; :meth:`stacked` returns a (T, n_cells, n_slices) view.
    """

    agent: str
    slice_ids: tuple[int, ...]
    n_cells: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    """Plain data about the run: agent stats (``Agent.stats()``), seed, scenario."""

    ARRAYS = ("action", "x", "active", "qos", "thr_mbps", "delay_ms", "prb_util", "users", "cqi",
              "demand_mbps")  # fmt: skip
    SCALARS = ("period", "utility", "decision_s", "learn_s", "expected_demand_mbps")
    META = ("seed", "scenario", "stats")

    def __post_init__(self) -> None:
        shape = (self.n_cells, len(self.slice_ids))
        self._arrays = {
            n: _Growing(shape, bool if n == "active" else np.float64) for n in self.ARRAYS
        }
        self._scalars = {
            n: _Growing((), np.int64 if n == "period" else np.float64) for n in self.SCALARS
        }
        self.phases: list[str] = []

    def record(
        self,
        action: np.ndarray,
        info: dict[str, Any],
        decision_s: float,
        learn_s: float = 0.0,
        expected_demand_mbps: float = float("nan"),
    ) -> None:
        """Append one period from the env's step ``info``."""
        values = {"action": action, "x": info["x"], "active": info["active"], "qos": info["qos"],
                  **info["kpi"]}  # fmt: skip
        for name, buf in self._arrays.items():
            buf.append(values[name])
        scalars = {"period": info["period"], "utility": info["utility"], "decision_s": decision_s,
                   "learn_s": learn_s, "expected_demand_mbps": expected_demand_mbps}  # fmt: skip
        for name, buf in self._scalars.items():
            buf.append(scalars[name])
        self.phases.append(str(info["phase"]))

    def __len__(self) -> int:
        return len(self.phases)

    def stacked(self, name: str) -> np.ndarray:
        """Array ``name`` of every period, shape (T, n_cells, n_slices) (a read-only view)."""
        view = self._arrays[name].view()
        view.flags.writeable = False
        return view

    def series(self, name: str) -> np.ndarray:
        """Scalar ``name`` of every period (``period``, ``utility``, ``decision_s``, ``learn_s``,
        ``expected_demand_mbps``), shape (T,)."""
        return self._scalars[name].view()

    @property
    def periods(self) -> np.ndarray:
        return self.series("period")

    @property
    def utility(self) -> np.ndarray:
        return self.series("utility")

    def table(self, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """One row per period, cell and slice of periods [start, stop) (columns: period, phase,
        cell, slice_id, then the arrays)."""
        rows = slice(start, stop)
        return period_table(
            self.periods[rows],
            self.phases[rows],
            self.slice_ids,
            {n: self.stacked(n)[rows] for n in self.ARRAYS},
        )

    def summary(self) -> dict[str, Any]:
        """Per phase: mean utility, mean QoS and P(r = 1) over active pairs, decision time."""
        out: dict[str, Any] = {"agent": self.agent, "periods": len(self), **self.meta}
        phases = np.array(self.phases)
        qos, active = self.stacked("qos"), self.stacked("active")
        decision = self.series("decision_s")
        for phase in dict.fromkeys(self.phases):
            sel = phases == phase
            r = qos[sel][active[sel]]
            out[phase] = {
                "periods": int(sel.sum()),
                "mean_utility": float(np.mean(self.utility[sel])),
                "mean_qos": float(r.mean()),
                "p_qos_1": p_satisfied(r),
                "decision_ms": float(1e3 * np.median(decision[sel])),
            }
        out["learn_s"] = float(self.series("learn_s").sum())
        return out

    def save(self, folder: str | Path, csv: bool = True) -> None:
        """Write ``trajectory.npz`` (and ``trajectory.csv``), then ``summary.json``, atomically.

        ``summary.json`` is written last, so its presence marks a complete trajectory.
        """
        folder = Path(folder)
        if csv:
            with csv_writer(folder / "trajectory.csv") as write:
                for start in range(0, max(len(self), 1), _CSV_CHUNK):
                    write(self.table(start, start + _CSV_CHUNK))
        with atomic_write(folder / "trajectory.npz", "wb") as fh:
            arrays: dict[str, Any] = {f"a_{n}": self.stacked(n) for n in self.ARRAYS}
            arrays.update({f"s_{n}": self.series(n) for n in self.SCALARS})
            arrays.update(phases=np.array(self.phases, dtype=str),
                          slice_ids=np.array(self.slice_ids))  # fmt: skip
            np.savez_compressed(fh, **arrays)
        with atomic_write(folder / "summary.json") as fh:
            json.dump(self.summary(), fh, indent=2)

    @classmethod
    def load(cls, folder: str | Path) -> Trajectory:
        """Read a trajectory written by :meth:`save`."""
        folder = Path(folder)
        summary = json.loads((folder / "summary.json").read_text())
        with np.load(folder / "trajectory.npz") as data:
            ids = tuple(int(i) for i in data["slice_ids"])
            n_cells = data["a_x"].shape[1] if data["a_x"].ndim == 3 else 0
            meta = {k: summary[k] for k in cls.META if k in summary}
            traj = cls(agent=summary["agent"], slice_ids=ids, n_cells=n_cells, meta=meta)
            for name, buf in traj._arrays.items():
                buf.data, buf.n = data[f"a_{name}"].copy(), len(data[f"a_{name}"])
            for name, sbuf in traj._scalars.items():
                sbuf.data, sbuf.n = data[f"s_{name}"].copy(), len(data[f"s_{name}"])
            traj.phases = data["phases"].tolist()
        return traj


def check_env(env: Any) -> SlicingEnv:
    """The :class:`SlicingEnv` under ``env``, if its wrappers keep its spaces; else a clear error.

    Raises:
        TypeError: ``env`` is not a gymnasium env over a SlicingEnv (a VecEnv, a ParallelEnv ...).
        ValueError: a wrapper changes the observation or action space (e.g. FlattenObservation):
            agents read the (n_cells, max_slices, F) observation.
    """
    base = env.unwrapped if isinstance(env, gym.Env) else None
    if not isinstance(base, SlicingEnv):
        hint = ""
        if hasattr(env, "num_envs") or hasattr(env, "possible_agents"):
            hint = " (a per-cell view: pass the SlicingEnv it wraps, e.g. its .env)"
        raise TypeError(
            f"agents.run needs a gymnasium SlicingEnv (slicesim.envs.make_env), possibly wrapped; "
            f"got {type(env).__name__}{hint}"
        )
    if env.observation_space != base.observation_space or env.action_space != base.action_space:
        raise ValueError(
            f"agents.run needs the SlicingEnv's own observation and action spaces; the wrapper "
            f"{type(env).__name__} changes them (observation {env.observation_space}, expected "
            f"{base.observation_space})"
        )
    return base


def run(
    env: gym.Env,
    agent: Policy,
    periods: int | None = None,
    progress: bool = True,
    seed: int | None = None,
    fresh: bool = False,
) -> Trajectory:
    """Drive ``agent`` on ``env`` for ``periods`` control periods (default: one episode).

    ``agent`` needs only ``act(obs, info)``; ``reset(spec, seed)``, ``observe(obs, action,
    reward, next_obs, info)``, ``forget()`` and ``stats()`` are called when it has them. A
    trained agent keeps what it learned across runs unless ``fresh`` (then ``forget()`` first).
    Yardsticks that replay the simulator (``agents.sim_oracle``) get the env through their
    ``bind_simulator(env)`` hook: the documented exception to "agents see only the O&M KPIs".

    Decision time covers ``act``; learning time covers ``observe``; they are recorded apart.

    Raises:
        TypeError, ValueError: from :func:`check_env`.
    """
    base = check_env(env)
    spec = SlicingSpec.from_env(env)
    if periods is None:
        periods = base.max_episode_steps
    name = getattr(agent, "name", type(agent).__name__)
    trajectory = Trajectory(agent=name, slice_ids=spec.slice_ids, n_cells=spec.n_cells)
    if fresh and callable(getattr(agent, "forget", None)):
        agent.forget()  # type: ignore[attr-defined]
    obs, info = env.reset(seed=seed)
    _call_hook(agent, "reset", spec, seed)
    _call_hook(agent, "bind_simulator", base)
    for _ in tqdm(range(periods), desc=f"run {name}", unit="period", disable=not progress):
        demand = float(np.sum(np.where(info["active_next"], info["demand_next"], 0.0)))
        start = time.perf_counter()
        action = agent.act(obs, info)
        decided = time.perf_counter()
        next_obs, reward, terminated, truncated, next_info = env.step(action)
        learn_start = time.perf_counter()
        _call_hook(agent, "observe", obs, action, reward, next_obs, next_info)
        learned = time.perf_counter()
        trajectory.record(action, next_info, decided - start, learned - learn_start, demand)
        obs, info = next_obs, next_info
        if terminated or truncated:
            break
    stats = getattr(agent, "stats", None)
    trajectory.meta = {"seed": seed, "scenario": spec.config.name,
                       "stats": stats() if callable(stats) else {}}  # fmt: skip
    return trajectory


def _call_hook(agent: Any, name: str, *args: Any) -> None:
    hook = getattr(agent, name, None)
    if callable(hook):
        hook(*args)
