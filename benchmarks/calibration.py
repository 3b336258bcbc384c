"""Calibration of the shipped scenarios under the 0.2 defaults and the legacy (0.1) model.

Usage: python benchmarks/calibration.py [--seeds 3] [--scenarios paper small paper7 dense]

1. Radio (``slicesim calibrate``'s statistics): coupling loss, geometry (full-load SINR) and SIR
   at 5 / 50 / 95 % of the drop pool; what users see at full load: cell throughput and spectral
   efficiency with equal time shares, the 5 % user rate with the whole cell, the share of users
   below CQI 1 and with a serving SNR under 5 dB.
2. QoS satisfaction over one day with equal and traffic-proportional shares, for slices
   {1, 2, 4} (the paper's H0/H1) and {1, 2, 3, 4} (H2).
The 3GPP references themselves: ``slicesim calibrate --reference NAME`` (RESULTS.md).
"""

from __future__ import annotations

import argparse

import numpy as np

import slicesim
from slicesim.experiments.calibrate import radio_calibration
from slicesim.sim import equal_split, p_satisfied, proportional_split

MODELS = {
    "0.2": {},
    "legacy": {"radio.model": "legacy", "sim.kpi_model": "legacy"},
}
"""The models compared: the shipped defaults, and both legacy switches (slicesim 0.1)."""
POLICIES = {
    "equal": lambda net: equal_split(net.active_mask()),
    "traffic": lambda net: proportional_split(net.expected_demand_mbps(), net.active_mask()),
}
"""The fixed rules, on the network itself: the slice set is held with ``set_active_slices``."""


def radio(names: list[str], seeds: int) -> None:
    print("## Radio at full load (5 / 50 / 95 %, dB)")
    print(
        "| scenario | model | coupling loss | geometry | SIR | cell throughput | "
        "5 % user rate | below CQI 1 | SNR < 5 dB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        for label, overrides in MODELS.items():
            result = radio_calibration(slicesim.load_scenario(name, overrides), seeds)
            cells = [
                " / ".join(f"{result[m][k]:.1f}" for k in ("p5", "p50", "p95"))
                for m in ("coupling_loss_db", "geometry_db", "sir_db")
            ]
            cap = result["capacity"]
            print(
                f"| {name} | {label} | {' | '.join(cells)} | "
                f"{cap['cell_throughput_mbps']:.1f} Mbit/s "
                f"({cap['spectral_efficiency_bps_hz']:.2f} b/s/Hz) | "
                f"{cap['user_rate_p5_mbps']:.2f} Mbit/s | {100 * cap['users_below_cqi1']:.1f} % | "
                f"{100 * cap['users_snr_below_5db']:.1f} % |"
            )


def satisfaction(name: str, seeds: int) -> None:
    print(f"\n## {name}: QoS satisfaction over one day, mean over {seeds} seeds")
    print("| model | slices | shares | P(r = 1) | mean r | mean r per slice | peak cell load |")
    print("|---|---|---|---|---|---|---|")
    for label, overrides in MODELS.items():
        config = slicesim.load_scenario(name, overrides)
        day = config.sim.periods_per_day
        for active in ([1, 2, 4], [1, 2, 3, 4]):
            cols = [config.slice_index(a) for a in active]
            for policy_name, policy in POLICIES.items():
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
                    f"| {label} | {active} | {policy_name} | {p_satisfied(r):.3f} | "
                    f"{r.mean():.3f} | {per_slice} | {max(peak):.2f} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", default=["paper", "small", "paper7", "dense"])
    args = parser.parse_args()
    radio(args.scenarios, args.seeds)
    for name in args.scenarios:
        satisfaction(name, args.seeds)


if __name__ == "__main__":
    main()
