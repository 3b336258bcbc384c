"""KPI validation: the flow-level KPI models against the TTI reference on the same traffic.

For a scenario (default ``paper``) and its busiest period, at each load (``traffic.load_scale``):
``draws`` independent draws of the period (all cells each); the cell loads are frozen at the mean
cell load of an equal-share replay of those draws (the same SINRs in every model); under isolated
slicing (a slice's KPIs depend on its own share only) one copy per share level with every slice at
that level (rows may sum above 1, as in the oracles' level sweeps), under RRMPolicyRatio sharing
(``sim.slicing = rrm_policy``) one copy per (slice, level) with the rest of the cell split
equally among the other slices. Each flow-level KPI model replays the draws
(``Network.replay``), the first replay records the users and bursts (``capture``), and the TTI
reference (:func:`slicesim.sim.tti.simulate_tti`) runs on exactly those. Per (load, slice, level):
mean r over the draws x cells, P(r = 1), mean throughput and delay (where the slice had data),
for every model and the reference, and each model's largest errors.

:func:`validate_kpis` returns a JSON-able dict, :func:`write_validation` writes it atomically,
:func:`plot_validation` draws r against the share.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slicesim.config import ScenarioConfig, SimConfig, load_scenario
from slicesim.io import atomic_write
from slicesim.sim import Network, equal_split, p_satisfied, qos
from slicesim.sim.capture import Traffic
from slicesim.sim.kpi_model import KpiModel
from slicesim.sim.tti import simulate_tti

__all__ = [
    "LEVELS",
    "LOADS",
    "busiest_period",
    "kpi_table",
    "plot_validation",
    "validate_kpis",
    "write_validation",
]

LOADS = (0.5, 1.0, 1.5)
LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 19))  # 0.05 .. 0.90
_DRAWS = 0x6B7069  # "kpi": the stream of the validation's draws
_REF = "reference"


def busiest_period(net: Network) -> int:
    """The period of the first day with the largest expected demand, among those with the
    first timeline phase's slice set (``paper``: slices {1, 2, 4})."""
    config = net.config
    first = config.timeline.phases[0].slices
    periods = [p for p in range(config.sim.periods_per_day) if config.phase_at(p).slices == first]
    demand = [float(net.expected_demand_mbps(p).sum()) for p in periods]
    return periods[int(np.argmax(demand))]


def _states(net: Network, period: int, draws: int, seed: int) -> list[dict[str, Any]]:
    """``draws`` independent draws of ``period`` (other users and bursts, same traffic level)."""
    state = {**net.get_state(), "period": period}
    out = []
    for k in range(draws):
        rng = np.random.default_rng([seed, net.seed, period, k, _DRAWS])
        out.append({**state, "rng": rng.bit_generator.state})
    return out


def _networks(config: ScenarioConfig, models: Sequence[str | KpiModel], seed: int) -> dict:
    """One network per KPI model (a name of ``sim.kpi_model`` or a model object to try)."""
    nets = {}
    for model in models:
        if isinstance(model, str):
            nets[model] = Network(config.replace({"sim.kpi_model": model}), seed=seed)
        else:
            net = Network(config, seed=seed)
            net.kpi_model = model
            nets[model.name] = net
    return nets


def _load_case(
    config: ScenarioConfig,
    models: Sequence[str | KpiModel],
    levels: Sequence[float],
    draws: int,
    period: int,
    seed: int,
    chunk: int,
) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
    """KPIs and r, (draws, levels, n_cells, n_slices), of every model and the reference."""
    nets = _networks(config, models, seed)
    net = next(iter(nets.values()))
    states = _states(net, period, draws, seed)
    net.set_state(states[0])
    equal = equal_split(net.active_mask())
    loads = net.replay(equal[None], states=states).cell_util.mean(axis=(0, 1, 2))
    frozen = np.broadcast_to(loads, (draws, config.sim.n_epochs, net.n_cells))
    xs, pick = _level_copies(levels, net.active_mask(), config.sim.slicing)
    parts: dict[str, list[dict[str, np.ndarray]]] = {name: [] for name in [*nets, _REF]}
    for lo in range(0, draws, chunk):
        part = slice(lo, min(lo + chunk, draws))
        capture: list[Traffic] = []
        for i, (name, model_net) in enumerate(nets.items()):
            replay = model_net.replay(
                xs,
                states=states[part],
                frozen_util=frozen[part],
                capture=capture if i == 0 else None,
            )
            parts[name].append({**replay.kpis, "r": replay.r})
        ref = simulate_tti(config, capture, xs)
        r = qos(
            ref["thr_mbps"],
            ref["delay_ms"],
            config.thr_need_mbps,
            config.delay_need_ms,
            ref["served"],
        )
        parts[_REF].append({**ref, "r": np.where(replay.active, r, 1.0)})
    joined = {
        name: {k: pick(np.concatenate([p[k] for p in ps])) for k in ps[0]}
        for name, ps in parts.items()
    }
    return joined, loads


