"""The benchmark report, as text: every agent read against the yardsticks, over seeds.

The numbers come from :mod:`slicesim.experiments.metrics` (typed records), the figures from
:mod:`slicesim.experiments.figures`. The floor and the yardstick are the agents whose declared
role (``agents.base.Agent.role``, recorded in the run's ``meta["roles"]``) says so. A difference
against the floor reads the same on either side: above or below where its 95 % interval
excludes 0, ties where it holds 0; with one seed there is no interval and the sign alone is
reported, marked "(1 seed)".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.experiments.figures import (
    fig2_masks,
    fig3_mae,
    fig4_throughput,
    fig5_cdf,
    fig_transfer,
)
from slicesim.experiments.metrics import (
    SUBSETS,
    RunMetrics,
    SetSummary,
    run_metrics,
    summarise,
    summary_as_dict,
    verdict,
)
from slicesim.io import atomic_write
from slicesim.rollout import Trajectory

__all__ = [
    "PAPER_ESTIMATOR_MAE",
    "BenchNumbers",
    "role_of",
    "smoke_note",
    "summary_table",
    "write_report",
]

PAPER_ESTIMATOR_MAE = 0.0639
"""The paper's estimator test MAE of r (Hu et al., Section V-B)."""
_REFERENCE_ROLES = ("floor", "yardstick", "bound")
_NOTES = {
    "floor": "floor",
    "yardstick": "yardstick (replays the simulator)",
    "bound": "yardstick (replays the simulator); clairvoyant upper bound",
}


def role_of(name: str, roles: Mapping[str, str]) -> str:
    """The declared role of a run's agent; a transfer variant (``idla (paper, frozen)``) has
    its agent's."""
    return roles.get(name, roles.get(name.split(" (")[0], "controller"))


