"""Simulator speed on each engine, and window-length stability.

Usage: python benchmarks/sim_speed.py [--runs 5] [--periods 100] [--only speed|sharing|window]

Reports ``Network.run_period`` periods per second (wall) and per CPU-second for the ``paper``
scenario and for 7- and 19-site hexagonal layouts (same load per cell, equal shares) on the
reference engine (SimPy + numpy) and the compiled engine (the default), the median of several
interleaved runs, the compiled engine's speed-up, the cost per cell relative to ``paper``
measured in the same run, what RRMPolicyRatio sharing (``sim.slicing: rrm_policy``) costs on
each engine against isolated slicing, and how much the network-average KPIs of a day change when the
simulated window per period doubles.
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


ENGINES = ("reference", "compiled")


def periods_per_second(
    config: slicesim.ScenarioConfig, periods: int, seed: int
) -> tuple[float, float]:
    """(periods/s, periods per CPU-second) of ``periods`` periods of equal shares."""
    net = slicesim.Network(config, seed=seed)
    x = equal_split(net.active_mask())
    net.run_period(x)  # the compiled engine's first call loads (or compiles) it
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(periods):
        net.run_period(x)
    return periods / (time.perf_counter() - start), periods / (time.process_time() - cpu)


def speed(runs: int, periods: int) -> dict[tuple[str, str], tuple[float, float, int]]:
    """Per (layout, engine): median periods/s, median periods per CPU-second, cells."""
    configs = {
        (name, engine): slicesim.load_scenario("paper", {"layout.n_sites": n, "sim.engine": engine})
        for name, n in LAYOUTS.items()
        for engine in ENGINES
    }
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in configs}
    for run in range(runs):  # interleaved, so machine noise hits every variant alike
        for key, config in configs.items():
            samples[key].append(periods_per_second(config, periods, seed=run))
    return {
        key: (
            statistics.median(s[0] for s in v),
            statistics.median(s[1] for s in v),
            3 * configs[key].layout.n_sites,
        )
        for key, v in samples.items()
    }


def sharing_cost(runs: int, periods: int) -> dict[tuple[str, str], float]:
    """Per (engine, slicing): median periods/s of ``paper`` (interleaved runs)."""
    configs = {
        (engine, slicing): slicesim.load_scenario(
            "paper", {"sim.engine": engine, "sim.slicing": slicing}
        )
        for engine in ENGINES
        for slicing in ("isolated", "rrm_policy")
    }
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in configs}
    for run in range(runs):
        for key, config in configs.items():
            samples[key].append(periods_per_second(config, periods, seed=run)[0])
    return {key: statistics.median(v) for key, v in samples.items()}


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
    parser.add_argument("--only", choices=("speed", "sharing", "window"), default=None)
    args = parser.parse_args()
    if args.only in (None, "sharing"):
        print(f"## Sharing (paper, median of {args.runs} runs x {args.periods} periods)")
        print("| engine | isolated periods/s | rrm_policy periods/s | rrm_policy / isolated |")
        print("|---|---:|---:|---:|")
        cost = sharing_cost(args.runs, args.periods)
        for engine in ENGINES:
            iso, shared = cost[(engine, "isolated")], cost[(engine, "rrm_policy")]
            print(f"| {engine} | {iso:.0f} | {shared:.0f} | {shared / iso:.2f} |")
    if args.only in (None, "speed"):
        speed_table(args.runs, args.periods)
    if args.only in (None, "window"):
        window_table(args.seeds)


def speed_table(runs: int, periods: int) -> None:
    """The engines' speed on the three layouts, as Markdown."""
    print(f"\n## Speed (median of {runs} interleaved runs x {periods} periods)")
    print("| layout | engine | periods/s | periods per CPU-s | ms/period | ms per cell-period "
          "| cost per cell vs paper | compiled / reference |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    results = speed(runs, periods)
    for engine in ENGINES:
        base = 1e3 / results[("paper (4 sites, 12 cells)", engine)][0] / 12
        for name in LAYOUTS:
            pps, cpu, cells = results[(name, engine)]
            per_cell = 1e3 / pps / cells
            gain = pps / results[(name, "reference")][0]
            print(f"| {name} | {engine} | {pps:.0f} | {cpu:.0f} | {1e3 / pps:.2f} "
                  f"| {per_cell:.3f} | {per_cell / base:.2f} | {gain:.1f}x |")  # fmt: skip


def window_table(seeds: int) -> None:
    """How much the network's day means move when the window doubles, as Markdown."""
    window = slicesim.load_scenario("paper").sim.window_s
    print(f"\n## KPI change when the window doubles ({window:g} s -> {2 * window:g} s)")
    print(f"network means over one day (96 periods, equal shares), {seeds} seeds")
    print("| KPI | window | 2 x window | change |")
    print("|---|---|---|---|")
    one = [day_means(window, s, 96) for s in range(seeds)]
    two = [day_means(2 * window, s, 96) for s in range(seeds)]
    for k in one[0]:
        a = float(np.mean([d[k] for d in one]))
        b = float(np.mean([d[k] for d in two]))
        print(f"| {k} | {a:.4g} | {b:.4g} | {100 * (b - a) / a:+.1f} % |")


if __name__ == "__main__":
    main()
