"""Command line: ``slicesim simulate`` (fixed allocations), ``slicesim bench`` (the paper
benchmark, transfer with ``--pretrain-scenario``), ``slicesim sweep`` (grids of scenario
overrides), ``slicesim train td3`` (offline TD3), ``slicesim calibrate`` (the radio against
3GPP, the KPIs against a TTI scheduler). Bad input ends with one line naming the flag."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from slicesim import __version__
from slicesim.config import ConfigError, list_scenarios, load_scenario
from slicesim.io import check_output_dir
from slicesim.rollout import MIN_SCORED, ORACLE_DRAWS, ORACLE_EVERY

__all__ = ["main"]


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low`` (argparse names the flag in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


_nonneg_int = _int_at_least(0)
_pos_int = _int_at_least(1)


def _seeds(text: str) -> int | list[int]:
    """``--seeds``: a count (``3``: seeds 0, 1, 2) or a comma-separated list (``5,7,11``)."""
    if "," not in text:
        return _pos_int(text)
    seeds = [_nonneg_int(part.strip()) for part in text.split(",") if part.strip()]
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"a seed is repeated in {text!r}")
    return seeds


def _simulate(args: argparse.Namespace) -> int:
    from slicesim.experiments.simulate import simulate

    config = load_scenario(args.scenario)
    periods = args.periods if args.periods is not None else config.timeline.n_periods
    out = check_output_dir(args.out)
    kpm_csv = Path(args.kpm_csv) if args.kpm_csv else None
    summary = simulate(
        config, args.policy, periods, args.seed, out, progress=not args.quiet, kpm_csv=kpm_csv
    )
    if not args.quiet:
        print(json.dumps(summary, indent=2))
        print(f"wrote {out / 'trajectory.csv'}, trajectory.npz and summary.json")
        if kpm_csv is not None:
            print(f"wrote {kpm_csv}")
    return 0


def _run_options(args: argparse.Namespace) -> Any:
    """The ``RunOptions`` of ``bench`` and ``sweep``: their shared flags."""
    from slicesim.experiments.jobs import RunOptions

    return RunOptions(
        quick=args.quick,
        periods=args.periods,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
        oracle_draws=args.oracle_draws,
        oracle_every=args.oracle_every,
        csv=getattr(args, "csv", False),
        progress=not args.quiet,
    )


def _bench(args: argparse.Namespace) -> int:
    from slicesim.experiments.bench import bench
    from slicesim.experiments.report import summary_table

    check_output_dir(args.out)
    agents = [a for a in args.agents.split(",") if a] + list(args.agent or [])
    result = bench(
        args.scenario,
        agents,
        args.seeds,
        args.out,
        _run_options(args),
        overrides=_overrides(args.set, "bench"),
        pretrain_scenario=args.pretrain_scenario,
    )
    kept = f"; {len(result.skipped)} finished ones re-used" if result.skipped else ""
    print(f"{len(result.ran)} runs done{kept}; wrote {result.report}, bench.json and the figures")
    if result.report is None or args.quiet:
        return 0
    if args.verbose:
        print(result.report.read_text())
    elif result.numbers is not None:
        print(summary_table(result.numbers, result.meta, result.report))
    return 0


def _add_runs(p: argparse.ArgumentParser) -> None:
    """The options ``bench`` and ``sweep`` share: agents, seeds, timeline, oracles, executor."""
    from slicesim.experiments.bench import BUILTIN_AGENTS, DEFAULT_AGENTS

    names = ", ".join(BUILTIN_AGENTS)
    p.add_argument("--scenario", default="paper", help="shipped scenario or YAML path")
    p.add_argument(
        "--agents", default=DEFAULT_AGENTS, help=f"comma-separated built-in agents ({names})"
    )
    p.add_argument(
        "--agent",
        action="append",
        metavar="package.module:Class",
        help="a user agent class (no-arg constructor); may be repeated",
    )
    p.add_argument(
        "--seeds",
        type=_seeds,
        default=1,
        metavar="N|S1,S2,...",
        help="a count N (seeds 0..N-1) or a list of seeds (5,7,11); same traffic per seed",
    )
    p.add_argument("--out", required=True)
    p.add_argument(
        "--quick", action="store_true", help="timelines compressed to 450 periods, 10 s windows"
    )
    p.add_argument(
        "--periods",
        type=_pos_int,
        default=None,
        metavar="N",
        help="compress the timeline to N periods (phases scaled)",
    )
    p.add_argument(
        "--oracle-draws",
        type=_pos_int,
        default=ORACLE_DRAWS,
        metavar="K",
        help=f"sim-oracle: draws of each period it optimises over (>= 1; default {ORACLE_DRAWS}, "
        "converged on paper)",
    )
    p.add_argument(
        "--oracle-every",
        type=_pos_int,
        default=None,
        metavar="k",
        help="sim oracles evaluate every k-th period; all agents are scored there "
        f"(default {ORACLE_EVERY}, less where a phase would keep under {MIN_SCORED} periods)",
    )
    p.add_argument("--executor", choices=["local", "ray"], default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    p.add_argument(
        "--workers", type=_pos_int, default=2, help="parallel runs (local pool / Ray CPUs)"
    )
    p.add_argument("--quiet", action="store_true")


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="run agents on the scenario timeline; figures and report")
    _add_runs(p)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a scenario field (traffic.load_scale=1.2) or an agent setting "
        "(agent.td3.learning_rate=3e-4), repeatable",
    )
    p.add_argument(
        "--pretrain-scenario",
        default=None,
        metavar="A",
        help="transfer: learning agents train on A, then deploy here",
    )
    p.add_argument("--csv", action="store_true", help="also write each run's trajectory.csv")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="print the whole report (default: a summary table; the report is in OUT/report.md)",
    )
    p.set_defaults(func=_bench)


def _sweep(args: argparse.Namespace) -> int:
    from slicesim.experiments.sweep import sweep
    from slicesim.typed_config import parse_sets

    check_output_dir(args.out)
    agents = [a for a in args.agents.split(",") if a] + list(args.agent or [])
    result = sweep(args.scenario, parse_sets(args.set), agents, args.seeds, args.out,
                   _run_options(args))  # fmt: skip
    print(
        f"{len(result.points)} points, ran {len(result.ran)} runs; wrote "
        f"{Path(args.out) / 'sweep.csv'}, sweep.png and report.md"
    )
    return 0


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser("sweep", help="a grid of scenario and agent settings x agents x seeds")
    _add_runs(p)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1,V2,...",
        help="a scenario field or an agent setting and its values, repeatable (e.g. "
        "traffic.load_scale=0.5,1,1.5 or agent.idla.online.trust=0.1,0.3)",
    )
    p.set_defaults(func=_sweep)


def _calibrate_kpi(args: argparse.Namespace, out: Path) -> int:
    from slicesim.experiments.kpi_validation import (
        kpi_table,
        plot_validation,
        validate_kpis,
        write_validation,
    )

    if args.reference:
        raise ValueError("--kpi validates a scenario's KPIs: give --scenario, not --reference")
    say = None if args.quiet else print
    overrides = _overrides(args.set, "calibrate")
    result = validate_kpis(args.scenario, draws=args.draws, overrides=overrides, progress=say)
    paths = [
        write_validation(result, out / "kpi_validation.json"),
        plot_validation(result, out / "kpi_validation.png"),
    ]
    if not args.quiet:
        print(kpi_table(result))
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from slicesim.experiments import calibrate as cal

    out = check_output_dir(args.out)
    if args.kpi:
        return _calibrate_kpi(args, out)
    if args.reference:
        result = cal.reference_run(args.reference, args.seeds)
    else:
        config = load_scenario(args.scenario, _overrides(args.set, "calibrate"))
        result = cal.radio_calibration(config, args.seeds)
    paths = cal.write_calibration(result, out)
    if not args.quiet:
        print(cal.calibration_table(result))
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _add_calibrate(sub: Any) -> None:
    from slicesim.sim.calibration import REFERENCES

    p = sub.add_parser(
        "calibrate",
        help="the radio against the 3GPP calibration (or, with --kpi, the KPIs against a TTI "
        "scheduler)",
        description="Coupling loss, geometry (full-load SINR) and SIR of the drop pool, beside "
        "the 3GPP references: OUT/calibration.json, OUT/calibration.png and a table. --reference "
        "runs that reference's own 19-site network with its own radio parameters. --kpi instead "
        "replays the scenario's busiest period at loads 0.5, 1 and 1.5 with every slice at "
        "shares 0.05..0.90 and compares the flow-level KPIs with a 1 ms TTI-level scheduler on "
        "the same users and bursts: OUT/kpi_validation.json, OUT/kpi_validation.png.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scenario", default="paper", help="shipped scenario or YAML path")
    which.add_argument("--reference", choices=sorted(REFERENCES), default=None)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scenario override, repeatable (e.g. radio.model=legacy)",
    )
    p.add_argument("--seeds", type=_pos_int, default=2, help="drop pools 0..N-1, pooled")
    p.add_argument(
        "--draws",
        type=_pos_int,
        default=16,
        help="--kpi: draws of the busiest period, all cells each",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--kpi",
        action="store_true",
        help="the flow-level KPIs against the TTI-level reference instead",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_calibrate)


def _overrides(items: Sequence[str], command: str) -> dict[str, object]:
    """``--set KEY=VALUE`` items of a command that runs one configuration."""
    from slicesim.typed_config import parse_sets, single_values

    return single_values(parse_sets(items), command)


def _train(args: argparse.Namespace) -> int:
    from slicesim.experiments.registry import load_object

    # the agent's own training code, found by import string like every agent (plugins)
    td3_config = load_object("agents.td3.config:TD3Config")
    settings_class = load_object("agents.td3.training:TrainSettings")
    train_offline = load_object("agents.td3.training:train_offline")

    scenario = load_scenario(args.scenario, _overrides(args.set, "train"))
    n = min(args.episode_periods, scenario.timeline.n_periods)
    settings = settings_class(
        out=check_output_dir(args.out),
        steps=args.steps,
        scenario=scenario.compressed(n) if n < scenario.timeline.n_periods else scenario,
        config=td3_config.from_yaml(args.config) if args.config else td3_config(),
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_periods=args.eval_periods,
        tensorboard=args.tensorboard,
        resume=args.resume,
        progress=not args.quiet,
        replicas=args.replicas,
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
        "Writes OUT/model.zip (TD3Agent.load(OUT)), OUT/td3.yaml, OUT/evaluations.csv and "
        "OUT/checkpoints/ (model, replay buffer, step count: --resume continues there).",
    )
    train.add_argument("agent", choices=["td3"])
    train.add_argument("--scenario", default="paper", help="shipped scenario or YAML path")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="scenario override, repeatable (e.g. sim.window_s=5.0)",
    )
    train.add_argument("--steps", type=_pos_int, required=True, help="total timesteps to reach")
    train.add_argument("--out", required=True, help="output folder")
    train.add_argument(
        "--config",
        default=None,
        help="YAML overriding hyperparameters (defaults: agents.td3.TD3Config)",
    )
    train.add_argument("--seed", type=_nonneg_int, default=0)
    train.add_argument(
        "--episode-periods",
        type=_pos_int,
        default=500,
        help="episode length; longer timelines are compressed",
    )
    train.add_argument("--checkpoint-every", type=_nonneg_int, default=12_000, metavar="STEPS")
    train.add_argument(
        "--eval-every",
        type=_nonneg_int,
        default=12_000,
        metavar="STEPS",
        help="0: no periodic evaluation",
    )
    train.add_argument(
        "--eval-periods",
        type=_pos_int,
        default=24,
        help="periods of one evaluation (timeline compressed)",
    )
    train.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="TensorBoard log folder (needs tensorboard)",
    )
    train.add_argument(
        "--replicas",
        type=_pos_int,
        default=1,
        help="networks collected from at once (seeds SEED, SEED+1, ...), stepped in one pass",
    )
    train.add_argument("--resume", action="store_true", help="continue from OUT's last checkpoint")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slicesim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"slicesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="run a fixed allocation and write per-period KPIs")
    shipped = ", ".join(list_scenarios())
    sim.add_argument("--scenario", default="paper", help=f"shipped ({shipped}) or YAML path")
    sim.add_argument(
        "--periods",
        type=_pos_int,
        default=None,
        help="control periods to run (default: the scenario's timeline)",
    )
    sim.add_argument("--policy", choices=["equal", "traffic"], default="equal")
    sim.add_argument(
        "--seed",
        type=_nonneg_int,
        default=0,
        help="the env's seed: the traffic of the benchmark's seed S",
    )
    sim.add_argument(
        "--out", required=True, help="output folder (trajectory.csv, .npz, summary.json)"
    )
    sim.add_argument(
        "--kpm-csv",
        default=None,
        metavar="FILE",
        help="also write the KPIs under their 3GPP TS 28.552 / E2SM-KPM names (one row per "
        "period, cell and active slice, the slice by its S-NSSAI)",
    )
    sim.add_argument("--quiet", action="store_true")
    sim.set_defaults(func=_simulate)
    _add_bench(sub)
    _add_sweep(sub)
    _add_train(sub)
    _add_calibrate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slicesim`` command."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # argparse: --help, --version, or a bad flag (named, no traceback)
        return int(done.code or 0)
    try:
        return int(args.func(args))
    except (ConfigError, OSError, ValueError, RuntimeError) as err:
        print(f"slicesim: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
