"""Cost of a period under each model: the 0.2 defaults against slicesim 0.1, A/B in one session.

Usage: python benchmarks/kpi_model_cost.py [--runs 7] [--periods 96] [--start 0]

Runs ``paper`` with equal shares for ``periods`` periods from ``start`` (one day by default: light
and busy hours), and the sim-oracle's replay of one busy period (19 share levels x 6 draws, frozen
loads), under each model, interleaved so machine noise hits every model alike; prints the median
milliseconds and the ratio to slicesim 0.1 (both legacy switches). The models are compared on the
reference engine (the legacy KPI model has no compiled form); the last row is the default, the
0.2 models on the compiled engine. The radio model adds nothing per period (its gains are
computed once per network), but it changes how often slices saturate.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import slicesim
from slicesim.sim import equal_split

REFERENCE = {"sim.engine": "reference"}  # the models compared on one engine (legacy has no other)
MODELS = {
    "0.1 (legacy radio, legacy KPIs)": {
        "radio.model": "legacy",
        "sim.kpi_model": "legacy",
        **REFERENCE,
    },
    "3GPP radio, legacy KPIs": {"sim.kpi_model": "legacy", **REFERENCE},
    "0.2 (3GPP radio, user_ps)": REFERENCE,
    "0.2 on the compiled engine (the default)": {"sim.engine": "compiled"},
}


def network(overrides: dict, seed: int, period: int) -> slicesim.Network:
    net = slicesim.Network(slicesim.load_scenario("paper", overrides), seed=seed)
    net.set_state({**net.get_state(), "period": period})
    return net


def ms_per_period(overrides: dict, periods: int, start: int, seed: int) -> float:
    net = network(overrides, seed, start)
    x = equal_split(net.active_mask())
    begin = time.perf_counter()
    for _ in range(periods):
        net.run_period(x)
    return (time.perf_counter() - begin) / periods * 1e3


def ms_per_replay(overrides: dict, seed: int, period: int = 78) -> float:
    """The sim-oracle's level sweep: 19 levels x 6 draws of one busy period, frozen loads."""
    net = network(overrides, seed, period)
    states = [
        {**net.get_state(), "rng": np.random.default_rng([seed, k]).bit_generator.state}
        for k in range(6)
    ]
    xs = np.broadcast_to(
        np.linspace(0.05, 0.95, 19)[:, None, None], (19, net.n_cells, net.n_slices)
    )
    frozen = np.full((6, net.config.sim.n_epochs, net.n_cells), 0.6)
    begin = time.perf_counter()
    net.replay(xs, states=states, frozen_util=frozen)
    return (time.perf_counter() - begin) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--periods", type=int, default=96)
    parser.add_argument("--start", type=int, default=0)
    args = parser.parse_args()
    period: dict[str, list[float]] = {m: [] for m in MODELS}
    replay: dict[str, list[float]] = {m: [] for m in MODELS}
    for run in range(args.runs):
        for name, overrides in MODELS.items():
            period[name].append(ms_per_period(overrides, args.periods, args.start, seed=run))
            replay[name].append(ms_per_replay(overrides, seed=run))
    base = [statistics.median(v[next(iter(MODELS))]) for v in (period, replay)]
    print("| model | ms per period (median) | vs 0.1 | oracle replay ms (19 x 6) | vs 0.1 |")
    print("|---|---|---|---|---|")
    for name in MODELS:
        p, r = statistics.median(period[name]), statistics.median(replay[name])
        print(f"| {name} | {p:.2f} | {p / base[0]:.2f}x | {r:.0f} | {r / base[1]:.2f}x |")


if __name__ == "__main__":
    main()
