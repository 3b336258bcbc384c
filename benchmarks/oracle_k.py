"""Is the sim-oracle converged? Its gain over equal shares at K draws and at 2K (issue 18's rule).

Usage: python benchmarks/oracle_k.py [--draws K] [--seeds 41,42] [--periods 1500] [--every 5]
       [--out DIR]

Runs ``slicesim sweep --scenario paper --agents equal,sim-oracle --set
agent.sim-oracle.draws=K,2K`` (the paper timeline compressed to ``--periods``, the oracle on every
``--every``-th period, every agent scored there) and prints, per slice set of the timeline (H1:
slices {1, 2, 4}; H2: {1, 2, 3, 4}), the oracle's gain in mean utility over equal shares,
paired per seed, at K and at 2K, and how much doubling K changes it. The rule (issue 18): the
default K is converged when doubling it changes the gain by less than 3 % in H1 and in H2.
``--draws`` defaults to the shipped default (:class:`agents.sim_oracle.SimOracleConfig`), so
the script checks the default as shipped. Writes ``oracle_k.json`` into the sweep's folder; the
sweep's runs are kept, so an interrupted run resumes and a second K reuses the first's points.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.sim_oracle import SimOracleConfig
from slicesim.experiments.sweep import sweep
from slicesim.io import atomic_write

RULE = 0.03  # doubling K may change the gain over equal shares by less than this, per slice set


def gains(rows: list[dict[str, Any]], key: str) -> dict[int, dict[str, dict[int, float]]]:
    """Per K, slice set and seed: the sim-oracle's mean utility minus equal shares'."""
    utility = {(r[key], r["agent"], r["slices"], r["seed"]): r["mean_utility"] for r in rows}
    out: dict[int, dict[str, dict[int, float]]] = {}
    for (k, agent, slices, seed), u in utility.items():
        if agent == "sim-oracle":
            out.setdefault(int(k), {}).setdefault(str(slices), {})[int(seed)] = float(
                u - utility[(k, "equal", slices, seed)]
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=SimOracleConfig().draws, help="K (default: ours)")
    p.add_argument("--seeds", default="41,42", help="the seeds, comma-separated")
    p.add_argument("--periods", type=int, default=1500, help="the paper timeline compressed")
    p.add_argument("--every", type=int, default=5, help="the oracle on every k-th period")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="runs/oracle-k", help="the sweep's folder")
    args = p.parse_args()
    k = args.draws
    seeds = [int(s) for s in args.seeds.split(",")]
    key = "agent.sim-oracle.draws"
    result = sweep(
        "paper",
        {key: [k, 2 * k]},
        ["equal", "sim-oracle"],
        seeds,
        args.out,
        periods=args.periods,
        oracle_every=args.every,
        workers=args.workers,
    )
    table = gains(result.rows, key)
    report: dict[str, Any] = {
        "draws": k,
        "seeds": seeds,
        "periods": args.periods,
        "every": args.every,
    }
    converged = True
    print(f"sim-oracle gain in mean utility over equal shares, mean over seeds {seeds}\n")
    print(f"| slices | K = {k} | 2K = {2 * k} | change | rule (< {RULE:.0%}) |")
    print("|---|---|---|---|---|")
    for slices in table[k]:
        g1 = float(np.mean(list(table[k][slices].values())))
        g2 = float(np.mean(list(table[2 * k][slices].values())))
        change = (g2 - g1) / abs(g1) if g1 else float("inf")
        ok = abs(change) < RULE
        converged &= ok
        report[slices] = {
            "per_seed": {str(x): table[x][slices] for x in (k, 2 * k)},
            "gain_k": g1,
            "gain_2k": g2,
            "change": change,
            "meets_rule": ok,
        }
        print(
            f"| {slices} | {g1:+.3f} | {g2:+.3f} | {change:+.1%} | {'met' if ok else 'NOT met'} |"
        )
    report["converged"] = converged
    with atomic_write(Path(args.out) / "oracle_k.json") as f:
        json.dump(report, f, indent=2)
    print(
        f"\nK = {k} {'meets' if converged else 'does not meet'} the rule ({args.out}/oracle_k.json)"
    )


if __name__ == "__main__":
    main()