@dataclass(frozen=True)
class BenchNumbers:
    """Every number of a benchmark: per agent and seed its metrics, per agent and slice set the
    estimates over seeds, and which agents were the floor and the yardstick."""

    per_run: dict[str, dict[int, RunMetrics]]
    summary: dict[str, dict[str, SetSummary]]
    floor: str | None
    yardstick: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able data (``bench.json``)."""
        return {
            "floor": self.floor,
            "yardstick": self.yardstick,
            "per_run": {
                a: {s: m.as_dict() for s, m in per.items()} for a, per in self.per_run.items()
            },
            "summary": summary_as_dict(self.summary),
        }


def _tables(summary: dict[str, dict[str, SetSummary]], roles: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    keys = list(dict.fromkeys(k for per in summary.values() for k in per))
    for key in keys:
        for subset in SUBSETS:
            label = (
                "all scored periods" if subset == "all" else "busy hours (top quarter of demand)"
            )
            lines += [
                f"### Slices {key}: {label}",
                "",
                "| agent | mean utility | mean r | P(r = 1) | ΔU vs equal | gap closed | "
                "decision ms | learning s | note |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for agent, per in summary.items():
                if key not in per:
                    continue
                e = per[key]
                c = e.subset(subset)
                diff = c.diff_vs_equal
                role = role_of(agent, roles)
                mark = " ✓" if role != "floor" and verdict(diff) == "above" else ""
                note = _NOTES.get(role, "" if e.learned else "**did not learn in this run**")
                lines.append(
                    f"| {agent} | {c.mean_utility.text()} | {c.mean_r.text(3)} | "
                    f"{c.p_r1.text(3)} | {diff.text()}{mark} | {c.gap_closed.text()} | "
                    f"{e.decision_ms.text()} | {e.learn_s.text(1)} | {note} |"
                )
            lines.append("")
    return lines


def _recovery(
    summary: dict[str, dict[str, SetSummary]],
    roles: Mapping[str, str],
    paper: Mapping[str, Mapping[str, float]],
) -> list[str]:
    """The learners' recovery after a slice-set change, beside the paper's figure if any."""
    lines = [
        "| agent | slices | recovery (periods) | converged P(r = 1) | paper P(r = 1) |",
        "|---|---|---|---|---|",
    ]
    for agent, per in summary.items():
        if role_of(agent, roles) in (*_REFERENCE_ROLES, "baseline"):
            continue
        reference = paper.get(agent, paper.get(agent.split(" (")[0], {}))
        for key, e in per.items():
            recovery = (
                "n/a (the slice set lasts under two days)"
                if e.recovered == "n/a"
                else f"{e.recovery_periods.text(0)} ({e.recovered} seeds)"
            )
            lines.append(
                f"| {agent} | {key} | {recovery} | "
                f"{e.converged_p_r1.text(3)} | {reference.get(key, '')} |"
            )
    return lines


def _transfer(summary: dict[str, dict[str, SetSummary]], transfer: dict[str, Any]) -> list[str]:
    """Per learning agent: trained on this scenario next to pretrained elsewhere."""
    if not transfer:
        return []
    source = transfer["from"]
    lines = [
        f"## Transfer: pretrained on `{source}`, deployed here",
        "",
        f"Each learning agent ran `{source}`'s whole timeline, was saved, loaded and deployed "
        "here without retraining (frozen) or learning on from this network's KPIs (online), "
        "beside the same agent trained here. Gap closed and ΔU vs equal, all scored periods "
        "(busy hours in brackets).",
        "",
        "| agent | slices | gap closed | ΔU vs equal | vs equal |",
        "|---|---|---|---|---|",
    ]
    for label, variants in transfer["agents"].items():
        for name in (label, *variants):
            for key, e in summary.get(name, {}).items():
                c, b = e.all, e.busy
                lines.append(
                    f"| {name} | {key} | {c.gap_closed.text()} ({b.gap_closed.text()}) | "
                    f"{c.diff_vs_equal.text()} ({b.diff_vs_equal.text()}) | "
                    f"{verdict(c.diff_vs_equal)} |"
                )
    return [*lines, ""]


_READS = {
    "above": "above equal shares",
    "below": "below equal shares",
    "ties": "ties equal shares",
    "above (1 seed)": "above equal shares (1 seed: no interval)",
    "below (1 seed)": "below equal shares (1 seed: no interval)",
    "ties (1 seed)": "equal to equal shares (1 seed: no interval)",
    "n/a": "n/a",
}


def _findings(summary: dict[str, dict[str, SetSummary]], roles: Mapping[str, str]) -> list[str]:
    """Plain sentences: who is above or below the floor where, and how much of the gap they
    close (the same rule on either side)."""
    out = []
    for agent, per in summary.items():
        if role_of(agent, roles) in _REFERENCE_ROLES:
            continue
        for key, e in per.items():
            parts = []
            for subset in SUBSETS:
                c = e.subset(subset)
                parts.append(
                    f"{subset}: {_READS[verdict(c.diff_vs_equal)]} (ΔU {c.diff_vs_equal.text()}, "
                    f"gap closed {c.gap_closed.text()})"
                )
            out.append(f"- **{agent}**, slices {key}: " + "; ".join(parts) + ".")
    return out


def _estimator_errors(done: Sequence[Any]) -> tuple[np.ndarray | None, str]:
    """Test errors of a trained estimator, an r-target one first (the paper's units)."""
    found = []
    for job in done:
        folder = Path(job.folder)
        if (folder / "estimator_errors.npy").is_file():
            meta = folder / "estimator.json"
            target = json.loads(meta.read_text()).get("target", "r") if meta.is_file() else "r"
            found.append((target != "r", np.load(folder / "estimator_errors.npy"), target))
    if not found:
        return None, "r"
    _, errors, target = min(found, key=lambda f: f[0])
    return errors, target


def _draws(meta: dict[str, Any], yardstick: str | None) -> int:
    """K of the run's sim-oracle: its own setting (``--set agent.sim-oracle.draws``) if any,
    else ``--oracle-draws``."""
    return int(meta.get("settings", {}).get(yardstick, {}).get("draws", meta["oracle_draws"]))


def smoke_note(n_seeds: int, n_periods: int, full_periods: int) -> str:
    """What a one-seed or shortened run can say ("" for a run with intervals on the scenario's
    whole timeline)."""
    why = []
    if n_seeds < 2:
        why.append("one seed: no intervals")
    if n_periods < full_periods:
        why.append(f"the timeline compressed from {full_periods} to {n_periods} periods")
    if not why:
        return ""
    return (
        f"**A smoke run** ({'; '.join(why)}): it shows that every agent runs, not how they "
        "rank. The signs of its differences may differ from the full 3-seed benchmark's "
        "(`benchmarks/RESULTS.md`, the site's Results page)."
    )


def summary_table(
    numbers: BenchNumbers, meta: dict[str, Any], report: Path | None = None, limit: int = 40
) -> str:
    """The report's gist in at most ``limit`` lines: per agent and slice set, over all scored
    periods, the utility, ΔU vs the floor, the gap closed and P(r = 1); then where the full
    report is."""
    roles = meta.get("roles", {})
    seeds = {s for per in numbers.per_run.values() for s in per}
    n_periods = int(meta.get("n_periods", 0))
    head = [
        "| agent | slices | mean utility | ΔU vs equal | gap closed | P(r = 1) |",
        "|---|---|---|---|---|---|",
    ]
    rows = []
    for agent, per in numbers.summary.items():
        for key, e in per.items():
            c = e.all
            role = role_of(agent, roles)
            mark = " ✓" if role != "floor" and verdict(c.diff_vs_equal) == "above" else ""
            label = f"{agent} ({role})" if role in _REFERENCE_ROLES else agent
            rows.append(
                f"| {label} | {key} | {c.mean_utility.text()} | {c.diff_vs_equal.text()}{mark} | "
                f"{c.gap_closed.text()} | {c.p_r1.text(3)} |"
            )
    note = smoke_note(len(seeds), n_periods, int(meta.get("full_periods", n_periods)))
    tail = [
        "",
        *([note, ""] if note else []),
        f"Full report (busy hours, recovery, decision times): {report or 'report.md'}"
        " (--verbose prints it).",
    ]
    room = limit - len(head) - len(tail) - 2
    if len(rows) > room:
        rows = [*rows[: room - 1], f"| ... {len(rows) - room + 1} more rows in the report | |||||"]
    scored = "all scored periods" + (", ✓ = interval above 0" if len(seeds) > 1 else "")
    return "\n".join([f"Seeds {sorted(seeds)}; {scored}:", "", *head, *rows, *tail])


def write_report(
    out: Path,
    config: ScenarioConfig,
    jobs: Sequence[Any],
    meta: dict[str, Any],
    figures: bool = True,
) -> tuple[Path, BenchNumbers]:
    """Read the finished runs, write the figures and ``report.md``; return its numbers.

    ``meta`` is the run's record (:func:`slicesim.experiments.bench.run_meta`): the agents'
    ``roles`` name the floor and the yardstick, ``paper`` the paper's figures per agent.
    """
    done = [job for job in jobs if job.done_file.is_file()]
    collect, day = config.timeline.first_phase_end, config.sim.periods_per_day
    every, roles = meta["oracle_every"], meta.get("roles", {})
    per_run: dict[str, dict[int, RunMetrics]] = {}
    first: dict[str, Trajectory] = {}
    for job in done:
        traj = Trajectory.load(job.folder)
        per_run.setdefault(traj.agent, {})[job.seed] = run_metrics(traj, collect, every, day)
        if job.seed == min(j.seed for j in done):
            first[traj.agent] = traj
    floor = next((a for a in per_run if role_of(a, roles) == "floor"), None)
    yardstick = next((a for a in per_run if role_of(a, roles) == "yardstick"), None)
    summary = summarise(per_run, floor, yardstick)
    errors, target = _estimator_errors(done)
    if figures:
        references = {a for a in per_run if role_of(a, roles) in ("floor", "yardstick")}
        fig2_masks(config, out / "fig2_traffic_mask.png")
        fig3_mae(errors, target, out / "fig3_estimator_mae.png")
        fig4_throughput(first, config, out / "fig4_throughput.png", references)
        fig5_cdf(first, collect, every, out / "fig5_qos_cdf.png", references)
        if meta.get("transfer") and yardstick is not None:
            fig_transfer(summary, meta["transfer"], out / "fig_transfer.png")
    seeds = sorted({job.seed for job in done})
    scored = f"from period {collect} on (after H0's collection)"
    if every > 1:
        scored += f", every {every}-th period only (the periods the sim-oracle evaluated)"
    lines = [
        f"# Benchmark report: {config.name}",
        "",
        f"Agents {list(summary)}, seeds {seeds}, {config.timeline.n_periods} periods "
        f"(phase starts {[p.start for p in config.timeline.phases]}); quick = {meta['quick']}. "
        f"Scored periods: {scored}. Values are means over seeds ± the 95 % interval half-width.",
        "",
        *(
            [note, ""]
            if (
                note := smoke_note(
                    len(seeds),
                    config.timeline.n_periods,
                    int(meta.get("full_periods", config.timeline.n_periods)),
                )
            )
            else []
        ),
        f"Yardsticks: **{floor}** is the floor; **{yardstick}** replays the simulator and "
        f"picks the shares with the best mean utility over K = {_draws(meta, yardstick)} other "
        "draws of the same period (it knows the traffic statistics, not the draw): the "
        "achievable yardstick. ΔU vs equal is the paired difference against the floor (same "
        "traffic per "
        + (
            "seed; one seed here: no interval, so no difference is marked as significant); "
            if len(seeds) < 2
            else "seed; ✓ = its 95 % interval lies above 0); "
        )
        + "gap closed = (U - U_floor) / (U_yardstick - U_floor). Decision time is act() only; "
        "learning time (observe: training) is apart.",
        "",
        *_tables(summary, roles),
        *_transfer(summary, meta.get("transfer", {})),
        "## Findings",
        "",
        *_findings(summary, roles),
        "",
        "## Recovery after a slice-set change and the paper's figures",
        "",
        "Recovery = periods from the slice set's first scored period until the first day "
        f"({day} periods) whose mean r reaches 98 % of the agent's converged mean (second half "
        "of the set's periods), over the seeds that reach it; n/a where the set lasts under two "
        "days (blocks shorter than a day would compare different hours of the daily cycle, not "
        "a recovery). Converged P(r = 1) over that second half.",
        "",
        *_recovery(summary, roles, meta.get("paper", {})),
        "",
        (
            f"Estimator test MAE of r: {errors.mean():.4f} (paper {PAPER_ESTIMATOR_MAE})."
            if target == "r"
            else f"Estimator test MAE of E[log(1 + r)] / log 2: {errors.mean():.4f}."
        )
        if errors is not None
        else "",
        "Figures: fig2_traffic_mask.png, fig3_estimator_mae.png, fig4_throughput.png, "
        "fig5_qos_cdf.png (first seed). Per-seed numbers: bench.json.",
        "",
    ]
    with atomic_write(out / "report.md") as fh:
        fh.write("\n".join(lines))
    return out / "report.md", BenchNumbers(per_run, summary, floor, yardstick)
