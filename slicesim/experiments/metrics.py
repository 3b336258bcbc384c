"""The benchmark's numbers: one run's metrics, and their estimates over seeds, as typed records.

Scored periods: from the end of the collection phase (H0) on, and only the periods the
simulator oracle evaluated when it ran with ``every = k`` (:func:`slicesim.rollout.
scored_periods`; the same for every agent). Per run and slice set (:class:`SetMetrics`): mean
utility, mean r and P(r = 1) over all scored periods and over the busy hours (the top quarter of
the periods by expected demand), the converged P(r = 1) (second half of the set's periods), the
recovery after the set began, and the median decision time. Over seeds (:class:`SetSummary`):
each as a mean with its 95 % interval, the paired difference of the utility against the floor
(same traffic per seed) and the share of the gap to the yardstick that is closed.

Which run is the floor and which the yardstick is read from the agents' declared roles
(``agents.base.Agent.role``), never from their names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slicesim.experiments.stats import Estimate, estimate, gap_closed, paired
from slicesim.rollout import PeriodSummary, Trajectory, scored_periods
from slicesim.sim import p_satisfied

__all__ = [
    "BUSY_QUANTILE",
    "SUBSETS",
    "RunMetrics",
    "SetMetrics",
    "SetSummary",
    "SubsetMetrics",
    "SubsetSummary",
    "busy_periods",
    "recovery_periods",
    "run_metrics",
    "slice_set_keys",
    "summarise",
    "summary_as_dict",
    "verdict",
]

SUBSETS = ("all", "busy")
BUSY_QUANTILE = 0.75  # busy hours: the top quarter of the periods by expected demand


def busy_periods(demand: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """The busy hours among the periods ``sel``: the top quarter by expected ``demand``."""
    return sel & (demand >= np.quantile(demand[sel], BUSY_QUANTILE))


def slice_set_keys(traj: Trajectory) -> np.ndarray:
    """The active slice set of every period, as a key like ``"[1, 2, 4]"``."""
    active: np.ndarray = np.asarray(traj.stacked("active").any(axis=1))  # (T, S)
    return np.array([str([traj.slice_ids[s] for s in np.flatnonzero(row)]) for row in active])


def recovery_periods(mean_r: np.ndarray, target: float, block: int) -> int | None:
    """Periods until the first block of ``block`` periods whose mean r reaches ``target``.

    Blocks of a day compare like with like under the daily traffic cycle; None if no block does.
    """
    n = len(mean_r) // block
    means = mean_r[: n * block].reshape(n, block).mean(axis=1)
    hit = np.flatnonzero(means >= target)
    return int(hit[0]) * block if len(hit) else None


def _plain(obj: Any) -> Any:
    """JSON-able data of a record (estimates as dicts)."""
    if isinstance(obj, Estimate):
        return obj.as_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------- one run


SubsetMetrics = PeriodSummary
"""One run's means over a subset of its periods (all scored periods of a slice set, or its busy
hours): the rollout's one per-period summary, :meth:`Trajectory.summarise`."""


@dataclass(frozen=True)
class SetMetrics:
    """One run's metrics over the periods of one slice set."""

    all: SubsetMetrics
    busy: SubsetMetrics
    converged_p_r1: float
    recovery_periods: int | None
    decision_ms: float
    recovery_measurable: bool = True
    """The slice set lasts two days or more: a recovery is measured on whole days (shorter
    blocks would compare different hours of the daily cycle, not a recovery)."""

    def subset(self, name: str) -> SubsetMetrics:
        """``all`` or ``busy``."""
        return self.all if name == "all" else self.busy


