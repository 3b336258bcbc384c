"""Calibration of the shipped scenarios: geometry, full-load capacity and satisfaction levels.

Usage: python benchmarks/calibration.py [--seeds 3] [--scenarios paper small paper7 dense]

1. SINR of users dropped with the cells' spatial weights, all cells at full load, against the
   3GPP UMa calibrations (ISD 500 m; medians of the companies' results as collected in the
   QuaDRiGa calibration reference data): TR 36.873 phase 1 single-element geometry
   5 % / 50 % / 95 % = -3.1 / 4.9 / 22.6 dB; phase 2 wideband SINR -4.0 / 2.6 / 18.0 dB;
   TR 38.901 (6 GHz) wideband SINR -3.1 / 4.4 / 24.5 dB.
2. Full-load cell throughput with equal time sharing (the mean of the users' full-cell rates).
3. QoS satisfaction over one day with equal and traffic-proportional shares, for slices
   {1, 2, 4} (the paper's H0/H1) and {1, 2, 3, 4} (H2), for every scenario asked for.
"""

from __future__ import annotations

import argparse

import numpy as np

import slicesim
from slicesim.experiments.simulate import POLICIES
from slicesim.sim import p_satisfied

REFERENCE = {
    "TR 36.873 ph.1 geometry": (-3.1, 4.9, 22.6),
    "TR 36.873 ph.2 wideband SINR": (-4.0, 2.6, 18.0),
    "TR 38.901 (6 GHz) wideband SINR": (-3.1, 4.4, 24.5),
}


def geometry(net: slicesim.Network) -> None:
    sinr = net.sample_sinr_db(50_000, seed=1)
    print("## SINR at full load (dB)\n| source | 5 % | 50 % | 95 % |\n|---|---|---|---|")
    p = np.percentile(sinr, [5, 50, 95])
    model = net.config.radio.pathloss
    print(f"| slicesim {net.config.name} ({model}) | {p[0]:.1f} | {p[1]:.1f} | {p[2]:.1f} |")
    for name, ref in REFERENCE.items():
        print(f"| {name} | {ref[0]} | {ref[1]} | {ref[2]} |")
    _, prb_bps = net.link(sinr)
    cell_bps = net.n_prb * prb_bps
    bandwidth = net.n_prb * net.config.radio.prb_bandwidth_hz
    print(
        f"\nfull-load cell throughput (equal time share): {cell_bps.mean() / 1e6:.1f} Mbit/s "
        f"({cell_bps.mean() / bandwidth:.2f} bit/s/Hz/cell); "
        "5th-percentile user rate with the whole cell: "
        f"{np.percentile(cell_bps, 5) / 1e6:.2f} Mbit/s"
    )


def satisfaction(name: str, seeds: int) -> None:
    config = slicesim.load_scenario(name)
    day = config.sim.periods_per_day
    print(f"\n## {name}: QoS satisfaction over one day ({day} periods), mean over seeds")
    print("| slices | shares | P(r = 1) | mean r | mean r per slice | peak cell load |")
    print("|---|---|---|---|---|---|")
    for active in ([1, 2, 4], [1, 2, 3, 4]):
        cols = [config.slice_index(a) for a in active]
        for name, policy in POLICIES.items():
            rs, peak = [], []
            for seed in range(seeds):
                net = slicesim.Network(config, seed=seed)
                net.set_active_slices(active)
                for _ in range(day):
                    rep = net.run_period(policy(net))
                    rs.append(rep.qos(net.thr_need_mbps, net.delay_need_ms)[:, cols])
                    peak.append(rep.cell_util.max())
            r = np.array(rs)
            per_slice = ", ".join(f"{v:.2f}" for v in r.mean(axis=(0, 1)))
            print(
                f"| {active} | {name} | {p_satisfied(r):.3f} | {r.mean():.3f} | "
                f"{per_slice} | {max(peak):.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=["paper", "small", "paper7", "dense"])
    args = parser.parse_args()
    for name in args.scenarios:
        geometry(slicesim.Network(slicesim.load_scenario(name), seed=0))
    for name in args.scenarios:
        satisfaction(name, args.seeds)


if __name__ == "__main__":
    main()
