"""The rollout: what a controller is to the platform (:class:`Policy`, :class:`SlicingSpec`), the
one loop that drives any controller on a :class:`~slicesim.envs.SlicingEnv` (:func:`run`), what it
records (:class:`Trajectory`) and which periods a benchmark scores (:func:`scored_periods`).

The platform owns the loop and the protocol, as stable-baselines3's ``evaluate_policy`` does; the
controllers (the ``agents`` package, or a user's class) plug in. Nothing here imports ``agents``.

>>> class Equal:
...     def act(self, obs, info):
...         active = info["active_next"]
...         return active / np.maximum(active.sum(axis=1, keepdims=True), 1)
>>> trajectory = run(make_env("small"), Equal())

``info`` of ``act`` is the env's last step (or reset) info; what it says of the coming period is
in the ``*_next`` keys (``active_next``, ``demand_next``, ``period_next``, ``phase_next``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from slicesim.config import ScenarioConfig
from slicesim.envs import SlicingEnv
from slicesim.io import atomic_write, csv_writer, period_table
from slicesim.sim import p_satisfied
from slicesim.sim.kpi import MEASURES

__all__ = [
    "Learner",
    "PeriodSummary",
    "Policy",
    "SimulatorUser",
    "SlicingSpec",
    "Trajectory",
    "check_env",
    "run",
    "scored_periods",
]


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


@runtime_checkable
class Learner(Protocol):
    """A controller that learns from the periods it sees (:func:`run` calls these when present)."""

    def reset(self, spec: SlicingSpec, seed: int | None = None) -> None:
        """Prepare for an episode on an environment described by ``spec``."""
        ...

    def observe(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        """Learn from one transition."""
        ...


@runtime_checkable
class SimulatorUser(Protocol):
    """A yardstick that replays the simulator (the documented exception to "controllers see
    only the O&M KPIs"): :func:`run` hands it the env before the first period."""

    def bind_simulator(self, env: SlicingEnv) -> None:
        """Keep a handle on the env's simulator."""
        ...


ORACLE_DRAWS = 192
"""K, the stochastic sim-oracle's draws per period by default: the smallest K for which doubling
it changes its gain over equal shares on ``paper`` by less than 3 % in H1 and H2
(``benchmarks/oracle_k.py``; benchmarks/RESULTS.md)."""

ORACLE_EVERY = 8
"""The benchmark's default ``--oracle-every`` (:func:`default_every`: less on short timelines):
the simulator oracles evaluate every 8th period (every 2 hours of each day) and every agent is
scored on those periods. On the paper benchmark
this moves every agent's ΔU over equal shares by at most 0.03 against scoring every period,
within its interval (benchmarks/RESULTS.md), for an eighth of the oracle's cost."""


MIN_SCORED = 25
"""A phase after H0 keeps at least this many scored periods under the default ``--oracle-every``
(:func:`default_every`)."""


def default_every(timeline: Any) -> int:
    """The default ``--oracle-every`` of a timeline (a :class:`~slicesim.config.TimelineConfig`):
    :data:`ORACLE_EVERY`, or less where a short (compressed) timeline would leave a phase after
    H0 with fewer than :data:`MIN_SCORED` scored periods (1 for very short ones)."""
    starts = [p.start for p in timeline.phases if p.start >= timeline.first_phase_end]
    ends = [*starts[1:], timeline.n_periods]
    shortest = min((end - start for start, end in zip(starts, ends, strict=True)), default=0)
    return max(1, min(ORACLE_EVERY, shortest // MIN_SCORED))


def scored_periods(periods: np.ndarray | int, every: int) -> np.ndarray:
    """The scoring schedule: whether each period is scored when the simulator oracles evaluate
    every ``every``-th period only (0, k, 2k, ...; ``every = 1``: all of them)."""
    return np.asarray(periods) % every == 0


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


@dataclass(frozen=True)
class PeriodSummary:
    """The per-period KPIs of a set of periods, summarised (the one definition: ``summary.json``
    per phase, and the bench's and the sweep's metrics per slice set and busy hours)."""

    mean_utility: float
    """Mean over the periods of the period's utility (sum over active pairs of log(1 + r))."""
    mean_r: float
    """Mean r over every active (period, cell, slice)."""
    p_r1: float
    """Fraction of those with r = 1 (:func:`slicesim.sim.p_satisfied`)."""
    periods: int


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
    pair: bool = False
    """Actions of a minimum and a maximum per slice (``sim.rrm_action = min_max``): ``action``
    and ``x`` then hold the minimums, ``action_max`` and ``x_max`` the maximums."""

    ARRAYS = ("action", "x", "active", "r", *MEASURES)
    PAIR_ARRAYS = ("action_max", "x_max")
    SCALARS = ("period", "utility", "decision_s", "learn_s", "expected_demand_mbps")
    META = ("seed", "scenario", "stats", "engine")

    def __post_init__(self) -> None:
        shape = (self.n_cells, len(self.slice_ids))
        self.arrays = self.ARRAYS + (self.PAIR_ARRAYS if self.pair else ())
        """The per-period arrays this trajectory records."""
        self._arrays = {
            n: _Growing(shape, bool if n == "active" else np.float64) for n in self.arrays
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
        action, x = np.asarray(action), np.asarray(info["x"])
        if self.pair:  # (n_cells, n_slices, 2): minimum, maximum
            action, action_max, x, x_max = action[..., 0], action[..., 1], x[..., 0], x[..., 1]
        values = {
            "action": action,
            "x": x,
            "active": info["active"],
            "r": info["r"],
            **info["kpi"],
        }
        if self.pair:
            values.update(action_max=action_max, x_max=x_max)
        for name, buf in self._arrays.items():
            buf.append(values[name])
        scalars = {
            "period": info["period"],
            "utility": info["utility"],
            "decision_s": decision_s,
            "learn_s": learn_s,
            "expected_demand_mbps": expected_demand_mbps,
        }
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
            {n: self.stacked(n)[rows] for n in self.arrays},
        )

    def summarise(self, sel: np.ndarray) -> PeriodSummary:
        """The KPIs of the periods selected by the bool mask ``sel`` (T,), summarised (NaN for
        none)."""
        r = self.stacked("r")[sel][self.stacked("active")[sel]]
        return PeriodSummary(
            mean_utility=float(self.utility[sel].mean()) if sel.any() else float("nan"),
            mean_r=float(r.mean()) if r.size else float("nan"),
            p_r1=p_satisfied(r),
            periods=int(sel.sum()),
        )

    def summary(self) -> dict[str, Any]:
        """Per phase: :class:`PeriodSummary` and the median decision time (``summary.json``)."""
        out: dict[str, Any] = {"agent": self.agent, "periods": len(self), **self.meta}
        phases = np.array(self.phases)
        decision = self.series("decision_s")
        for phase in dict.fromkeys(self.phases):
            sel = phases == phase
            out[phase] = {
                **dataclasses.asdict(self.summarise(sel)),
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
            arrays: dict[str, Any] = {f"a_{n}": self.stacked(n) for n in self.arrays}
            arrays.update({f"s_{n}": self.series(n) for n in self.SCALARS})
            arrays.update(
                phases=np.array(self.phases, dtype=str), slice_ids=np.array(self.slice_ids)
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
            ids = tuple(int(i) for i in data["slice_ids"])
            n_cells = data["a_x"].shape[1] if data["a_x"].ndim == 3 else 0
            meta = {k: summary[k] for k in cls.META if k in summary}
            pair = "a_x_max" in data
            traj = cls(agent=summary["agent"], slice_ids=ids, n_cells=n_cells, meta=meta, pair=pair)
            for name, buf in traj._arrays.items():
                key = f"a_{name}" if f"a_{name}" in data or name != "r" else "a_qos"  # 0.1's name
                buf.data, buf.n = data[key].copy(), len(data[key])
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
            f"run needs a gymnasium SlicingEnv (slicesim.envs.make_env), possibly wrapped; "
            f"got {type(env).__name__}{hint}"
        )
    if env.observation_space != base.observation_space or env.action_space != base.action_space:
        raise ValueError(
            f"run needs the SlicingEnv's own observation and action spaces; the wrapper "
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
    Yardsticks that replay the simulator (:class:`SimulatorUser`, e.g. ``agents.sim_oracle``)
    get the env through their ``bind_simulator(env)`` hook.

    Decision time covers ``act``; learning time covers ``observe``; they are recorded apart.
    Under ``sim.rrm_action = min_max`` an agent that gives one share per (cell, slice) (every
    built-in agent but TD3) has it applied as the slice's minimum with a maximum of 100 %: the
    ``min`` mapping's policy.

    Raises:
        TypeError, ValueError: from :func:`check_env`.
    """
    base = check_env(env)
    spec = SlicingSpec.from_env(env)
    if periods is None:
        periods = base.max_episode_steps
    name = getattr(agent, "name", type(agent).__name__)
    pair = bool(spec.config.sim.action_shape)
    trajectory = Trajectory(agent=name, slice_ids=spec.slice_ids, n_cells=spec.n_cells, pair=pair)
    if fresh and callable(getattr(agent, "forget", None)):
        agent.forget()  # type: ignore[attr-defined]
    obs, info = env.reset(seed=seed)
    _call_hook(agent, "reset", spec, seed)
    _call_hook(agent, "bind_simulator", base)
    for _ in tqdm(range(periods), desc=f"run {name}", unit="period", disable=not progress):
        demand = float(np.sum(np.where(info["active_next"], info["demand_next"], 0.0)))
        start = time.perf_counter()
        action = agent.act(obs, info)
        if pair and np.ndim(action) == 2:  # one share per slice: the minimum, maximum 100 %
            action = np.stack([action, np.asarray(info["active_next"], dtype=float)], axis=-1)
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
    trajectory.meta = {
        "seed": seed,
        "scenario": spec.config.name,
        "stats": stats() if callable(stats) else {},
        "engine": base.net.engine if base.net is not None else None,  # what simulated it
    }
    return trajectory


def _call_hook(agent: Any, name: str, *args: Any) -> None:
    hook = getattr(agent, name, None)
    if callable(hook):
        hook(*args)
