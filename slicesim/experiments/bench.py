"""The paper benchmark: every agent on identical traffic through the scenario's timeline.

``slicesim bench --scenario paper --agents idla,td3,traffic,oracle --seeds 1 --out DIR`` runs one
job per (agent, seed) - in a local process pool or on a Ray cluster - and writes into DIR:
``runs/<agent>-s<seed>/`` (trajectory.csv, summary.json, and IDLA's estimator errors), the
figures ``fig2_traffic_mask.png`` ... ``fig5_qos_cdf.png`` and ``report.md``. Finished runs are
kept: a rerun resumes where it stopped. Every file is written atomically.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ConfigError, ScenarioConfig, load_scenario
from slicesim.io import atomic_write

__all__ = ["BUILTIN_AGENTS", "Job", "bench", "make_agent", "quick_overrides", "run_job"]

BUILTIN_AGENTS = {
    "equal": "agents.equal:EqualAgent",
    "traffic": "agents.traffic:TrafficAgent",
    "idla": "agents.idla.agent:IDLAAgent",
    "oracle": "agents.idla.oracle:OracleAgent",
    "td3": "agents.td3.agent:TD3Agent",
    "td3-paper": "agents.td3.paper:TD3PaperAgent",
}


def quick_overrides(config: ScenarioConfig, scale: float = 0.09) -> dict[str, Any]:
    """A shortened timeline (phases scaled by ``scale``) and a shorter window: about a minute."""
    n_periods = max(2, round(config.timeline.n_periods * scale))
    return {**config.timeline_overrides(n_periods), "sim.window_s": min(config.sim.window_s, 10.0)}


def make_agent(spec: str) -> Any:
    """An agent from a built-in name (``idla``) or ``package.module:Class`` (no-arg constructor)."""
    target = BUILTIN_AGENTS.get(spec, spec)
    module_name, sep, cls_name = target.partition(":")
    if not sep or not module_name or not cls_name:
        raise ValueError(
            f"agent {spec!r} is unknown: allowed {sorted(BUILTIN_AGENTS)} or package.module:Class"
        )
    if os.getcwd() not in sys.path:  # user modules next to where the command runs, like python -m
        sys.path.insert(0, os.getcwd())
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"agent {spec!r} cannot be imported: {err}") from None
    agent = cls()
    if not callable(getattr(agent, "act", None)):
        raise ValueError(f"agent {spec!r}: {cls_name} has no act(obs, info) method")
    return agent


def agent_label(spec: str) -> str:
    """Short name of an agent spec: ``idla`` or the class name of ``package.module:Class``."""
    return spec if spec in BUILTIN_AGENTS else spec.rpartition(":")[2]


@dataclass(frozen=True)
class Job:
    """One run: an agent on a scenario with a seed; results go to ``folder``."""

    scenario: str
    overrides: dict[str, Any]
    agent: str
    seed: int
    folder: str
    progress: bool = False

    @property
    def done_file(self) -> Path:
        return Path(self.folder) / "summary.json"


def run_job(job: Job) -> dict[str, Any]:
    """Run one job in this process and write its results (the unit of work of every executor)."""
    import torch

    from agents.runner import run
    from slicesim.envs import make_env

    torch.set_num_threads(1)  # jobs run side by side: one thread each avoids oversubscription
    start = time.perf_counter()
    agent = make_agent(job.agent)
    env = make_env(job.scenario, job.overrides)
    trajectory = run(env, agent, progress=job.progress, seed=job.seed)
    trajectory.agent = agent_label(job.agent)
    folder = Path(job.folder)
    report = getattr(agent, "report", None)
    if report is not None and hasattr(report, "errors"):
        with atomic_write(folder / "estimator_errors.npy", "wb") as fh:
            np.save(fh, report.errors)
        with atomic_write(folder / "estimator.json") as fh:
            json.dump(report.as_dict(), fh, indent=2)
    trajectory.save(folder)  # summary.json last: it marks the run as finished
    return {"agent": trajectory.agent, "seed": job.seed, "seconds": time.perf_counter() - start}


def run_local(jobs: Sequence[Job], workers: int) -> list[dict[str, Any]]:
    """Run jobs in a local process pool (in this process when there is one worker)."""
    if workers <= 1 or len(jobs) <= 1:
        return [run_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run_job, jobs))


def run_ray(jobs: Sequence[Job], workers: int, address: str | None = None) -> list[dict[str, Any]]:
    """Run jobs as Ray tasks (``address``: an existing cluster; None: a local Ray instance)."""
    try:
        import ray
    except ImportError:
        raise RuntimeError(
            "--executor ray needs Ray: pip install 'slicesim[ray]' (or pip install ray)"
        ) from None
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(run_job)
        return list(ray.get([task.remote(job) for job in jobs]))
    finally:
        if started:
            ray.shutdown()


@dataclass
class BenchResult:
    """What :func:`bench` produced."""

    out: Path
    ran: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: Path | None = None


def bench(
    scenario: str,
    agents: Sequence[str],
    seeds: int,
    out: str | Path,
    quick: bool = False,
    executor: str = "local",
    address: str | None = None,
    workers: int = 2,
    overrides: dict[str, Any] | None = None,
) -> BenchResult:
    """Run every agent and seed, then write the figures and the report (see module docstring)."""
    if seeds < 1:
        raise ConfigError(f"--seeds = {seeds} is out of range: allowed >= 1")
    if executor not in ("local", "ray"):
        raise ValueError(f"--executor = {executor!r} is unknown: allowed 'local', 'ray'")
    for spec in agents:
        make_agent(spec)  # fail early, before any run, on a bad agent name
    base = load_scenario(scenario)
    extra = dict(overrides or {})
    if quick:
        extra = {**quick_overrides(base), **extra}
    config = base.replace(extra) if extra else base
    out = Path(out)
    jobs = [
        Job(
            scenario,
            extra,
            spec,
            seed,
            str(out / "runs" / f"{agent_label(spec)}-s{seed}"),
            progress=workers <= 1,
        )
        for seed in range(seeds)
        for spec in agents
    ]
    result = BenchResult(out)
    todo = [job for job in jobs if not job.done_file.is_file()]
    result.skipped = [job.folder for job in jobs if job.done_file.is_file()]
    if executor == "ray":
        result.ran = run_ray(todo, workers, address)
    else:
        result.ran = run_local(todo, workers)
    from slicesim.experiments.report import write_report

    result.report = write_report(out, config, jobs, {"quick": quick, "executor": executor})
    with atomic_write(out / "bench.json") as fh:
        json.dump({"scenario": scenario, "overrides": extra, "jobs": [asdict(j) for j in jobs],
                   "ran": result.ran}, fh, indent=2, default=str)  # fmt: skip
    return result
