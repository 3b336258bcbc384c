"""Command line: ``slicesim simulate`` (fixed allocations), ``slicesim train td3`` (offline TD3)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tqdm import tqdm

from slicesim.config import ConfigError, list_scenarios, load_scenario
from slicesim.io import atomic_write, kpi_table, write_kpi_csv
from slicesim.policies import POLICIES
from slicesim.sim.engine import Network
from slicesim.sim.kpi import utility

__all__ = ["main"]


def _simulate(args: argparse.Namespace) -> int:
    config = load_scenario(args.scenario)
    periods = args.periods if args.periods is not None else config.timeline.n_periods
    if periods < 1:
        raise ConfigError(f"--periods = {periods} is out of range: allowed >= 1")
    net = Network(config, seed=args.seed)
    policy = POLICIES[args.policy]
    reports = []
    start = time.perf_counter()
    for _ in tqdm(range(periods), desc=f"simulate {config.name}", unit="period",
                  disable=args.quiet):  # fmt: skip
        reports.append(net.run_period(policy(net)))
    elapsed = time.perf_counter() - start
    table = kpi_table(reports, config)
    out = Path(args.out)
    write_kpi_csv(out / "kpis.csv", table)
    active = table["active"] == 1
    r = table["qos"][active]
    summary = {
        "scenario": config.name,
        "policy": args.policy,
        "seed": args.seed,
        "periods": periods,
        "mean_utility_per_period": utility(r) / periods,
        "mean_qos": float(r.mean()),
        "p_qos_1": float(np.mean(r >= 1.0 - 1e-9)),
        "periods_per_s": periods / elapsed,
    }
    with atomic_write(out / "summary.json") as fh:
        json.dump(summary, fh, indent=2)
    if not args.quiet:
        print(json.dumps(summary, indent=2))
        print(f"wrote {out / 'kpis.csv'} and {out / 'summary.json'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.paper_bench import bench

    agents = [a for a in args.agents.split(",") if a] + list(args.agent or [])
    result = bench(args.scenario, agents, args.seeds, args.out, quick=args.quick,
                   executor=args.executor, address=args.address, workers=args.workers)  # fmt: skip
    print(f"ran {len(result.ran)} runs, kept {len(result.skipped)} finished ones")
    if result.report is not None:
        print(result.report.read_text())
    return 0


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="run agents on the scenario timeline; figures and report")
    p.add_argument("--scenario", default="paper")
    p.add_argument("--agents", default="idla,td3,traffic,oracle",
                   help="comma-separated built-in agents (idla, td3, traffic, oracle)")  # fmt: skip
    p.add_argument("--agent", action="append", metavar="package.module:Class",
                   help="a user agent class (no-arg constructor); may be repeated")  # fmt: skip
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true", help="a shortened timeline (about a minute)")
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument("--workers", type=int, default=2, help="parallel runs (local pool / Ray CPUs)")
    p.set_defaults(func=_bench)


def _overrides(items: Sequence[str]) -> dict[str, object]:
    """``--set KEY=VALUE`` items as scenario overrides (values parsed as YAML)."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. sim.window_s=5.0")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _train(args: argparse.Namespace) -> int:
    from agents.td3 import TD3Config
    from agents.td3_train import TrainSettings, compress_timeline, train_offline

    if args.steps < 1:
        raise ConfigError(f"--steps = {args.steps} is out of range: allowed >= 1")
    scenario = load_scenario(args.scenario, _overrides(args.set))
    n = min(args.episode_periods, scenario.timeline.n_periods)
    settings = TrainSettings(
        out=Path(args.out),
        steps=args.steps,
        scenario=compress_timeline(scenario, n) if n < scenario.timeline.n_periods else scenario,
        config=TD3Config.from_yaml(args.config),
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_periods=args.eval_periods,
        tensorboard=args.tensorboard,
        resume=args.resume,
        progress=not args.quiet,
    )
    model = train_offline(settings)
    if not args.quiet:
        print(f"trained {model.num_timesteps} timesteps; wrote {Path(args.out) / 'model.zip'}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="train an agent offline (TD3: stable-baselines3 learn() on the per-cell VecEnv)",
        description="Timesteps count cell transitions: one per cell per period (12 on paper). "
        "Writes OUT/model.zip (TD3Agent().load(OUT)), OUT/td3.yaml, OUT/evaluations.csv and "
        "OUT/checkpoints/ (model, replay buffer, step count: --resume continues there).",
    )
    train.add_argument("agent", choices=["td3"])
    train.add_argument("--scenario", default="paper", help="shipped scenario or YAML path")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="scenario override, repeatable (e.g. sim.window_s=5.0)")  # fmt: skip
    train.add_argument("--steps", type=int, required=True, help="total timesteps to reach")
    train.add_argument("--out", required=True, help="output folder")
    train.add_argument("--config", default=None, help="hyperparameters (default agents/td3.yaml)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--episode-periods", type=int, default=500,
                       help="episode length; longer timelines are compressed")  # fmt: skip
    train.add_argument("--checkpoint-every", type=int, default=12_000, metavar="STEPS")
    train.add_argument("--eval-every", type=int, default=12_000, metavar="STEPS",
                       help="0: no periodic evaluation")  # fmt: skip
    train.add_argument("--eval-periods", type=int, default=24,
                       help="periods of one evaluation (timeline compressed)")  # fmt: skip
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="TensorBoard log folder (needs tensorboard)")  # fmt: skip
    train.add_argument("--resume", action="store_true", help="continue from OUT's last checkpoint")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slicesim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run a fixed allocation and write per-period KPIs")
    shipped = ", ".join(list_scenarios())
    sim.add_argument("--scenario", default="paper", help=f"shipped ({shipped}) or YAML path")
    sim.add_argument("--periods", type=int, default=None,
                     help="control periods to run (default: the scenario's timeline)")  # fmt: skip
    sim.add_argument("--policy", choices=sorted(POLICIES), default="equal")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", required=True, help="output folder (kpis.csv, summary.json)")
    sim.add_argument("--quiet", action="store_true")
    sim.set_defaults(func=_simulate)
    _add_bench(sub)
    _add_train(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slicesim`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"slicesim: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
