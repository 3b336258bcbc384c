"""Simulator speed and window-length stability.

Usage: python benchmarks/sim_speed.py [--runs 5] [--periods 100]

Reports periods per second for the ``paper`` scenario and for 7- and 19-site hexagonal layouts
(same load per cell, equal shares), the median of several interleaved runs, the cost per cell
relative to ``paper`` measured in the same run, and how much the network-average KPIs of a day
change when the simulated window per period doubles.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import slicesim
from slicesim.sim import equal_split
from slicesim.sim.kpi import MEASURES

LAYOUTS = {"paper (4 sites, 12 cells)": 4, "7 sites (21 cells)": 7, "19 sites (57 cells)": 19}


def periods_per_second(config: slicesim.ScenarioConfig, periods: int, seed: int) -> float:
    net = slicesim.Network(config, seed=seed)
    x = equal_split(net.active_mask())
    start = time.perf_counter()
    for _ in range(periods):
        net.run_period(x)
    return periods / (time.perf_counter() - start)


def speed(runs: int, periods: int) -> dict[str, tuple[float, int]]:
    configs = {
        name: slicesim.load_scenario("paper", {"layout.n_sites": n}) for name, n in LAYOUTS.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in configs}
    for run in range(runs):  # interleaved, so machine noise hits every layout alike
        for name, config in configs.items():
            samples[name].append(periods_per_second(config, periods, seed=run))
    cells = {name: 3 * config.layout.n_sites for name, config in configs.items()}
    return {name: (statistics.median(v), cells[name]) for name, v in samples.items()}


def day_means(window_s: float, seed: int, periods: int) -> dict[str, float]:
    config = slicesim.load_scenario("paper", {"sim.window_s": window_s})
    net = slicesim.Network(config, seed=seed)
    keys = [k for k in MEASURES if k != "demand_mbps"]
    sums = dict.fromkeys((*keys, "r"), 0.0)
    for _ in range(periods):
        rep = net.run_period(equal_split(net.active_mask()))
        act = rep.active & rep.served
        for k in keys:
            sums[k] += float(getattr(rep, k)[act].mean()) / periods
        sums["r"] += float(rep.qos(net.thr_need_mbps, net.delay_need_ms)[act].mean()) / periods
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--periods", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    print(f"## Speed (median of {args.runs} interleaved runs x {args.periods} periods)")
    print("| layout | periods/s | ms/period | ms per cell-period | cost per cell vs paper |")
    print("|---|---|---|---|---|")
    results = speed(args.runs, args.periods)
    base = 1e3 / results["paper (4 sites, 12 cells)"][0] / 12
    for name, (pps, cells) in results.items():
        per_cell = 1e3 / pps / cells
        print(f"| {name} | {pps:.0f} | {1e3 / pps:.2f} | {per_cell:.3f} | {per_cell / base:.2f} |")

    window = slicesim.load_scenario("paper").sim.window_s
    print(f"\n## KPI change when the window doubles ({window:g} s -> {2 * window:g} s)")
    print(f"network means over one day (96 periods, equal shares), {args.seeds} seeds")
    print("| KPI | window | 2 x window | change |")
    print("|---|---|---|---|")
    one = [day_means(window, s, 96) for s in range(args.seeds)]
    two = [day_means(2 * window, s, 96) for s in range(args.seeds)]
    for k in one[0]:
        a = float(np.mean([d[k] for d in one]))
        b = float(np.mean([d[k] for d in two]))
        print(f"| {k} | {a:.4g} | {b:.4g} | {100 * (b - a) / a:+.1f} % |")


if __name__ == "__main__":
    main()
