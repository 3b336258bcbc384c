"""The benchmark report: every agent read against the yardsticks, over seeds, with figures 2-5.

Scored periods: from the end of the collection phase (H0) on, and only the periods the
simulator oracle evaluated when it ran with ``every = k`` (the same for every agent). Per agent,
slice set and subset (all periods; busy hours = the top quarter of the periods' expected demand):
mean utility, mean r, P(r = 1), the paired difference of the utility against equal shares (same
traffic per seed) and the share of the gap closed, ``(U - U_equal) / (U_sim-oracle - U_equal)``,
each as a mean with its 95 % interval over seeds.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.experiments.stats import Estimate, estimate, gap_closed, paired
from slicesim.io import atomic_write
from slicesim.rollout import Trajectory, scored_periods
from slicesim.sim import p_satisfied
from slicesim.sim.traffic import TrafficMasks

__all__ = ["FLOOR", "PAPER", "YARDSTICK", "busy_periods", "run_metrics", "write_report"]

FLOOR, YARDSTICK = "equal", "sim-oracle"
#: The paper's figures (Hu et al., Section V): IDLA's converged P(r = 1) per slice set, MAE.
PAPER: dict[str, Any] = {
    "p_qos_1": {"[1, 2, 4]": 0.973, "[1, 2, 3, 4]": 0.629},
    "estimator_mae": 0.0639,
}
SUBSETS = ("all", "busy")
METRICS = ("mean_utility", "mean_r", "p_r1")
BUSY_QUANTILE = 0.75  # busy hours: the top quarter of the periods by expected demand


def busy_periods(demand: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """The busy hours among the periods ``sel``: the top quarter by expected ``demand``."""
    return sel & (demand >= np.quantile(demand[sel], BUSY_QUANTILE))


# ---------------------------------------------------------------------------- per run


def slice_set_keys(traj: Trajectory) -> np.ndarray:
    """The active slice set of every period, as a key like ``"[1, 2, 4]"``."""
    active: np.ndarray = np.asarray(traj.stacked("active").any(axis=1))  # (T, S)
    return np.array([str([traj.slice_ids[s] for s in np.flatnonzero(row)]) for row in active])


def _subset(traj: Trajectory, sel: np.ndarray) -> dict[str, float]:
    r = traj.stacked("r")[sel][traj.stacked("active")[sel]]
    return {
        "mean_utility": float(traj.utility[sel].mean()) if sel.any() else float("nan"),
        "mean_r": float(r.mean()) if r.size else float("nan"),
        "p_r1": p_satisfied(r),
        "periods": int(sel.sum()),
    }


def recovery_periods(mean_r: np.ndarray, target: float, block: int) -> int | None:
    """Periods until the first block of ``block`` periods whose mean r reaches ``target``.

    Blocks of a day compare like with like under the daily traffic cycle.
    """
    n = len(mean_r) // block
    means = mean_r[: n * block].reshape(n, block).mean(axis=1)
    hit = np.flatnonzero(means >= target)
    return int(hit[0]) * block if len(hit) else None


def run_metrics(traj: Trajectory, collect: int, every: int, day: int) -> dict[str, Any]:
    """One run's metrics per slice set: subsets ``all`` and ``busy``, recovery, timings."""
    periods = traj.periods
    keys = slice_set_keys(traj)
    scored = (periods >= collect) & scored_periods(periods, every)
    demand = traj.series("expected_demand_mbps")
    r_all, active = traj.stacked("r"), traj.stacked("active")
    mean_r = np.array([q[a].mean() if a.any() else 1.0 for q, a in zip(r_all, active, strict=True)])
    out: dict[str, Any] = {}
    for key in dict.fromkeys(keys[scored]):
        sel = scored & (keys == key)
        busy = busy_periods(demand, sel)
        live = np.flatnonzero((keys == key) & (periods >= collect))
        late = live[len(live) // 2 :]
        block = max(1, min(day, len(live) // 4))
        target = 0.98 * float(mean_r[late].mean())
        out[key] = {
            "all": _subset(traj, sel),
            "busy": _subset(traj, busy),
            "converged_p_r1": p_satisfied(r_all[late][active[late]]),
            "recovery_periods": recovery_periods(mean_r[live], target, block),
            "decision_ms": float(1e3 * np.median(traj.series("decision_s")[sel])),
        }
    out["learn_s"] = float(traj.series("learn_s").sum())
    out["stats"] = traj.meta.get("stats", {})
    return out


# ---------------------------------------------------------------------------- over seeds


def summarise(runs: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Per agent, slice set and subset: estimates over seeds, paired against the floor."""
    floor, bound = runs.get(FLOOR, {}), runs.get(YARDSTICK, {})
    out: dict[str, Any] = {}
    for agent, per_seed in runs.items():
        seeds = sorted(per_seed)
        sets = list(dict.fromkeys(k for m in per_seed.values() for k in m if k.startswith("[")))
        out[agent] = {}
        for key in sets:
            entry: dict[str, Any] = {}
            for subset in SUBSETS:
                cell = {
                    m: estimate([per_seed[s][key][subset][m] for s in seeds if key in per_seed[s]])
                    for m in METRICS
                }
                common = [s for s in seeds if key in per_seed[s] and s in floor and key in floor[s]]
                u = [per_seed[s][key][subset]["mean_utility"] for s in common]
                u_floor = [floor[s][key][subset]["mean_utility"] for s in common]
                cell["diff_vs_equal"] = paired(u, u_floor)
                both = [s for s in common if s in bound and key in bound[s]]
                cell["gap_closed"] = gap_closed(
                    [per_seed[s][key][subset]["mean_utility"] for s in both],
                    [floor[s][key][subset]["mean_utility"] for s in both],
                    [bound[s][key][subset]["mean_utility"] for s in both],
                )
                entry[subset] = cell
            for name in ("decision_ms", "recovery_periods", "converged_p_r1"):
                values = [per_seed[s][key][name] for s in seeds if key in per_seed[s]]
                entry[name] = estimate([np.nan if v is None else v for v in values])
            recovered = [
                per_seed[s][key]["recovery_periods"] is not None
                for s in seeds
                if key in per_seed[s]
            ]
            entry["recovered"] = f"{sum(recovered)}/{len(recovered)}"
            entry["learn_s"] = estimate([per_seed[s]["learn_s"] for s in seeds])
            entry["learned"] = all(per_seed[s]["stats"].get("learned", True) for s in seeds)
            out[agent][key] = entry
    return out


def _plain(obj: Any) -> Any:
    """JSON-able copy of a summary (estimates as dicts)."""
    if isinstance(obj, Estimate):
        return obj.as_dict()
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------- figures


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (NaNs ignored)."""
    valid = np.isfinite(y)
    kernel = np.ones(window)
    num = np.convolve(np.where(valid, y, 0.0), kernel)[: len(y)]
    den = np.convolve(valid.astype(float), kernel)[: len(y)]
    return num / np.maximum(den, 1.0)


def fig2_masks(config: ScenarioConfig, path: Path) -> None:
    plt = _plt()
    masks = TrafficMasks(config, seed=0).series(0, min(200, 4 * config.sim.periods_per_day))
    fig, ax = plt.subplots(figsize=(7, 3))
    for s, sl in enumerate(config.slices):
        ax.plot(masks[:, s], label=f"slice {sl.id} ({sl.profile})")
    ax.set(
        xlabel=f"period ({config.sim.period_s / 60:g} min)",
        ylabel="traffic mask",
        title=f"Traffic masks, first {len(masks)} periods",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    _save(fig, path)


def fig3_mae(errors: np.ndarray | None, target: str, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    if errors is None:
        ax.text(0.5, 0.5, "no IDLA run: no estimator", ha="center", va="center")
    else:
        ax.hist(errors, bins=50)
        what = "r" if target == "r" else "E[log(1 + r)] / log 2"
        paper = " (paper 0.0639)" if target == "r" else ""
        ax.set(
            xlabel=f"absolute error of {what} (test split)",
            ylabel="samples",
            title=f"QoS estimator MAE {errors.mean():.4f}{paper}",
        )
    fig.tight_layout()
    _save(fig, path)


def fig4_throughput(runs: dict[str, Trajectory], config: ScenarioConfig, path: Path) -> None:
    plt = _plt()
    n = config.n_slices
    fig, axes = plt.subplots(n, 1, figsize=(8, 1.9 * n), sharex=True, squeeze=False)
    need = config.thr_need_mbps
    for name, traj in runs.items():
        thr = traj.stacked("thr_mbps")
        ratio = np.where(traj.stacked("active") & (thr > 0), thr / need, np.nan)
        with warnings.catch_warnings():  # all-NaN columns: the slice is inactive then
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(np.clip(ratio, 0.01, 10), axis=1)  # (T, S)
        window = max(5, len(mean) // 100)
        style = {"lw": 1.6, "ls": "--"} if name in (FLOOR, YARDSTICK) else {"lw": 1}
        for s, ax in enumerate(axes[:, 0]):
            y = _smooth(mean[:, s], window)
            ax.plot(np.where(np.isnan(mean[:, s]), np.nan, y), label=name, **style)
    for s, ax in enumerate(axes[:, 0]):
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_yscale("log")
        for phase in config.timeline.phases[1:]:
            ax.axvline(phase.start, color="grey", lw=0.6)
        ax.set_ylabel(f"slice {config.slices[s].id}\nthr / thr*", fontsize=8)
    axes[0, 0].legend(fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("period")
    fig.suptitle("Average user throughput over its need (moving average, mean over cells)")
    fig.tight_layout()
    _save(fig, path)


def fig5_cdf(runs: dict[str, Trajectory], collect: int, every: int, path: Path) -> None:
    plt = _plt()
    keys = list(dict.fromkeys(k for t in runs.values() for k in slice_set_keys(t)))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        for name, traj in runs.items():
            p = traj.periods
            sel = (slice_set_keys(traj) == key) & (p >= collect) & scored_periods(p, every)
            if not sel.any():
                continue
            r = np.sort(traj.stacked("r")[sel][traj.stacked("active")[sel]])
            style = {"lw": 1.8, "ls": "--"} if name in (FLOOR, YARDSTICK) else {"lw": 1}
            ax.step(r, np.arange(1, len(r) + 1) / len(r), where="post", label=name, **style)
        ax.set(xlabel="QoS satisfaction r", ylabel="CDF", title=f"slices {key} (scored periods)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def fig_transfer(summary: dict[str, Any], transfer: dict[str, Any], path: Path) -> None:
    """Gap closed (all scored periods) of each learner trained here and pretrained elsewhere."""
    plt = _plt()
    keys = list(dict.fromkeys(k for per in summary.values() for k in per))
    names = [n for label, variants in transfer["agents"].items() for n in (label, *variants)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        shown = [n for n in names if key in summary.get(n, {})]
        est = [summary[n][key]["all"]["gap_closed"] for n in shown]
        pos = np.arange(len(shown))
        ax.bar(
            pos,
            [e.mean for e in est],
            yerr=np.nan_to_num([e.half_width for e in est]),
            color=[
                "tab:blue" if "(" not in n else "tab:orange" if "frozen" in n else "tab:green"
                for n in shown
            ],
            capsize=3,
        )
        ax.set_xticks(pos, shown, rotation=35, ha="right", fontsize=7)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.axhline(1.0, color="grey", lw=0.6, ls="--")
        ax.set(title=f"slices {key}", ylabel="gap closed (0 = equal, 1 = sim-oracle)")
    fig.suptitle(
        f"Trained here (blue) vs pretrained on {transfer['from']}: frozen (orange), online (green)",
        fontsize=9,
    )
    fig.tight_layout()
    _save(fig, path)


# ---------------------------------------------------------------------------- text


def _tables(summary: dict[str, Any]) -> list[str]:
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
                e, c = per[key], per[key][subset]
                diff = c["diff_vs_equal"]
                mark = " ✓" if agent != FLOOR and diff.above_zero() else ""
                note = _note(agent, e)
                lines.append(
                    f"| {agent} | {c['mean_utility'].text()} | {c['mean_r'].text(3)} | "
                    f"{c['p_r1'].text(3)} | {diff.text()}{mark} | {c['gap_closed'].text()} | "
                    f"{e['decision_ms'].text()} | {e['learn_s'].text(1)} | {note} |"
                )
            lines.append("")
    return lines


def _note(agent: str, entry: dict[str, Any]) -> str:
    if agent == FLOOR:
        return "floor"
    if agent.startswith("sim-oracle"):
        return "yardstick (replays the simulator)" + (
            "; clairvoyant upper bound" if "hindsight" in agent else ""
        )
    return "" if entry["learned"] else "**did not learn in this run**"


def _recovery(summary: dict[str, Any], day: int) -> list[str]:
    lines = [
        "| agent | slices | recovery (periods) | converged P(r = 1) | paper P(r = 1) (IDLA) |",
        "|---|---|---|---|---|",
    ]
    for agent, per in summary.items():
        if agent == FLOOR or agent.startswith("sim-oracle") or agent == "traffic":
            continue
        for key, e in per.items():
            paper = PAPER["p_qos_1"].get(key, "") if agent.startswith("idla") else ""
            lines.append(
                f"| {agent} | {key} | {e['recovery_periods'].text(0)} ({e['recovered']} seeds) | "
                f"{e['converged_p_r1'].text(3)} | {paper} |"
            )
    return lines


def _transfer(summary: dict[str, Any], transfer: dict[str, Any]) -> list[str]:
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
        "| agent | slices | gap closed | ΔU vs equal | beats equal |",
        "|---|---|---|---|---|",
    ]
    for label, variants in transfer["agents"].items():
        for name in (label, *variants):
            for key, e in summary.get(name, {}).items():
                c, b = e["all"], e["busy"]
                lines.append(
                    f"| {name} | {key} | {c['gap_closed'].text()} ({b['gap_closed'].text()}) | "
                    f"{c['diff_vs_equal'].text()} ({b['diff_vs_equal'].text()}) | "
                    f"{'yes' if c['diff_vs_equal'].above_zero() else 'no'} |"
                )
    return [*lines, ""]


def _findings(summary: dict[str, Any]) -> list[str]:
    """Plain sentences: who beats the floor where, and how much of the gap they close."""
    out = []
    for agent, per in summary.items():
        if agent == FLOOR or agent.startswith("sim-oracle"):
            continue
        for key, e in per.items():
            parts = []
            for subset in SUBSETS:
                c = e[subset]
                diff = c["diff_vs_equal"]
                below = diff.n > 1 and diff.high < 0
                verdict = "beats" if diff.above_zero() else "is below" if below else "ties"
                parts.append(
                    f"{subset}: {verdict} equal shares (ΔU {diff.text()}, gap closed "
                    f"{c['gap_closed'].text()})"
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


def write_report(
    out: Path,
    config: ScenarioConfig,
    jobs: Sequence[Any],
    meta: dict[str, Any],
    figures: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Read the finished runs, write the figures and ``report.md``; return its numbers."""
    done = [job for job in jobs if job.done_file.is_file()]
    collect, day = config.timeline.first_phase_end, config.sim.periods_per_day
    every = meta["oracle_every"]
    per_run: dict[str, dict[int, dict[str, Any]]] = {}
    first: dict[str, Trajectory] = {}
    for job in done:
        traj = Trajectory.load(job.folder)
        per_run.setdefault(traj.agent, {})[job.seed] = run_metrics(traj, collect, every, day)
        if job.seed == min(j.seed for j in done):
            first[traj.agent] = traj
    summary = summarise(per_run)
    errors, target = _estimator_errors(done)
    if figures:
        fig2_masks(config, out / "fig2_traffic_mask.png")
        fig3_mae(errors, target, out / "fig3_estimator_mae.png")
        fig4_throughput(first, config, out / "fig4_throughput.png")
        fig5_cdf(first, collect, every, out / "fig5_qos_cdf.png")
        if meta.get("transfer") and YARDSTICK in summary:
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
        "Yardsticks: **equal** shares are the floor; **sim-oracle** replays the simulator and "
        f"picks the shares with the best mean utility over {meta['oracle_draws']} other draws of "
        "the same period (it knows the traffic statistics, not the draw): the best an O&M "
        "controller could hope for. ΔU vs equal is the paired difference (same traffic per "
        "seed; ✓ = its interval lies above 0); gap closed = (U - U_equal) / (U_sim-oracle - "
        "U_equal). Decision time is act() only; learning time (observe: training) is apart.",
        "",
        *_tables(summary),
        *_transfer(summary, meta.get("transfer", {})),
        "## Findings",
        "",
        *_findings(summary),
        "",
        "## Recovery after a slice-set change and the paper's figures",
        "",
        "Recovery = periods from the slice set's first scored period until the first block of a "
        f"day ({day} periods; a quarter of the set's periods if that is shorter) whose mean r "
        "reaches 98 % of the agent's converged mean (second half of the set's periods), over the "
        "seeds that reach it; converged P(r = 1) over that second half.",
        "",
        *_recovery(summary, day),
        "",
        (
            f"Estimator test MAE of r: {errors.mean():.4f} (paper {PAPER['estimator_mae']})."
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
    return out / "report.md", {"per_run": per_run, "summary": _plain(summary)}
