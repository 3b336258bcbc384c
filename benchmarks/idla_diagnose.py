"""What idla's estimator gets wrong where it acts: predicted and realised gains on the same draw.

Usage: python benchmarks/idla_diagnose.py [--scenario paper] [--seeds 0,1,2] [--periods N]
       [--set KEY=VALUE ...] [--agent idla] [--bench DIR] [--draws K] [--json FILE] [--curves]

Each seed runs the agent (``idla`` unless ``--agent``; its settings with ``--set
agent.<name>.<field>=...``) through the scenario's timeline as ``slicesim bench`` does. On every
scored period after H0 (the bench's ``--oracle-every`` schedule) at which it decided, the live
period is replayed (``Network.replay`` on its state: the same users and bursts) under four
shares - equal shares, the agent's own (played), its unconstrained choice (no trust region) and
the sim-oracle's - and each is scored by the agent's estimator as it stood at the decision.

The sim-oracle's shares come from ``DIR/runs/sim-oracle-s<seed>`` of a bench on the same
scenario and overrides where ``--bench DIR`` has one (its shares for that period, chosen on its
own run's state), else from a sim-oracle deciding on the live state (K = ``--draws``).

Per phase it reports: the predicted and realised gain over equal shares of the agent's shares,
its unconstrained choice and the oracle's; how often the estimator ranks the oracle's shares at
least as high as the agent's own (by its decision objective and, for an ensemble, by the mean;
and, for an estimator with a load input, by the mean *told* the traffic the period itself was
offered - the sim-oracle knows the coming period's traffic level, the agent only the last
period's: how much of the ranking is that information); with ``--curves``, each slice's
log(1 + r) on the live draw and the estimator's mean as its share is set to 0.05 ... 0.6 in
every cell (the slope the estimator gets right or wrong);
the ranking error per slice; whether it fades as the new slice set's data arrive; how far the
oracle's shares lie from equal shares (what a trust region bounds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.idla.dataset import peak_rate_mbps
from agents.sim_oracle import SimOracleAgent
from slicesim import Network
from slicesim.config import load_scenario
from slicesim.envs import make_env
from slicesim.experiments.bench import scenario_overrides
from slicesim.experiments.jobs import seed_list
from slicesim.experiments.registry import agent_label, make_agent, split_settings
from slicesim.experiments.stats import estimate
from slicesim.rollout import ORACLE_DRAWS, SlicingSpec, Trajectory, default_every, scored_periods
from slicesim.sim import equal_split
from slicesim.typed_config import parse_sets, single_values

CANDIDATES = ("equal", "own", "free", "oracle")
"""The shares replayed on each diagnosed period, in this order."""
EARLY = 96
"""Periods after a slice-set change that count as its early part (does the error fade?)."""
TRUST = 0.2
"""The distance from equal shares reported for the oracle's shares (idla's default trust)."""


@dataclass
class Period:
    """One diagnosed period: per candidate and (cell, slice), log(1 + r) predicted and realised."""

    period: int
    phase: str
    since_change: int
    active: np.ndarray  # (C, S)
    shares: np.ndarray  # (4, C, S)
    predicted: np.ndarray  # (4, C, S): the decision objective
    mean: np.ndarray  # (4, C, S): the estimator's mean (= predicted for one estimator)
    realised: np.ndarray  # (4, C, S)
    told: np.ndarray | None = None  # (4, C, S): the mean told the period's offered traffic
    curves: np.ndarray | None = None  # (2, S, L, C): network and estimator mean, ``--curves``


def oracle_shares(bench: Path | None, seed: int, scenario: str, overrides: dict[str, Any]) -> Any:
    """The sim-oracle's shares of every period from a bench run, or None if it has none."""
    if bench is None:
        return None
    folder = bench / "runs" / f"sim-oracle-s{seed}"
    if not (folder / "summary.json").is_file():
        return None
    job = json.loads((folder / "job.json").read_text())
    if job["scenario"] != scenario or job["overrides"] != json.loads(json.dumps(overrides)):
        raise ValueError(f"{folder} ran {job['scenario']} {job['overrides']}, not {overrides}")
    return np.array(Trajectory.load(folder).stacked("x"))