@dataclass(frozen=True)
class RunMetrics:
    """One run: its metrics per slice set (keys like ``"[1, 2, 4]"``), its learning time and
    the agent's own stats."""

    sets: dict[str, SetMetrics]
    learn_s: float
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able data (``bench.json``'s ``per_run``)."""
        return dict(_plain(self))


def run_metrics(traj: Trajectory, collect: int, every: int, day: int) -> RunMetrics:
    """One run's metrics per slice set: subsets ``all`` and ``busy``, recovery (where the set
    lasts two days or more), timings.

    Args:
        traj: the run.
        collect: first scored period (the end of the collection phase).
        every: the simulator oracles evaluated every ``every``-th period: only those are scored.
        day: periods of a day (the recovery's block).
    """
    periods = traj.periods
    keys = slice_set_keys(traj)
    scored = (periods >= collect) & scored_periods(periods, every)
    demand = traj.series("expected_demand_mbps")
    r_all, active = traj.stacked("r"), traj.stacked("active")
    mean_r = np.array([q[a].mean() if a.any() else 1.0 for q, a in zip(r_all, active, strict=True)])
    sets = {}
    for key in dict.fromkeys(keys[scored]):
        sel = scored & (keys == key)
        live = np.flatnonzero((keys == key) & (periods >= collect))
        late = live[len(live) // 2 :]
        measurable = len(live) >= 2 * day
        target = 0.98 * float(mean_r[late].mean())
        sets[str(key)] = SetMetrics(
            all=traj.summarise(sel),
            busy=traj.summarise(busy_periods(demand, sel)),
            converged_p_r1=p_satisfied(r_all[late][active[late]]),
            recovery_periods=recovery_periods(mean_r[live], target, day) if measurable else None,
            decision_ms=float(1e3 * np.median(traj.series("decision_s")[sel])),
            recovery_measurable=measurable,
        )
    return RunMetrics(sets, float(traj.series("learn_s").sum()), dict(traj.meta.get("stats", {})))


# ---------------------------------------------------------------------------- over seeds


@dataclass(frozen=True)
class SubsetSummary:
    """An agent's estimates over seeds on one subset of a slice set's periods."""

    mean_utility: Estimate
    mean_r: Estimate
    p_r1: Estimate
    diff_vs_equal: Estimate
    """Paired difference of the mean utility against the floor (same traffic per seed)."""
    gap_closed: Estimate
    """(U - U_floor) / (U_yardstick - U_floor), a ratio of the seeds' means."""


@dataclass(frozen=True)
class SetSummary:
    """An agent's estimates over seeds on one slice set."""

    all: SubsetSummary
    busy: SubsetSummary
    decision_ms: Estimate
    recovery_periods: Estimate
    converged_p_r1: Estimate
    recovered: str
    """Seeds whose recovery ended, e.g. ``"2/3"``; ``"n/a"`` where the slice set lasts under
    two days (:attr:`SetMetrics.recovery_measurable`)."""
    learn_s: Estimate
    learned: bool
    """Every seed's run learned (an agent's ``stats()["learned"]``; True if it does not say)."""

    def subset(self, name: str) -> SubsetSummary:
        """``all`` or ``busy``."""
        return self.all if name == "all" else self.busy


def _subset_summary(
    mine: dict[int, SetMetrics],
    floor: dict[int, SetMetrics],
    bound: dict[int, SetMetrics],
    subset: str,
) -> SubsetSummary:
    seeds = sorted(mine)

    def values(runs: dict[int, SetMetrics], name: str, which: list[int]) -> list[float]:
        return [getattr(runs[s].subset(subset), name) for s in which]

    common = [s for s in seeds if s in floor]
    both = [s for s in common if s in bound]
    return SubsetSummary(
        mean_utility=estimate(values(mine, "mean_utility", seeds)),
        mean_r=estimate(values(mine, "mean_r", seeds)),
        p_r1=estimate(values(mine, "p_r1", seeds)),
        diff_vs_equal=paired(
            values(mine, "mean_utility", common), values(floor, "mean_utility", common)
        ),
        gap_closed=gap_closed(
            values(mine, "mean_utility", both),
            values(floor, "mean_utility", both),
            values(bound, "mean_utility", both),
        ),
    )


def summarise(
    runs: Mapping[str, Mapping[int, RunMetrics]], floor: str | None, yardstick: str | None
) -> dict[str, dict[str, SetSummary]]:
    """Per agent and slice set: estimates over seeds, paired against the floor.

    Args:
        runs: per agent and seed, its run's metrics.
        floor: the agent the differences and the gap are measured from (its declared role);
            None if the benchmark has none.
        yardstick: the agent that closes the gap (its declared role); None if none.
    """
    out: dict[str, dict[str, SetSummary]] = {}
    for agent, per_seed in runs.items():
        sets = list(dict.fromkeys(k for m in per_seed.values() for k in m.sets))
        out[agent] = {}
        for key in sets:
            mine = {s: m.sets[key] for s, m in per_seed.items() if key in m.sets}
            lows = {s: m.sets[key] for s, m in runs.get(floor or "", {}).items() if key in m.sets}
            tops = {
                s: m.sets[key] for s, m in runs.get(yardstick or "", {}).items() if key in m.sets
            }
            seeds = sorted(mine)
            recovery = [mine[s].recovery_periods for s in seeds]
            out[agent][key] = SetSummary(
                all=_subset_summary(mine, lows, tops, "all"),
                busy=_subset_summary(mine, lows, tops, "busy"),
                decision_ms=estimate([mine[s].decision_ms for s in seeds]),
                recovery_periods=estimate([np.nan if v is None else v for v in recovery]),
                converged_p_r1=estimate([mine[s].converged_p_r1 for s in seeds]),
                recovered=(
                    f"{sum(v is not None for v in recovery)}/{len(recovery)}"
                    if all(mine[s].recovery_measurable for s in seeds)
                    else "n/a"
                ),
                learn_s=estimate([per_seed[s].learn_s for s in sorted(per_seed)]),
                learned=all(m.stats.get("learned", True) for m in per_seed.values()),
            )
    return out


def summary_as_dict(summary: Mapping[str, Mapping[str, SetSummary]]) -> dict[str, Any]:
    """JSON-able data of a summary (``bench.json``'s ``summary``)."""
    return {agent: {key: _plain(e) for key, e in per.items()} for agent, per in summary.items()}


def verdict(diff: Estimate) -> str:
    """How a paired difference against the floor reads, the same rule on either side.

    ``above`` / ``below`` where the 95 % interval lies above / below 0, ``ties`` where it holds
    0; with a single seed (no interval) ``above (1 seed)`` / ``below (1 seed)`` by the sign alone,
    marked so, and ``n/a`` without a value.
    """
    if not np.isfinite(diff.mean):
        return "n/a"
    if diff.n < 2 or not np.isfinite(diff.half_width):
        return ("above" if diff.mean > 0 else "below" if diff.mean < 0 else "ties") + " (1 seed)"
    return "above" if diff.low > 0 else "below" if diff.high < 0 else "ties"