def _level_copies(
    levels: Sequence[float], active: np.ndarray, slicing: str
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The copies' shares, and what turns a (draws, copies, cells, slices) KPI into (draws,
    levels, cells, slices): every slice's KPIs at every level.

    Isolated slicing: one copy per level, every slice at it (a slice's KPIs depend on its own
    share only; rows may sum above 1). Under sharing a slice's KPIs depend on the others'
    shares too, so each active slice has a copy per level with the level its own and the rest
    of the cell split equally among the other active slices (rows sum to 1)."""
    lv = np.asarray(levels, dtype=float)
    if slicing == "isolated":
        xs = np.broadcast_to(lv[:, None, None], (len(lv), *active.shape))
        return xs, lambda kpi: kpi
    cols = np.flatnonzero(active.any(axis=0))
    others = np.maximum(len(cols) - 1, 1)
    blocks = []
    for s in cols:
        x = np.where(active, ((1.0 - lv) / others)[:, None, None], 0.0)
        x[:, :, s] = np.where(active[:, s], lv[:, None], 0.0)
        blocks.append(x)
    xs = np.concatenate(blocks)

    def pick(kpi: np.ndarray) -> np.ndarray:
        out = np.zeros((kpi.shape[0], len(lv), *kpi.shape[2:]), dtype=kpi.dtype)
        for b, s in enumerate(cols):
            out[..., s] = kpi[:, b * len(lv) : (b + 1) * len(lv), :, s]
        return out

    return xs, pick


def _stats(kpis: dict[str, np.ndarray], s: int) -> dict[str, list[float | None]]:
    """Per level: mean r, P(r = 1), mean throughput and delay where the slice had data."""

    def mean_where(values: np.ndarray, where: np.ndarray) -> float | None:
        return float(values[where].mean()) if where.any() else None

    out: dict[str, list[float | None]] = {"r": [], "p_r1": [], "thr_mbps": [], "delay_ms": []}
    for lev in range(kpis["r"].shape[1]):
        r = kpis["r"][:, lev, :, s]
        served = kpis["served"][:, lev, :, s]
        out["r"].append(float(r.mean()))
        out["p_r1"].append(p_satisfied(r))
        out["thr_mbps"].append(mean_where(kpis["thr_mbps"][:, lev, :, s], served))
        out["delay_ms"].append(
            mean_where(kpis["delay_ms"][:, lev, :, s], kpis["demand_mbps"][:, lev, :, s] > 0)
        )
    return out


def _errors(cases: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Largest |model - reference| of mean r and P(r = 1), overall and per load."""
    per_load = {}
    for case in cases:
        dr, dp = 0.0, 0.0
        for sl in case["slices"]:
            ref, mod = sl[_REF], sl["flow"][name]
            dr = max(dr, *(abs(a - b) for a, b in zip(mod["r"], ref["r"], strict=True)))
            dp = max(dp, *(abs(a - b) for a, b in zip(mod["p_r1"], ref["p_r1"], strict=True)))
        per_load[str(case["load"])] = {"max_abs_r_error": dr, "max_abs_p_r1_error": dp}
    return {
        "max_abs_r_error": max(v["max_abs_r_error"] for v in per_load.values()),
        "max_abs_p_r1_error": max(v["max_abs_p_r1_error"] for v in per_load.values()),
        "per_load": per_load,
    }


