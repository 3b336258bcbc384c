"""The benchmark's figures (the paper's Fig. 2-5, the transfer figure): matplotlib on Agg, each
PNG written atomically (:func:`save_png`, also for the sweep's figure)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig
from slicesim.experiments.metrics import SetSummary, slice_set_keys
from slicesim.io import atomic_write
from slicesim.rollout import Trajectory, scored_periods
from slicesim.sim.traffic import TrafficMasks

__all__ = [
    "fig2_masks",
    "fig3_mae",
    "fig4_throughput",
    "fig5_cdf",
    "fig_transfer",
    "pyplot",
    "save_png",
]


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path, dpi: int = 110) -> None:
    """Write ``fig`` as a PNG atomically and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
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
    """The slices' traffic masks over the first days."""
    plt = pyplot()
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
    save_png(fig, path)


def fig3_mae(errors: np.ndarray | None, target: str, path: Path) -> None:
    """The histogram of an estimator's test errors."""
    plt = pyplot()
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
    save_png(fig, path)


def fig4_throughput(
    runs: dict[str, Trajectory], config: ScenarioConfig, path: Path, references: set[str]
) -> None:
    """Per slice, each run's throughput over its need (moving average, mean over cells);
    ``references`` (the floor and the yardstick) dashed."""
    plt = pyplot()
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
        style = {"lw": 1.6, "ls": "--"} if name in references else {"lw": 1}
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
    save_png(fig, path)


def fig5_cdf(
    runs: dict[str, Trajectory], collect: int, every: int, path: Path, references: set[str]
) -> None:
    """Per slice set with scored periods, the CDF of r over them; ``references`` dashed.

    A slice set without scored periods (e.g. one that ends within H0) gets no panel.
    """
    plt = pyplot()
    curves: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, traj in runs.items():
        keys = slice_set_keys(traj)
        p = traj.periods
        scored = (p >= collect) & scored_periods(p, every)
        for key in dict.fromkeys(keys[scored]):
            sel = scored & (keys == key)
            r = np.sort(traj.stacked("r")[sel][traj.stacked("active")[sel]])
            curves.setdefault(str(key), []).append((name, r))
    n = max(1, len(curves))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False)
    if not curves:
        axes[0, 0].text(0.5, 0.5, "no scored periods", ha="center", va="center")
    for ax, (key, lines) in zip(axes[0], curves.items(), strict=False):
        for name, r in lines:
            style = {"lw": 1.8, "ls": "--"} if name in references else {"lw": 1}
            ax.step(r, np.arange(1, len(r) + 1) / len(r), where="post", label=name, **style)
        ax.set(xlabel="QoS satisfaction r", ylabel="CDF", title=f"slices {key} (scored periods)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)


def fig_transfer(
    summary: dict[str, dict[str, SetSummary]], transfer: dict[str, Any], path: Path
) -> None:
    """Gap closed (all scored periods) of each learner trained here and pretrained elsewhere."""
    plt = pyplot()
    keys = list(dict.fromkeys(k for per in summary.values() for k in per))
    names = [n for label, variants in transfer["agents"].items() for n in (label, *variants)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        shown = [n for n in names if key in summary.get(n, {})]
        est = [summary[n][key].all.gap_closed for n in shown]
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
    save_png(fig, path)
