"""``slicesim sweep``: a grid of scenario overrides x agents x seeds, every point a bench run.

``slicesim sweep --scenario paper --set traffic.load_scale=0.5,0.75,1,1.25,1.5 --agents
equal,traffic,idla,sim-oracle --seeds 3 --out DIR`` writes, into DIR:

* ``points/<key=value...>/``: each point's runs, ``report.md`` and ``bench.json``;
* ``sweep.csv``: one row per point, agent, seed and slice set (columns: one per swept key, then
  ``agent, seed, slices, mean_utility, mean_r, p_r1, gap_closed, decision_ms``);
* ``sweep.png``: P(r = 1) and the gap closed against the first swept key, 95 % bands over seeds;
* ``report.md``: the same as tables, and where each agent stops beating equal shares.

Every job of every point goes to one executor (the local process pool or Ray), so the grid spreads
over all workers. Finished runs are kept: the same command again skips them, and an interrupted
sweep loses at most the runs in flight. Every ``--set`` value of every point is checked before any
run starts (a bad key, value or list index fails naming it).
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ConfigError
from slicesim.experiments.bench import agent_settings, check_options, engines_of, run_meta
from slicesim.experiments.jobs import Job, RunOptions, execute, seed_list
from slicesim.experiments.metrics import verdict
from slicesim.experiments.registry import agent_label
from slicesim.experiments.report import BenchNumbers, write_report
from slicesim.experiments.stats import Estimate
from slicesim.io import atomic_write, write_csv
from slicesim.typed_config import parse_sets

__all__ = ["COLUMNS", "SweepResult", "parse_sets", "sweep"]  # parse_sets: re-exported

COLUMNS = ("agent", "seed", "slices", "mean_utility", "mean_r", "p_r1", "gap_closed", "decision_ms")
"""Columns of ``sweep.csv`` after the swept keys."""
GAP_AXIS = (-4.0, 2.0)  # the figure's gap-closed axis at most (0 = equal, 1 = sim-oracle)


def _slug(point: dict[str, Any]) -> str:
    """A folder name for a point: ``key=value`` pairs joined by ``__``."""
    return "__".join(f"{k}={v}" for k, v in point.items()).replace("/", "_")


@dataclass
class SweepResult:
    """What :func:`sweep` produced."""

    out: Path
    points: list[dict[str, Any]] = field(default_factory=list)
    ran: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    """``sweep.csv``'s rows: per point, agent, seed and slice set."""
    cells: list[dict[str, Any]] = field(default_factory=list)
    """Per point, agent and slice set: the estimates over seeds (``Estimate``)."""


def sweep(
    scenario: str,
    sets: dict[str, list[Any]],
    agents: Sequence[str],
    seeds: int | Sequence[int],
    out: str | Path,
    options: RunOptions | None = None,
    **option_fields: Any,
) -> SweepResult:
    """Run the grid (module docstring) and write ``sweep.csv``, ``sweep.png`` and ``report.md``.

    Args:
        scenario: a shipped scenario or a YAML path.
        sets: per ``--set`` key (a scenario field or ``agent.<name>.<field>``) its values.
        agents: built-in names or ``package.module:Class``, as for a bench.
        seeds: a count N (seeds 0..N-1) or the seeds themselves.
        out: the output folder.
        options: how to run (:class:`~slicesim.experiments.jobs.RunOptions`, as for a bench;
            ``csv`` is ignored); or give its fields as keywords.

    Raises:
        ConfigError, ValueError: a bad option, key, value or index - before any run starts.
    """
    if not sets:
        raise ConfigError("sweep needs at least one --set KEY=V1,V2,...")
    opts = options or RunOptions(**option_fields)
    quick, executor, oracle_draws = opts.quick, opts.executor, opts.oracle_draws
    out = Path(out)
    keys = list(sets)
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*sets.values())]
    planned = []
    for point in points:  # every point's scenario and agents are built (checked) before any run
        try:
            config, extra, settings, every = agent_settings(scenario, agents, point, opts)
            check_options(agents, seeds, executor, settings)
        except ConfigError as err:
            raise ConfigError(f"--set {_slug(point)}: {err}") from None
        folder = out / "points" / _slug(point)
        jobs = [
            Job(
                scenario,
                extra,
                spec,
                seed,
                str(folder / "runs" / f"{agent_label(spec)}-s{seed}"),
                settings[spec],
            )
            for seed in seed_list(seeds)
            for spec in agents
        ]
        meta = run_meta(scenario, point, quick, executor, oracle_draws, every, agents, settings)
        planned.append((point, config, folder, jobs, meta))
    result = SweepResult(out, points)
    all_jobs = [job for _, _, _, jobs, _ in planned for job in jobs]
    result.ran = execute(all_jobs, executor, opts.workers, opts.address, opts.progress)
    for point, config, folder, jobs, meta in planned:
        meta["engine"] = engines_of(jobs)
        _, numbers = write_report(folder, config, jobs, meta, figures=False)
        with atomic_write(folder / "bench.json") as fh:
            json.dump({**meta, **numbers.as_dict()}, fh, indent=2, default=str)
        result.rows += _rows(point, numbers)
        result.cells += _cells(point, numbers)
    table = {k: np.array([row[k] for row in result.rows]) for k in (*keys, *COLUMNS)}
    write_csv(out / "sweep.csv", table)
    _figure(result.cells, keys, out / "sweep.png")
    _report(result.cells, keys, scenario, seed_list(seeds), out / "report.md")
    return result


