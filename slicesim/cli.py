"""Command line: ``slicesim simulate`` (fixed allocations); more commands join as they land."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
