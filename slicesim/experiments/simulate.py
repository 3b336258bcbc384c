"""``slicesim simulate``: a fixed allocation rule over a scenario, KPIs streamed to CSV.

The KPI table (one row per period, cell and slice type) is written chunk by chunk while the
network runs, so memory stays flat however many periods run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from slicesim.config import ScenarioConfig
from slicesim.io import atomic_write, csv_writer, period_table
from slicesim.sim import Network, PeriodReport, equal_split, proportional_split, satisfied

__all__ = ["KPI_COLUMNS", "POLICIES", "kpi_table", "simulate"]

KPI_COLUMNS = (
    "period", "phase", "cell", "slice_id", "active", "x", "thr_mbps", "delay_ms",
    "prb_util", "users", "cqi", "demand_mbps", "served", "qos",
)  # fmt: skip

POLICIES: dict[str, Callable[[Network], np.ndarray]] = {
    "equal": lambda net: equal_split(net.active_mask()),
    "traffic": lambda net: proportional_split(net.expected_demand_mbps(), net.active_mask()),
}
"""Fixed allocation rules: equal shares, or shares proportional to the expected traffic."""

_CHUNK = 64  # periods per CSV chunk


def kpi_table(reports: list[PeriodReport], config: ScenarioConfig) -> dict[str, np.ndarray]:
    """The KPI table of ``reports``: one row per period, cell and slice type."""
    arrays = {name: np.stack([r.arrays()[name] for r in reports]) for name in reports[0].arrays()}
    arrays = {
        "active": np.stack([r.active for r in reports]),
        **arrays,
        "served": np.stack([r.served for r in reports]),
        "qos": np.stack([r.qos(config.thr_need_mbps, config.delay_need_ms) for r in reports]),
    }
    periods = np.array([r.period for r in reports])
    return period_table(periods, [r.phase for r in reports], config.slice_ids, arrays)


def simulate(
    config: ScenarioConfig,
    policy: str,
    periods: int,
    seed: int,
    out: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``policy`` for ``periods``; write ``kpis.csv`` and ``summary.json`` into ``out``."""
    net = Network(config, seed=seed)
    rule = POLICIES[policy]
    utility_sum, r_sum, r_hits, r_count = 0.0, 0.0, 0, 0
    start = time.perf_counter()
    with csv_writer(out / "kpis.csv") as write:
        chunk: list[PeriodReport] = []
        for _ in tqdm(range(periods), desc=f"simulate {config.name}", unit="period",
                      disable=not progress):  # fmt: skip
            report = net.run_period(rule(net))
            r = report.qos(net.thr_need_mbps, net.delay_need_ms)[report.active]
            utility_sum += float(np.log1p(r).sum())
            r_sum, r_count = r_sum + float(r.sum()), r_count + r.size
            r_hits += int(satisfied(r).sum())
            chunk.append(report)
            if len(chunk) == _CHUNK:
                write(kpi_table(chunk, config))
                chunk = []
        if chunk:
            write(kpi_table(chunk, config))
    elapsed = time.perf_counter() - start
    summary = {
        "scenario": config.name,
        "policy": policy,
        "seed": seed,
        "periods": periods,
        "mean_utility_per_period": utility_sum / periods,
        "mean_qos": r_sum / max(r_count, 1),
        "p_qos_1": r_hits / max(r_count, 1),
        "periods_per_s": periods / elapsed,
    }
    with atomic_write(out / "summary.json") as fh:
        json.dump(summary, fh, indent=2)
    return summary