def _rows(point: dict[str, Any], numbers: BenchNumbers) -> list[dict[str, Any]]:
    """``sweep.csv`` rows of one point: agent, seed and slice set (all scored periods); the gap
    closed of one seed is its own ratio (the reports use the ratio of the seeds' means)."""
    rows = []
    floor = numbers.per_run.get(numbers.floor or "", {})
    bound = numbers.per_run.get(numbers.yardstick or "", {})
    for agent, seeds in numbers.per_run.items():
        for seed, metrics in sorted(seeds.items()):
            for key, m in metrics.sets.items():
                u = m.all.mean_utility
                gap = float("nan")
                if seed in floor and seed in bound and key in floor[seed].sets:
                    if key in bound[seed].sets:
                        u_floor = floor[seed].sets[key].all.mean_utility
                        width = bound[seed].sets[key].all.mean_utility - u_floor
                        gap = (u - u_floor) / width if width > 1e-9 else float("nan")
                rows.append(
                    {
                        **point,
                        "agent": agent,
                        "seed": int(seed),
                        "slices": key,
                        "mean_utility": u,
                        "mean_r": m.all.mean_r,
                        "p_r1": m.all.p_r1,
                        "gap_closed": gap,
                        "decision_ms": m.decision_ms,
                    }
                )
    return rows


def _cells(point: dict[str, Any], numbers: BenchNumbers) -> list[dict[str, Any]]:
    """One record per agent and slice set of a point: its estimates over seeds (the report's),
    and whether it is the floor.

    The gap closed is n/a in a slice set where the yardstick is not above the floor (its paired
    interval reaches 0): there is no gap to close, and the ratio is noise over noise."""
    out = []
    for agent, per in numbers.summary.items():
        for key, e in per.items():
            out.append({**point, "agent": agent, "slices": key, "floor": agent == numbers.floor,
                        "p_r1": e.all.p_r1, "gap_closed": e.all.gap_closed,
                        "diff_vs_equal": e.all.diff_vs_equal})  # fmt: skip
    no_gap = {c["slices"] for c in out if c["agent"] == numbers.yardstick
              and verdict(c["diff_vs_equal"]) != "above"}  # fmt: skip
    for c in out:
        if c["slices"] in no_gap:
            c["gap_closed"] = Estimate(float("nan"), float("nan"), c["gap_closed"].n)
    return out


def _lines(cells: list[dict[str, Any]], keys: list[str]) -> dict[tuple, list[dict[str, Any]]]:
    """Records grouped by (slices, agent, the other keys' values), sorted by the first key."""
    lines: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        other = tuple(cell[k] for k in keys[1:])
        lines.setdefault((cell["slices"], cell["agent"], other), []).append(cell)
    return {k: sorted(v, key=lambda c: _order(c[keys[0]])) for k, v in lines.items()}


