"""Cost of one sim-oracle decision: the reference engine against the compiled one, with and without
the recorded traffic shared by its passes.

Usage: python benchmarks/oracle_speed.py [--draws 192] [--periods 350,310] [--runs 3]

``paper`` compressed to 1500 periods (as ``oracle_k.py``), run with equal shares up to each of
``--periods`` (350: a busy morning hour of H1; 310: the night), then one decision of
:class:`agents.sim_oracle.SimOracleAgent` with K = ``--draws`` from equal shares, timed in four
variants, interleaved, median of ``--runs``:

* ``reference, fresh``: the reference engine (SimPy + numpy), every pass drawing its traffic again
  (slicesim 0.2's oracle);
* ``reference, offered``: the reference engine, the passes sharing one recording
  (``Network.replay(..., offered=[])``);
* ``compiled, fresh`` and ``compiled, offered``: the same on the compiled engine (the default).

Every variant picks the same shares with the same predicted utility (checked: the engines and the
recording are exact).
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

VARIANTS = [("reference", False), ("reference", True), ("compiled", False), ("compiled", True)]


def decide(
    config: Any, engine: str, state: dict[str, Any], active: np.ndarray, draws: int, offered: bool
):
    """One decision from equal shares on ``engine``; (seconds, shares, predicted utility)."""
    agent = SimOracleAgent(draws=draws)
    agent.reset(None)  # type: ignore[arg-type]  # only clears its memory
    net = Network(config.replace({"sim.engine": engine}), seed=41)
    if not offered:  # every pass draws its traffic again
        replay = net.replay
        net.replay = lambda *a, offered=None, **k: replay(*a, **k)  # type: ignore[method-assign]
    start = time.perf_counter()
    x, u = agent.optimise(net, agent.draw_states(state, 41), active)
    return time.perf_counter() - start, x, u


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=192)
    p.add_argument("--periods", default="350,310", help="periods of the compressed timeline")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    base = load_scenario("paper")
    config = load_scenario("paper", base.timeline_overrides(1500))
    print(f"sim-oracle decision at K = {args.draws}, median of {args.runs} (seconds)\n")
    print("| period | " + " | ".join(f"{b}, {'offered' if o else 'fresh'}" for b, o in VARIANTS)
          + " | reference fresh / compiled offered |")  # fmt: skip
    print("|---" * (len(VARIANTS) + 2) + "|")
    for period in (int(v) for v in args.periods.split(",")):
        net = Network(config, seed=41)
        for _ in range(period):
            net.run_period(equal_split(net.active_mask()))
        state, active = net.get_state(), net.active_mask()
        decide(config, "compiled", state, active, 2, True)  # compile (or load the cache) first
        times: dict[tuple[str, bool], list[float]] = {v: [] for v in VARIANTS}
        chosen = set()
        for _ in range(args.runs):
            for name, offered in VARIANTS:
                seconds, x, u = decide(config, name, state, active, args.draws, offered)
                times[(name, offered)].append(seconds)
                chosen.add((x.tobytes(), u))
        assert len(chosen) == 1, "the variants chose different shares"
        med = {v: statistics.median(t) for v, t in times.items()}
        cells = " | ".join(f"{med[v]:.3f}" for v in VARIANTS)
        print(f"| {period} | {cells} | {med[VARIANTS[0]] / med[VARIANTS[-1]]:.2f}x |")


if __name__ == "__main__":
    main()
