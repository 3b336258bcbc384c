"""Cost of the KPI models per ``run_period``: ``sim.kpi_model`` A/B in one session.

Usage: python benchmarks/kpi_model_cost.py [--runs 7] [--periods 96] [--start 0]

Runs ``paper`` with equal shares for ``periods`` periods from ``start`` (one day by default: light
and busy hours) under every KPI model, interleaved so machine noise hits every model alike, and
prints the median milliseconds per period and the ratio to ``legacy``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import slicesim
from slicesim.config import KPI_MODEL_NAMES
from slicesim.sim import equal_split


def ms_per_period(model: str, periods: int, start: int, seed: int) -> float:
    net = slicesim.Network(slicesim.load_scenario("paper", {"sim.kpi_model": model}), seed=seed)
    state = net.get_state()
    net.set_state({**state, "period": start})
    x = equal_split(net.active_mask())
    begin = time.perf_counter()
    for _ in range(periods):
        net.run_period(x)
    return (time.perf_counter() - begin) / periods * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--periods", type=int, default=96)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {m: [] for m in KPI_MODEL_NAMES}
    for run in range(args.runs):
        for model in KPI_MODEL_NAMES:
            samples[model].append(ms_per_period(model, args.periods, args.start, seed=run))
    legacy = statistics.median(samples["legacy"])
    print("| kpi_model | ms per period (median) | vs legacy |\n|---|---|---|")
    for model, values in samples.items():
        med = statistics.median(values)
        print(f"| {model} | {med:.2f} | {med / legacy:.2f}x |")


if __name__ == "__main__":
    main()