def _figure(cells: list[dict[str, Any]], keys: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = _lines(cells, keys)
    sets = list(dict.fromkeys(k[0] for k in lines))
    labels = list(dict.fromkeys(_label(agent, other, keys) for _, agent, other in lines))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    fig, axes = plt.subplots(2, len(sets), figsize=(4.6 * len(sets), 6), squeeze=False)
    for col, key in enumerate(sets):
        for (s, agent, other), points in lines.items():
            if s != key:
                continue
            xs = [c[keys[0]] for c in points]
            pos = np.array(xs) if all(_numeric(x) for x in xs) else np.arange(len(xs))
            label = _label(agent, other, keys)
            for row, metric in enumerate(("p_r1", "gap_closed")):
                if metric == "gap_closed" and points[0]["floor"]:
                    continue
                mean = np.array([c[metric].mean for c in points])
                half = np.nan_to_num(np.array([c[metric].half_width for c in points]))
                axes[row, col].plot(
                    pos, mean, marker="o", lw=1.2, label=label, color=colours[label]
                )
                axes[row, col].fill_between(
                    pos, mean - half, mean + half, alpha=0.2, color=colours[label]
                )
        axes[0, col].set(title=f"slices {key}", ylabel="P(r = 1)")
        low, high = axes[1, col].get_ylim()  # a tiny gap makes huge ratios: show [-4, 2]
        axes[1, col].set_ylim(max(low, GAP_AXIS[0]), min(high, GAP_AXIS[1]))
        axes[1, col].set(xlabel=keys[0], ylabel="gap closed (axis within [-4, 2])")
        axes[1, col].axhline(0.0, color="k", lw=0.6)
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def _label(agent: str, other: tuple, keys: list[str]) -> str:
    return agent + ("" if not other else f" {dict(zip(keys[1:], other, strict=True))}")


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if _numeric(value) else (1, str(value))


def _where(key: str, results: list[tuple[Any, bool]]) -> str:
    """Where an agent beats equal shares along the swept values, and where it stops."""
    good = [x for x, beats in results if beats]
    bad = [x for x, beats in results if not beats]
    if not good:
        return f"does not beat equal shares at any {key} ({', '.join(map(str, bad))})."
    if not bad:
        return f"beats equal shares at every {key}."
    after = [x for x, beats in results if not beats and _order(x) > _order(good[0])]
    stop = f"; it stops at {key} = {after[0]}" if after else ""
    return (
        f"beats equal shares at {key} = {', '.join(map(str, good))}, not at "
        f"{', '.join(map(str, bad))}{stop}."
    )


def _report(
    cells: list[dict[str, Any]], keys: list[str], scenario: str, seeds: list[int], path: Path
) -> None:
    lines = _lines(cells, keys)
    text = [
        f"# Sweep of `{scenario}` over {', '.join(keys)}",
        "",
        f"{len(seeds)} seed(s) per point ({', '.join(map(str, seeds))}); all scored periods "
        "(see each point's report.md). "
        "Mean ± 95 % interval over seeds; ΔU vs equal is the paired difference (same traffic "
        "per seed); gap closed = (U - U_equal) / (U_sim-oracle - U_equal), a ratio of the "
        "seeds' means; n/a where the sim-oracle does not beat equal shares (no gap to close).",
        "",
    ]
    for key in dict.fromkeys(k[0] for k in lines):
        text += [
            f"## Slices {key}",
            "",
            f"| {' | '.join(keys)} | agent | P(r = 1) | ΔU vs equal | gap closed | vs equal |",
            "|" + "---|" * (len(keys) + 5),
        ]
        verdicts = []
        for (s, agent, other), points in lines.items():
            if s != key:
                continue
            results = []
            floor = points[0]["floor"]
            for c in points:
                read = verdict(c["diff_vs_equal"])
                results.append((c[keys[0]], read == "above"))
                values = [str(c[keys[0]]), *(str(v) for v in other)]
                text.append(
                    f"| {' | '.join(values)} | {agent} | {c['p_r1'].text(3)} | "
                    f"{c['diff_vs_equal'].text()} | {c['gap_closed'].text()} | "
                    f"{'-' if floor else read} |"
                )
            if not floor:
                suffix = "" if not other else f" ({dict(zip(keys[1:], other, strict=True))})"
                single = any(c["diff_vs_equal"].n < 2 for c in points)
                where = "one seed: no interval (the table gives each sign)" if single else (
                    _where(keys[0], results))  # fmt: skip
                verdicts.append(f"- {agent}{suffix}: {where}")
        text += ["", *verdicts, ""]
    with atomic_write(path) as fh:
        fh.write("\n".join(text))
