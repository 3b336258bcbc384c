"""``slicesim simulate``: a fixed allocation rule over a scenario, through the one rollout.

The rule is an agent (``equal`` or ``traffic``, loaded by name like every agent) driven by
:func:`slicesim.rollout.run`; the run is saved as every benchmark run is
(:meth:`~slicesim.rollout.Trajectory.save`: ``trajectory.csv`` with one row per period, cell and
slice type, ``trajectory.npz`` and ``summary.json``), so a simulated day and a benchmark run
read the same way. ``--seed S`` is the env's seed: the same traffic as the benchmark's seed S.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from slicesim.config import ScenarioConfig
from slicesim.envs import make_env
from slicesim.experiments.registry import make_agent
from slicesim.rollout import run

__all__ = ["POLICIES", "simulate"]

POLICIES = ("equal", "traffic")
"""The fixed allocation rules: equal shares, or shares proportional to the expected traffic."""


def simulate(
    config: ScenarioConfig,
    policy: str,
    periods: int,
    seed: int,
    out: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Run rule ``policy`` for ``periods``; write the trajectory and its summary into ``out``.

    Returns:
        The summary (per phase: mean utility, mean r, P(r = 1); ``periods_per_s``).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy = {policy!r} is unknown: allowed {list(POLICIES)}")
    env = make_env(config, {"timeline.n_periods": max(periods, config.timeline.n_periods)})
    start = time.perf_counter()
    trajectory = run(env, make_agent(policy), periods=periods, progress=progress, seed=seed)
    trajectory.meta["periods_per_s"] = len(trajectory) / (time.perf_counter() - start)
    trajectory.meta["policy"] = policy
    trajectory.save(out, csv=True)
    return trajectory.summary()
