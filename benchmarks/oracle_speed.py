"""Cost of one sim-oracle decision: the reference engine against the compiled one, the full level
sweep against the exact one, with and without the recorded traffic shared by its passes.

Usage: python benchmarks/oracle_speed.py [--draws 192] [--periods 350,310] [--runs 3]

``paper`` compressed to 1500 periods (as ``oracle_k.py``), run with equal shares up to each of
``--periods`` (350: a busy morning hour of H1; 310: the night), then one decision of
:class:`agents.sim_oracle.SimOracleAgent` with K = ``--draws`` from equal shares, timed in four
variants, interleaved, median of ``--runs``:

* ``reference, full, fresh``: the reference engine (SimPy + numpy), every pass drawing its
  traffic again, every level of every slice replayed (slicesim 0.2's oracle);
* ``reference, full, recorded``: the same, the passes sharing one recording of the traffic
  (``Network.replay(..., offered=[])``): the yardstick of the ratios;
* ``compiled, full, recorded``: the compiled engine, every level replayed;
* ``compiled, exact, recorded``: the compiled engine's exact sweep (each slice's levels up to
  its first r = 1; ``search = exact``): the default.

Every variant picks the same shares with the same predicted utility (checked: the engines, the
recording and the exact sweep are exact). The last column is the default's share of the sweep's
(draw, level, slice) runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from agents.sim_oracle import SimOracleAgent
from slicesim.config import load_scenario
from slicesim.sim import Network, equal_split

VARIANTS = [
    ("reference", "full", False),
    ("reference", "full", True),
    ("compiled", "full", True),
    ("compiled", "exact", True),
]


def decide(
    config: Any,
    variant: tuple[str, str, bool],
    state: dict[str, Any],
    active: np.ndarray,
    draws: int,
) -> tuple[float, np.ndarray, float, float | None]:
    """One decision from equal shares; (seconds, shares, predicted utility, share of the
    sweep's runs made)."""
    engine, search, offered = variant
    agent = SimOracleAgent(draws=draws, search=search)
    agent.reset(None)  # type: ignore[arg-type]  # only clears its memory
    net = Network(config.replace({"sim.engine": engine}), seed=41)
    if not offered:  # every pass draws its traffic again
        replay = net.replay
        net.replay = lambda *a, offered=None, **k: replay(*a, **k)  # type: ignore[method-assign]
    start = time.perf_counter()
    x, u = agent.optimise(net, agent.draw_states(state, 41), active)
    return time.perf_counter() - start, x, u, agent.stats()["sweep_runs"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=192)
    p.add_argument("--periods", default="350,310", help="periods of the compressed timeline")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    base = load_scenario("paper")
    config = load_scenario("paper", base.timeline_overrides(1500))
    print(f"sim-oracle decision at K = {args.draws}, median of {args.runs} (seconds)\n")
    names = [f"{e}, {s}, {'recorded' if o else 'fresh'}" for e, s, o in VARIANTS]
    print("| period | " + " | ".join(names) + " | reference recorded / default "
          "| share of the sweep run |")  # fmt: skip
    print("|---" * (len(VARIANTS) + 3) + "|")
    for period in (int(v) for v in args.periods.split(",")):
        net = Network(config, seed=41)
        for _ in range(period):
            net.run_period(equal_split(net.active_mask()))
        state, active = net.get_state(), net.active_mask()
        decide(config, VARIANTS[-1], state, active, 2)  # compile (or load the cache) first
        times: dict[tuple[str, str, bool], list[float]] = {v: [] for v in VARIANTS}
        chosen, share = set(), None
        for _ in range(args.runs):
            for variant in VARIANTS:
                seconds, x, u, runs = decide(config, variant, state, active, args.draws)
                times[variant].append(seconds)
                chosen.add((x.tobytes(), u))
                share = runs if variant == VARIANTS[-1] else share
        assert len(chosen) == 1, "the variants chose different shares"
        med = {v: statistics.median(t) for v, t in times.items()}
        cells = " | ".join(f"{med[v]:.3f}" for v in VARIANTS)
        ratio = med[VARIANTS[1]] / med[VARIANTS[-1]]
        print(f"| {period} | {cells} | {ratio:.1f}x | {share:.2f} |")


if __name__ == "__main__":
    main()
