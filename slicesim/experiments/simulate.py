"""``slicesim simulate``: a fixed allocation rule over a scenario, through the one rollout.

The rule is an agent (``equal`` or ``traffic``, loaded by name like every agent) driven by
:func:`slicesim.rollout.run`; the run is saved as every benchmark run is
(:meth:`~slicesim.rollout.Trajectory.save`: ``trajectory.csv`` with one row per period, cell and
slice type, ``trajectory.npz`` and ``summary.json``), so a simulated day and a benchmark run
read the same way. ``--seed S`` is the env's seed: the same traffic as the benchmark's seed S.
``--kpm-csv FILE`` also writes the run's KPIs under their O-RAN names (:func:`write_kpm_csv`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.envs import make_env
from slicesim.experiments.registry import make_agent
from slicesim.io import csv_writer, period_table
from slicesim.rollout import Trajectory, run
from slicesim.sim.oran import MEASUREMENTS, kpm, snssai

__all__ = ["POLICIES", "simulate", "write_kpm_csv"]

POLICIES = ("equal", "traffic")
"""The fixed allocation rules: equal shares, or shares proportional to the expected traffic."""


def simulate(
    config: ScenarioConfig,
    policy: str,
    periods: int,
    seed: int,
    out: Path,
    progress: bool = True,
    kpm_csv: Path | None = None,
) -> dict[str, Any]:
    """Run rule ``policy`` for ``periods``; write the trajectory and its summary into ``out``
    (and the KPIs under their O-RAN names into ``kpm_csv``: :func:`write_kpm_csv`).

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
    if kpm_csv is not None:
        write_kpm_csv(kpm_csv, trajectory, config)
    return trajectory.summary()


def write_kpm_csv(path: Path, trajectory: Trajectory, config: ScenarioConfig) -> None:
    """The run's KPIs under their TS 28.552 names (:mod:`slicesim.sim.oran`) as a tidy CSV,
    written atomically: one row per period, cell and active slice, the slice by its id and its
    S-NSSAI; a cell's measurements (``RRU.PrbAvailDl``, ``RRU.PrbTotDl``) on each of its rows.

    A slice counts as having had data where its throughput or delay is above 0 (a trajectory
    keeps the KPIs, and they are 0 where there was none); else its throughput and delay are
    NaN (``nan``), as a gNB reports no sample.
    """
    thr, delay = trajectory.stacked("thr_mbps"), trajectory.stacked("delay_ms")
    active = trajectory.stacked("active")
    names = kpm(
        thr,
        delay,
        trajectory.stacked("prb_util"),
        trajectory.stacked("users"),
        (thr > 0) | (delay > 0),
        active,
        config.radio.n_prb,
    )
    columns = {
        m.name: names[m.name]
        if m.per_slice
        else np.repeat(names[m.name][..., None], active.shape[-1], -1)
        for m in MEASUREMENTS
    }
    table = period_table(trajectory.periods, trajectory.phases, trajectory.slice_ids, columns)
    index = {s.id: s for s in config.slices}
    keep = active.reshape(-1)
    out = {k: v[keep] for k, v in table.items()}
    out = {
        **{k: out[k] for k in ("period", "phase", "cell", "slice_id")},
        "snssai": np.array([snssai(index[int(i)]) for i in out["slice_id"]], dtype=str),
        **{m.name: out[m.name] for m in MEASUREMENTS},
    }
    with csv_writer(path) as write:
        write(out)