def estimates(agent: Any, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The agent's decision objective and mean estimate of log(1 + r) for each candidate."""
    objective = np.stack([agent.estimate(x) for x in shares])
    if "mean" not in getattr(agent, "estimate_kinds", ()):
        return objective, objective
    return objective, mean_estimates(agent, shares)


def mean_estimates(agent: Any, shares: np.ndarray) -> np.ndarray:
    """The agent's mean estimate of log(1 + r) for each candidate (its objective for one
    estimator)."""
    kind = "mean" if "mean" in getattr(agent, "estimate_kinds", ()) else "decision"
    return np.stack([agent.estimate(x, kind=kind) for x in shares])


def told_estimates(agent: Any, spec: SlicingSpec, shares: np.ndarray, offered: Any) -> Any:
    """The agent's mean estimate of each candidate had its load input been the traffic the
    period itself was offered (what the sim-oracle knows: the coming period's level), not the
    last period's; None for an estimator without a load input."""
    ensemble = getattr(getattr(agent, "config", None), "ensemble", None)
    if ensemble is None or not ensemble.load or agent.decision is None:
        return None
    saved = agent.decision
    z = saved.z.clone()
    column = np.asarray(offered, dtype=np.float64) / peak_rate_mbps(spec.config)
    z[..., 2 * spec.history] = torch.from_numpy(
        (column * (z[..., -2].numpy() > 0)).astype(np.float32)
    )
    agent.decision = dataclasses.replace(saved, z=z)
    try:
        return mean_estimates(agent, shares)
    finally:
        agent.decision = saved


LEVELS = np.round(np.arange(0.05, 0.601, 0.05), 2)
"""The shares ``--curves`` sets each slice to, in every cell at once (the others as played)."""


def share_curves(
    agent: Any, replica: Network, state: dict[str, Any], played: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """log(1 + r) of each slice at each of :data:`LEVELS` (the other slices as played; a cell
    may then hold more than all its PRBs, a replay's what-if) on the live period's draw, and
    the estimator's mean of it: ``(2, S, L, C)``, NaN where the slice is inactive."""
    n_slices = active.shape[1]
    xs = np.repeat(played[None], n_slices * len(LEVELS), axis=0)
    for s in range(n_slices):
        rows = slice(s * len(LEVELS), (s + 1) * len(LEVELS))
        xs[rows, :, s] = np.where(active[:, s], LEVELS[:, None], 0.0)
    r = replica.replay(xs, states=[state]).r[0]  # (S L, C, S)
    mean = mean_estimates(agent, xs)
    out = np.full((2, n_slices, len(LEVELS), active.shape[0]), np.nan)
    for s in range(n_slices):
        rows = slice(s * len(LEVELS), (s + 1) * len(LEVELS))
        out[0, s] = np.where(active[:, s], np.log1p(r[rows, :, s]), np.nan)
        out[1, s] = np.where(active[:, s], mean[rows, :, s], np.nan)
    return out


def print_curves(runs: dict[int, list[Period]], slice_ids: tuple[int, ...]) -> None:
    """Per phase and slice: the network's and the estimator's mean log(1 + r) at each share,
    averaged over the diagnosed periods, cells and seeds (``--curves``)."""
    periods = [p for ps in runs.values() for p in ps if p.curves is not None]
    for phase in dict.fromkeys(p.phase for p in periods):
        stack = np.stack([p.curves for p in periods if p.phase == phase])  # (T, 2, S, L, C)
        print(f"\n{phase}: log(1 + r) of a slice set to each share in every cell")
        print("| slice | curve | " + " | ".join(f"{x:.2f}" for x in LEVELS) + " |")
        print("|---|---|" + "---|" * len(LEVELS))
        for s, sid in enumerate(slice_ids):
            if np.isnan(stack[:, 0, s]).all():
                continue
            for k, name in enumerate(("network", "estimator mean")):
                values = np.nanmean(stack[:, k, s], axis=(0, 2))
                print(f"| {sid} | {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")


def diagnose(
    scenario: str,
    overrides: dict[str, Any],
    seed: int,
    agent_spec: str,
    settings: dict[str, Any],
    every: int,
    oracle_x: np.ndarray | None,
    draws: int,
    curves: bool = False,
) -> list[Period]:
    """Run the agent on one seed and diagnose its scored decisions (module docstring)."""
    torch.set_num_threads(1)  # as a bench job runs: the same numbers
    env = make_env(scenario, overrides)
    base: Any = env.unwrapped
    spec = SlicingSpec.from_env(env)
    agent = make_agent(agent_spec, settings)
    obs, info = env.reset(seed=seed)
    agent.reset(spec, seed)
    replica = Network(spec.config, seed=base.net.seed)
    oracle = None
    if oracle_x is None:
        oracle = SimOracleAgent(draws=draws, every=every)
        oracle.reset(spec, seed)
        oracle.bind_simulator(base)
    out: list[Period] = []
    first, changed_at = spec.config.timeline.first_phase_end, 0
    for t in range(spec.config.timeline.n_periods):
        action = agent.act(obs, info)
        if t > 0 and not np.array_equal(info["active_next"], info["active"]):
            changed_at = t
        decision = getattr(agent, "decision", None)
        if (
            t >= first
            and scored_periods(t, every)
            and decision is not None
            and decision.period == t
        ):
            active = np.asarray(info["active_next"], dtype=bool)
            state = base.net.get_state()
            best = oracle.act(obs, info) if oracle is not None else oracle_x[t]  # type: ignore[index]
            shares = np.stack([equal_split(active), action, agent.unbounded(), best])
            r = replica.replay(shares, states=[state]).r[0]
            objective, mean = estimates(agent, shares)
            realised = np.where(active, np.log1p(r), 0.0)
            phase = str(info["phase_next"])
            out.append(Period(t, phase, t - changed_at, active, shares, objective, mean, realised))
            if curves:
                out[-1].curves = share_curves(agent, replica, state, action, active)
        next_obs, reward, _, _, next_info = env.step(action)
        if out and out[-1].period == t:  # the live period ran on the replays' draw
            offered = next_info["kpi"]["demand_mbps"]
            out[-1].told = told_estimates(agent, spec, out[-1].shares, offered)
        agent.observe(obs, action, reward, next_obs, next_info)
        obs, info = next_obs, next_info
    return out


def _mean_ci(values: list[float]) -> str:
    """Mean over seeds ± the 95 % t-interval half-width (the mean alone for one seed)."""
    return estimate(values).text()


def summarise(runs: dict[int, list[Period]], slice_ids: tuple[int, ...]) -> dict[str, Any]:
    """Per phase and seed: the report's numbers (module docstring)."""
    out: dict[str, Any] = {}
    phases = list(dict.fromkeys(p.phase for periods in runs.values() for p in periods))
    for phase in phases:
        per_seed: dict[str, list[Any]] = {}
        for periods in runs.values():
            sel = [p for p in periods if p.phase == phase]
            if not sel:
                continue
            for key, value in _phase_numbers(sel, slice_ids).items():
                per_seed.setdefault(key, []).append(value)
        out[phase] = per_seed
    return out


def _phase_numbers(periods: list[Period], slice_ids: tuple[int, ...]) -> dict[str, Any]:
    """One seed's numbers over the diagnosed periods of one phase."""
    pred = np.stack([p.predicted for p in periods])  # (T, 4, C, S)
    mean = np.stack([p.mean for p in periods])
    real = np.stack([p.realised for p in periods])
    active = np.stack([p.active for p in periods])
    shares = np.stack([p.shares for p in periods])
    eq, own, free, orc = range(4)
    total = lambda a: a.sum(axis=(-1, -2))  # noqa: E731  (T, 4)
    tp, tm, tr = total(pred), total(mean), total(real)
    per_slice = lambda a: (a[:, orc] - a[:, own]).sum(axis=1).mean(axis=0)  # noqa: E731  (S,)
    early = np.array([p.since_change < EARLY for p in periods])
    ranking_error = (tp[:, orc] - tp[:, own]) - (tr[:, orc] - tr[:, own])
    far = np.abs(shares[:, orc] - shares[:, eq])[active]
    dist = lambda k: float(np.abs(shares[:, k] - shares[:, eq])[active].mean())  # noqa: E731
    numbers = {
        "periods": len(periods),
        "own: predicted gain": float((tp[:, own] - tp[:, eq]).mean()),
        "own: realised gain": float((tr[:, own] - tr[:, eq]).mean()),
        "free: predicted gain": float((tp[:, free] - tp[:, eq]).mean()),
        "free: realised gain": float((tr[:, free] - tr[:, eq]).mean()),
        "oracle: predicted gain": float((tp[:, orc] - tp[:, eq]).mean()),
        "oracle: realised gain": float((tr[:, orc] - tr[:, eq]).mean()),
        "ranks oracle >= own (objective)": float((tp[:, orc] >= tp[:, own] - 1e-6).mean()),
        "ranks oracle >= own (mean)": float((tm[:, orc] >= tm[:, own] - 1e-6).mean()),
        "oracle - own: mean": float((tm[:, orc] - tm[:, own]).mean()),
        "oracle - own: predicted": float((tp[:, orc] - tp[:, own]).mean()),
        "oracle - own: realised": float((tr[:, orc] - tr[:, own]).mean()),
        "ranking error": float(ranking_error.mean()),
        "ranking error, early": float(ranking_error[early].mean()) if early.any() else None,
        "ranking error, later": float(ranking_error[~early].mean()) if (~early).any() else None,
        "oracle shares > 0.2 from equal": float((far > TRUST + 1e-9).mean()),
        "mean distance from equal: own": dist(own),
        "mean distance from equal: oracle": dist(orc),
    }
    if all(p.told is not None for p in periods):
        tt = total(np.stack([p.told for p in periods]))
        told_ranks = tt[:, orc] >= tt[:, own] - 1e-6
        numbers["told: ranks oracle >= own (mean)"] = float(told_ranks.mean())
        numbers["told: oracle - own (mean)"] = float((tt[:, orc] - tt[:, own]).mean())
    pred_s, real_s = per_slice(pred), per_slice(real)
    gain = lambda a: (a[:, own] - a[:, eq]).sum(axis=1).mean(axis=0)  # noqa: E731  (S,)
    cells = np.maximum(active.sum(axis=1), 1)  # (T, S)
    bias = lambda k: ((pred[:, k] - real[:, k]).sum(axis=1) / cells).mean(axis=0)  # noqa: E731
    gain_p, gain_r, bias_eq, bias_own = gain(pred), gain(real), bias(eq), bias(own)
    for s, sid in enumerate(slice_ids):
        if active[..., s].any():
            numbers[f"slice {sid}: oracle - own predicted"] = float(pred_s[s])
            numbers[f"slice {sid}: oracle - own realised"] = float(real_s[s])
            numbers[f"slice {sid}: own - equal predicted"] = float(gain_p[s])
            numbers[f"slice {sid}: own - equal realised"] = float(gain_r[s])
            numbers[f"slice {sid}: bias at equal shares (per cell)"] = float(bias_eq[s])
            numbers[f"slice {sid}: bias at own shares (per cell)"] = float(bias_own[s])
    return numbers


def print_report(summary: dict[str, Any]) -> None:
    """Markdown: one column per phase, each number the mean over seeds ± its 95 % interval."""
    phases = list(summary)
    keys = list(dict.fromkeys(k for ph in phases for k in summary[ph]))
    print("| quantity (log(1 + r) per period, summed over cells) | " + " | ".join(phases) + " |")
    print("|---|" + "---|" * len(phases))
    for key in keys:
        cells = []
        for ph in phases:
            values = [v for v in summary[ph].get(key, []) if v is not None]
            cells.append(_mean_ci(values) if values else "-")
        print(f"| {key} | " + " | ".join(cells) + " |")


def save_records(path: Path, runs: dict[int, list[Period]]) -> None:
    """Every diagnosed period's arrays, per seed (``s<seed>_<field>``), in one ``.npz``."""
    arrays: dict[str, np.ndarray] = {}
    for seed, periods in runs.items():
        for name in ("period", "phase", "since_change", "active", "shares", "predicted", "mean"):
            arrays[f"s{seed}_{name}"] = np.array([getattr(p, name) for p in periods])
        arrays[f"s{seed}_realised"] = np.array([p.realised for p in periods])
    np.savez_compressed(path, **arrays)


def _job(args: tuple[Any, ...]) -> tuple[int, list[Period]]:
    scenario, overrides, seed, spec, settings, every, bench, draws, curves = args
    return seed, diagnose(
        scenario,
        overrides,
        seed,
        spec,
        settings,
        every,
        oracle_shares(bench, seed, scenario, overrides),
        draws,
        curves,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--seeds", default="1", help="a count N (0..N-1) or a list (5,7,11)")
    parser.add_argument("--periods", type=int, default=None, help="compress the timeline")
    parser.add_argument("--set", action="append", default=[], dest="sets", metavar="KEY=VALUE")
    parser.add_argument("--agent", default="idla", help="idla or package.module:Class")
    parser.add_argument("--bench", type=Path, default=None, help="a bench with sim-oracle runs")
    parser.add_argument("--draws", type=int, default=ORACLE_DRAWS, help="live sim-oracle's K")
    parser.add_argument("--every", type=int, default=None, help="default: the bench's")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    parser.add_argument("--records", type=Path, default=None, help="save every period (.npz)")
    parser.add_argument(
        "--curves", action="store_true", help="each slice's r against its share, and the estimate"
    )
    args = parser.parse_args(argv)
    given = [int(s) for s in args.seeds.split(",")]
    seeds = seed_list(given if len(given) > 1 else given[0])
    scenario_sets, agent_sets = split_settings(
        single_values(parse_sets(args.sets), "diagnose"), [args.agent]
    )
    config, overrides = scenario_overrides(args.scenario, False, args.periods, scenario_sets)
    every = args.every or default_every(config.timeline)
    start = time.perf_counter()
    jobs = [
        (
            args.scenario,
            overrides,
            s,
            args.agent,
            agent_sets[args.agent],
            every,
            args.bench,
            args.draws,
            args.curves,
        )
        for s in seeds
    ]
    if args.workers > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            runs = dict(pool.map(_job, jobs))
    else:
        runs = dict(_job(j) for j in jobs)
    summary = summarise(runs, load_scenario(args.scenario).slice_ids)
    label = agent_label(args.agent)
    print(f"{label} on {args.scenario} {overrides}, seeds {seeds}, every {every}-th period:\n")
    print_report(summary)
    if args.curves:
        print_curves(runs, load_scenario(args.scenario).slice_ids)
    print(f"\n{time.perf_counter() - start:.0f} s in all", file=sys.stderr)
    if args.records is not None:
        save_records(args.records, runs)
    if args.json is not None:
        args.json.write_text(json.dumps({"agent": label, "seeds": seeds, **summary}, indent=1))


if __name__ == "__main__":
    main()