def validate_kpis(
    scenario: str | Path = "paper",
    loads: Sequence[float] = LOADS,
    levels: Sequence[float] = LEVELS,
    draws: int = 16,
    period: int | None = None,
    seed: int = 0,
    models: Sequence[str | KpiModel] | None = None,
    overrides: Mapping[str, Any] | None = None,
    chunk: int = 4,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compare flow-level KPI models with the TTI reference on common random numbers.

    Args:
        scenario: a shipped scenario or a YAML path.
        loads: values of ``traffic.load_scale``.
        levels: share levels; every slice of every cell at the level, one copy each.
        draws: independent draws of the period (each covers all cells).
        period: the period simulated (default :func:`busiest_period`).
        seed: the network's seed (static world) and the draws' seed.
        models: KPI models (``sim.kpi_model`` names, or :class:`KpiModel` objects to try);
            default ``legacy`` and the default model.
        overrides: scenario overrides applied first (e.g. a shorter ``sim.window_s``).
        chunk: draws per reference run (memory grows with it; the per-TTI overhead falls).
        progress: called with a line of text after each load.

    Returns:
        A JSON-able dict: the case, per load the frozen cell loads and per slice and level the
        statistics of the reference and every model (``flow``), each model's errors
        (``errors``), and the default model's ``max_abs_r_error`` / ``max_abs_p_r1_error``.
    """
    default = SimConfig().kpi_model
    models = list(dict.fromkeys(["legacy", default])) if models is None else list(models)
    names = [m if isinstance(m, str) else m.name for m in models]
    base = load_scenario(scenario, overrides)
    net = Network(base, seed=seed)
    period = busiest_period(net) if period is None else period
    start = time.perf_counter()
    cases = []
    for i, load in enumerate(loads):
        began = time.perf_counter()
        config = base.replace({"traffic.load_scale": load})
        kpis, cell_loads = _load_case(config, models, levels, draws, period, seed, chunk)
        active = Network(config, seed=seed).active_mask(period).any(axis=0)
        slices = [
            {
                "slice_id": config.slice_ids[s],
                _REF: _stats(kpis[_REF], s),
                "flow": {n: _stats(kpis[n], s) for n in names},
            }
            for s in map(int, np.flatnonzero(active))
        ]
        cases.append({"load": load, "frozen_cell_util": cell_loads.tolist(), "slices": slices})
        if progress is not None:
            now = time.perf_counter()
            progress(
                f"load {load} ({i + 1}/{len(loads)}): {now - began:.0f} s "
                f"({now - start:.0f} s in all)"
            )
    errors = {n: _errors(cases, n) for n in names}
    main = names[-1]
    return {
        "scenario": base.name,
        "period": period,
        "seed": seed,
        "draws": draws,
        "cells": net.n_cells,
        "window_s": base.sim.window_s,
        "slicing": base.sim.slicing,
        "rrm_action": base.sim.rrm_action if base.sim.slicing == "rrm_policy" else None,
        "levels": list(levels),
        "models": names,
        "model": main,
        "loads": cases,
        "errors": errors,
        "max_abs_r_error": errors[main]["max_abs_r_error"],
        "max_abs_p_r1_error": errors[main]["max_abs_p_r1_error"],
        "seconds": time.perf_counter() - start,
    }


def _clean(value: Any) -> Any:
    """NaN -> None (JSON has no NaN), recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_validation(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`validate_kpis`'s result as JSON, atomically (``kpi_validation.json``)."""
    path = Path(path)
    with atomic_write(path) as fh:
        json.dump(_clean(dict(result)), fh, indent=1)
    return path


def kpi_table(result: Mapping[str, Any]) -> str:
    """Each model's largest errors against the TTI reference, per load, as Markdown."""
    loads = [str(case["load"]) for case in result["loads"]]
    lines = [
        f"{result['scenario']}, period {result['period']}, {result['draws']} draws x "
        f"{result['cells']} cells, {result.get('slicing', 'isolated')} slicing, shares "
        f"{result['levels'][0]:g}..{result['levels'][-1]:g}: "
        "largest |model - TTI reference| of mean r / P(r = 1) over slices and shares",
        "",
        "| KPI model | " + " | ".join(f"load x{load}" for load in loads) + " | all |",
        "|---" * (len(loads) + 2) + "|",
    ]
    for name, err in result["errors"].items():
        per = err["per_load"]
        cells = [
            f"{per[x]['max_abs_r_error']:.3f} / {per[x]['max_abs_p_r1_error']:.3f}" for x in loads
        ]
        total = f"{err['max_abs_r_error']:.3f} / {err['max_abs_p_r1_error']:.3f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {total} |")
    return "\n".join(lines)


def plot_validation(result: Mapping[str, Any], path: str | Path) -> Path:
    """Mean r against the share: one panel per load, one colour per slice, the reference solid,
    the validated model dashed and ``legacy`` (if compared) dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = result["loads"]
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 3.6), squeeze=False)
    model = result["model"]
    for ax, case in zip(axes[0], cases, strict=True):
        for i, sl in enumerate(case["slices"]):
            colour = f"C{i}"
            ax.plot(
                result["levels"],
                sl[_REF]["r"],
                "-",
                color=colour,
                label=f"slice {sl['slice_id']}: TTI reference",
            )
            ax.plot(
                result["levels"],
                sl["flow"][model]["r"],
                "--",
                color=colour,
                label=f"slice {sl['slice_id']}: {model}",
            )
            if "legacy" in sl["flow"] and model != "legacy":
                ax.plot(result["levels"], sl["flow"]["legacy"]["r"], ":", color=colour, lw=1)
        ax.set_title(f"load x{case['load']:g}")
        ax.set_xlabel("share of every slice")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean r")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"{result['scenario']}, period {result['period']}: flow-level KPIs (dashed; "
        "legacy dotted) against the TTI reference (solid)",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return path
