"""The paper benchmark: every agent on identical traffic through the scenario's timeline.

``slicesim bench --scenario paper --agents equal,traffic,idla,td3,sim-oracle --seeds 3 --out DIR``
runs one job per (agent, seed) - in a local process pool or on a Ray cluster - and writes into
DIR: ``runs/<agent>-s<seed>/`` (trajectory.npz, summary.json, ``trajectory.csv`` with ``--csv``,
and IDLA's estimator errors), the figures ``fig2_traffic_mask.png`` ... ``fig5_qos_cdf.png``,
``report.md`` and ``bench.json`` (every per-seed number). Agents with the same seed see the same
traffic (the simulator's random draws do not depend on the shares). Finished runs are kept: a
rerun resumes where it stopped. Every file is written atomically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from slicesim.config import ConfigError, ScenarioConfig, load_scenario
from slicesim.experiments.registry import (
    BUILTIN_AGENTS,
    DEFAULT_AGENTS,
    agent_class,
    agent_label,
    agent_role,
    make_agent,
    oracle_settings,
    split_settings,
    transfer_modes,
)
from slicesim.io import atomic_write

__all__ = [
    "BUILTIN_AGENTS",
    "DEFAULT_AGENTS",
    "BenchResult",
    "Job",
    "bench",
    "make_agent",
    "quick_overrides",
    "run_job",
]

QUICK_PERIODS = 450
"""``--quick``: timelines longer than this are compressed to it (phases scaled)."""


def quick_overrides(config: ScenarioConfig) -> dict[str, Any]:
    """A shortened timeline (at most :data:`QUICK_PERIODS`, phases scaled), windows <= 10 s."""
    n_periods = min(config.timeline.n_periods, QUICK_PERIODS)
    return {**config.timeline_overrides(n_periods), "sim.window_s": min(config.sim.window_s, 10.0)}


@dataclass(frozen=True)
class Job:
    """One run: an agent on a scenario with a seed; results go to ``folder``.

    ``options`` are the agent's settings (dotted fields, :func:`~slicesim.experiments.registry.
    agent_config`). ``load_from`` deploys an agent saved by another job (transfer), learning on
    (``learn``) or frozen; ``save_to`` saves the agent after the run (pretraining).
    """

    scenario: str
    overrides: dict[str, Any]
    agent: str
    seed: int
    folder: str
    options: dict[str, Any] = field(default_factory=dict)
    csv: bool = False
    progress: bool = False
    label: str = ""
    load_from: str | None = None
    learn: bool = False
    save_to: str | None = None

    @property
    def done_file(self) -> Path:
        return Path(self.folder) / "summary.json"

    @property
    def name(self) -> str:
        """The agent's name in reports."""
        return self.label or agent_label(self.agent)

    def fingerprint(self) -> dict[str, Any]:
        """What makes the run's results (not how it shows progress or writes CSV)."""
        return json.loads(
            json.dumps(
                {k: v for k, v in asdict(self).items() if k not in ("progress", "csv")}, default=str
            )
        )

    def finished(self) -> bool:
        """Whether the run is done with these very settings.

        Raises:
            ValueError: the folder holds a finished run made with other settings (mixing them
                would make the report wrong): use another ``--out``.
        """
        if not self.done_file.is_file():
            return False
        made, now = Path(self.folder) / "job.json", self.fingerprint()
        before = json.loads(made.read_text()) if made.is_file() else {}
        if before != now:
            diff = sorted(k for k in now if before.get(k) != now[k])
            raise ValueError(
                f"{self.folder} holds a run made with other settings ({', '.join(diff)}): "
                "give another --out (or remove it) to run with these"
            )
        return True


def _build_agent(job: Job) -> Any:
    if job.load_from is None:
        return make_agent(job.agent, job.options)
    cls = agent_class(job.agent)
    if job.learn:  # declared transfer "online": load(path, learn=True) keeps learning
        return cls.load(job.load_from, learn=True)
    return cls.load(job.load_from)


def run_job(job: Job) -> dict[str, Any]:
    """Run one job in this process and write its results (the unit of work of every executor)."""
    import torch

    from slicesim.envs import make_env
    from slicesim.rollout import run

    torch.set_num_threads(1)  # jobs run side by side: one thread each avoids oversubscription
    start = time.perf_counter()
    agent = _build_agent(job)
    env = make_env(job.scenario, job.overrides)
    trajectory = run(env, agent, progress=job.progress, seed=job.seed)
    trajectory.agent = job.name
    folder = Path(job.folder)
    save_artifacts = getattr(agent, "save_artifacts", None)  # agents.base.Agent.save_artifacts
    if callable(save_artifacts):
        save_artifacts(folder)
    if job.save_to is not None:
        agent.save(job.save_to)
    seconds = time.perf_counter() - start
    trajectory.meta["seconds"] = seconds
    with atomic_write(folder / "job.json") as fh:
        json.dump(job.fingerprint(), fh, indent=2)
    trajectory.save(folder, csv=job.csv)  # summary.json last: it marks the run as finished
    return {"agent": trajectory.agent, "seed": job.seed, "seconds": seconds}


def execute(
    jobs: Sequence[Job],
    executor: str = "local",
    workers: int = 2,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the jobs that have not finished yet, on the local process pool or Ray."""
    todo = [job for job in jobs if not job.finished()]
    if executor == "ray":
        return run_ray(todo, workers, address, progress)
    return run_local(todo, workers, progress)


def run_local(jobs: Sequence[Job], workers: int, progress: bool = True) -> list[dict[str, Any]]:
    """Run jobs in a local process pool (in this process when there is one worker)."""
    bar = tqdm(total=len(jobs), desc="bench", unit="run", disable=not progress or not jobs)
    done = []
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            done.append(run_job(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(run_job, job) for job in jobs]):
                done.append(future.result())
                bar.update()
    bar.close()
    return done


def run_ray(
    jobs: Sequence[Job], workers: int, address: str | None = None, progress: bool = True
) -> list[dict[str, Any]]:
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
        pending = [task.remote(job) for job in jobs]
        done = []
        with tqdm(total=len(jobs), desc="bench", unit="run", disable=not progress) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done.extend(ray.get(ready))
                bar.update(len(ready))
        return done
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


def scenario_overrides(
    scenario: str, quick: bool, periods: int | None, overrides: dict[str, Any] | None
) -> tuple[ScenarioConfig, dict[str, Any]]:
    """The scenario as run and the overrides that make it: ``--quick``, ``--periods``, ``--set``.

    Raises:
        ConfigError: a bad override or ``periods`` (named), before any run starts.
    """
    base = load_scenario(scenario)
    extra: dict[str, Any] = {}
    if quick:
        extra.update(quick_overrides(base))
    if periods is not None:
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 2:
            raise ConfigError(f"--periods = {periods!r} is out of range: allowed >= 2")
        extra.update(base.timeline_overrides(periods))
    extra.update(overrides or {})
    return (base.replace(extra) if extra else base), extra


def agent_settings(
    agents: Sequence[str],
    overrides: dict[str, Any] | None,
    oracle_draws: int,
    oracle_every: int,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The scenario overrides and each agent's settings of a run's ``--set`` items.

    ``agent.<name>.<field>`` keys go to that agent only; ``--oracle-draws`` and
    ``--oracle-every`` to the simulator oracles (an explicit ``--set`` of theirs wins).
    """
    scenario, settings = split_settings(overrides or {}, agents)
    for spec in agents:
        settings[spec] = {**oracle_settings(spec, oracle_draws, oracle_every), **settings[spec]}
    return scenario, settings


def run_meta(
    scenario: str,
    overrides: dict[str, Any],
    quick: bool,
    executor: str,
    oracle_draws: int,
    oracle_every: int,
    agents: Sequence[str],
    settings: dict[str, dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """What a bench or a sweep point records of how it ran (``bench.json``; the report reads the
    agents' declared ``roles`` from it)."""
    return {
        "scenario": scenario,
        "overrides": overrides,
        "quick": quick,
        "executor": executor,
        "oracle_draws": oracle_draws,
        "oracle_every": oracle_every,
        "settings": {agent_label(spec): settings[spec] for spec in agents},
        "roles": {agent_label(spec): agent_role(spec) for spec in agents},
        **extra,
    }


def check_options(
    agents: Sequence[str], seeds: int, executor: str, settings: dict[str, dict[str, Any]]
) -> None:
    """Fail before any run: seeds, executor, agent names, imports and settings."""
    if seeds < 1:
        raise ConfigError(f"--seeds = {seeds} is out of range: allowed >= 1")
    if executor not in ("local", "ray"):
        raise ValueError(f"--executor = {executor!r} is unknown: allowed 'local', 'ray'")
    labels = [agent_label(spec) for spec in agents]
    if len(set(labels)) != len(labels):
        raise ValueError(f"--agents: two agents share a name ({labels}); give each class a name")
    for spec in agents:
        make_agent(spec, settings.get(spec))


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
    oracle_draws: int = 6,
    oracle_every: int = 1,
    csv: bool = False,
    progress: bool = True,
    periods: int | None = None,
    pretrain_scenario: str | None = None,
) -> BenchResult:
    """Run every agent and seed, then write the figures, report.md and bench.json.

    With ``pretrain_scenario`` (transfer), every learning agent also runs that scenario's
    timeline first (same seed, the same ``quick``/``periods``), is saved, and is deployed on
    ``scenario`` frozen and, where it can keep learning, online - beside the same agent trained
    on ``scenario`` itself.

    Raises:
        ConfigError, ValueError: bad arguments, before any run starts.
    """
    from slicesim.experiments.report import write_report

    scenario_over, settings = agent_settings(agents, overrides, oracle_draws, oracle_every)
    check_options(agents, seeds, executor, settings)
    config, extra = scenario_overrides(scenario, quick, periods, scenario_over)
    out = Path(out)

    def job(spec: str, seed: int, folder: str, **kw: Any) -> Job:
        return Job(
            scenario,
            extra,
            spec,
            seed,
            str(out / folder),
            settings[spec],
            csv,
            progress=progress and workers <= 1,
            **kw,
        )

    jobs = [
        job(spec, seed, f"runs/{agent_label(spec)}-s{seed}")
        for seed in range(seeds)
        for spec in agents
    ]
    transfer: dict[str, Any] = {}
    pretrain_jobs: list[Job] = []
    if pretrain_scenario is not None:
        _, pre_extra = scenario_overrides(pretrain_scenario, quick, periods, None)
        src = Path(pretrain_scenario).stem  # a name or a file's name, for folders and labels
        transfer = {"from": src, "agents": {}}
        for spec in agents:
            modes, label = transfer_modes(spec), agent_label(spec)
            if not modes:
                continue
            transfer["agents"][label] = [f"{label} ({src}, {m})" for m in modes]
            for seed in range(seeds):
                saved = out / "pretrain" / f"{label}-{src}-s{seed}"
                pretrain_jobs.append(
                    Job(
                        pretrain_scenario,
                        pre_extra,
                        spec,
                        seed,
                        str(saved),
                        settings[spec],
                        label=label,
                        save_to=str(saved / "agent"),
                    )
                )
                jobs += [
                    job(
                        spec,
                        seed,
                        f"runs/{label}-from-{src}-{m}-s{seed}",
                        label=f"{label} ({src}, {m})",
                        load_from=str(saved / "agent"),
                        learn=m == "online",
                    )
                    for m in modes
                ]
    result = BenchResult(out)
    result.skipped = [j.folder for j in [*pretrain_jobs, *jobs] if j.finished()]
    first = pretrain_jobs + [j for j in jobs if j.load_from is None]
    first.sort(key=lambda j: "sim-oracle" not in j.agent)  # the longest runs start first
    result.ran = execute(first, executor, workers, address, progress)
    result.ran += execute([j for j in jobs if j.load_from], executor, workers, address, progress)
    meta = run_meta(
        scenario,
        extra,
        quick,
        executor,
        oracle_draws,
        oracle_every,
        agents,
        settings,
        transfer=transfer,
    )
    result.report, numbers = write_report(out, config, jobs, meta)
    with atomic_write(out / "bench.json") as fh:
        json.dump(
            {**meta, "jobs": [asdict(j) for j in jobs], "ran": result.ran, **numbers},
            fh,
            indent=2,
            default=str,
        )
    return result
