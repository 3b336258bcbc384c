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
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slicesim.config import ConfigError, ScenarioConfig, load_scenario
from slicesim.experiments.jobs import Job, RunOptions, execute, seed_list
from slicesim.experiments.registry import (
    BUILTIN_AGENTS,
    DEFAULT_AGENTS,
    agent_label,
    agent_paper_p_r1,
    agent_role,
    make_agent,
    oracle_settings,
    split_settings,
    transfer_modes,
)
from slicesim.io import atomic_write
from slicesim.rollout import default_every

if TYPE_CHECKING:
    from slicesim.experiments.report import BenchNumbers

__all__ = [
    "BUILTIN_AGENTS",
    "DEFAULT_AGENTS",
    "BenchResult",
    "Job",
    "bench",
    "make_agent",
    "quick_overrides",
]

QUICK_PERIODS = 450
"""``--quick``: timelines longer than this are compressed to it (phases scaled)."""


def quick_overrides(config: ScenarioConfig) -> dict[str, Any]:
    """A shortened timeline (at most :data:`QUICK_PERIODS`, phases scaled), windows <= 10 s."""
    n_periods = min(config.timeline.n_periods, QUICK_PERIODS)
    return {**config.timeline_overrides(n_periods), "sim.window_s": min(config.sim.window_s, 10.0)}


@dataclass
class BenchResult:
    """What :func:`bench` produced."""

    out: Path
    ran: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: Path | None = None
    numbers: BenchNumbers | None = None
    """Every number of the report (:class:`~slicesim.experiments.report.BenchNumbers`)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """How the benchmark ran (``bench.json``'s settings: scenario, seeds, quick, roles...)."""


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
    scenario: str,
    agents: Sequence[str],
    overrides: dict[str, Any] | None,
    opts: RunOptions,
) -> tuple[ScenarioConfig, dict[str, Any], dict[str, dict[str, Any]], int]:
    """The scenario as run, its overrides, each agent's settings and the oracles' ``every``, from
    a run's ``--set`` items and options.

    ``agent.<name>.<field>`` keys go to that agent only; ``--oracle-draws`` and
    ``--oracle-every`` to the simulator oracles (an explicit ``--set`` of theirs wins); without
    ``--oracle-every`` the timeline's default (:func:`~slicesim.rollout.default_every`).
    """
    scenario_over, settings = split_settings(overrides or {}, agents)
    config, extra = scenario_overrides(scenario, opts.quick, opts.periods, scenario_over)
    every = opts.oracle_every or default_every(config.timeline)
    for spec in agents:
        settings[spec] = {**oracle_settings(spec, opts.oracle_draws, every), **settings[spec]}
    return config, extra, settings, every


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
        "paper": {agent_label(spec): agent_paper_p_r1(spec) for spec in agents},
        **extra,
    }


def engines_of(jobs: Sequence[Job]) -> str:
    """The engine the runs' windows ran on (their ``summary.json``), or each one where they
    differ (``compiled``, ``reference``, ``compiled, reference``)."""
    engines = set()
    for job in jobs:
        if job.done_file.exists():
            engines.add(str(json.loads(job.done_file.read_text()).get("engine")))
    return ", ".join(sorted(engines))


def check_options(
    agents: Sequence[str],
    seeds: int | Sequence[int],
    executor: str,
    settings: dict[str, dict[str, Any]],
) -> None:
    """Fail before any run: seeds, executor, agent names, imports and settings."""
    try:
        seed_list(seeds)
    except ValueError as err:
        raise ConfigError(str(err)) from None
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
    seeds: int | Sequence[int],
    out: str | Path,
    options: RunOptions | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    pretrain_scenario: str | None = None,
    **option_fields: Any,
) -> BenchResult:
    """Run every agent and seed, then write the figures, report.md and bench.json.

    Args:
        scenario: a shipped scenario or a YAML path.
        agents: built-in names or ``package.module:Class``.
        seeds: a count N (seeds 0..N-1) or the seeds themselves (``[5, 7, 11]``).
        out: the output folder.
        options: how to run (:class:`~slicesim.experiments.jobs.RunOptions`); or give its
            fields as keywords (``workers=2``).
        overrides: ``--set`` items: scenario fields and ``agent.<name>.<field>`` settings.
        pretrain_scenario: transfer (below).

    With ``pretrain_scenario`` (transfer), every learning agent also runs that scenario's
    timeline first (same seed, the same ``quick``/``periods``), is saved, and is deployed on
    ``scenario`` frozen and, where it can keep learning, online - beside the same agent trained
    on ``scenario`` itself.

    Raises:
        ConfigError, ValueError: bad arguments, before any run starts.
    """
    from slicesim.experiments.report import write_report

    opts = options or RunOptions(**option_fields)
    quick, periods, executor, workers = opts.quick, opts.periods, opts.executor, opts.workers
    oracle_draws, csv, progress = opts.oracle_draws, opts.csv, opts.progress
    config, extra, settings, oracle_every = agent_settings(scenario, agents, overrides, opts)
    check_options(agents, seeds, executor, settings)
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
            progress=False,  # the executor shows one bar over every run's periods
            **kw,
        )

    jobs = [
        job(spec, seed, f"runs/{agent_label(spec)}-s{seed}")
        for seed in seed_list(seeds)
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
            for seed in seed_list(seeds):
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
    if progress:
        todo = len(pretrain_jobs) + len(jobs) - len(result.skipped)
        kept = f"; {len(result.skipped)} finished ones re-used from {out}" if result.skipped else ""
        print(f"{todo} runs to do on {workers} worker(s){kept}", file=sys.stderr, flush=True)
    first = pretrain_jobs + [j for j in jobs if j.load_from is None]
    first.sort(key=lambda j: "sim-oracle" not in j.agent)  # the longest runs start first
    result.ran = execute(first, executor, workers, opts.address, progress)
    result.ran += execute(
        [j for j in jobs if j.load_from], executor, workers, opts.address, progress
    )
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
        full_periods=load_scenario(scenario).timeline.n_periods,
    )
    meta["engine"] = engines_of([*pretrain_jobs, *jobs])
    result.report, numbers = write_report(out, config, jobs, meta)
    result.numbers, result.meta = numbers, {**meta, "n_periods": config.timeline.n_periods}
    with atomic_write(out / "bench.json") as fh:
        json.dump(
            {**meta, "jobs": [asdict(j) for j in jobs], "ran": result.ran, **numbers.as_dict()},
            fh,
            indent=2,
            default=str,
        )
    return result
