"""IDLA vs the traffic baseline vs the oracle on the ``paper`` timeline (H0 collect, H1 optimise).

Usage: python benchmarks/agents_h1.py [--periods 3000] [--seed 0] [--out runs/agents_h1]

Every agent runs on identical traffic (same env seed: the simulator's random draws do not depend
on the allocation). Prints per agent and phase the mean utility, mean QoS and P(r = 1), the
median decision time, and IDLA's estimator test MAE (paper: 0.0639); writes the trajectories
and an MAE histogram into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from agents.base import run
from agents.idla.agent import IDLAAgent
from agents.oracle import OracleAgent
from agents.traffic import TrafficAgent
from slicesim.envs import make_env
from slicesim.io import atomic_write


def mae_histogram(errors: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(errors, bins=50, color="tab:blue")
    ax.set_xlabel("absolute error of r (test split)")
    ax.set_ylabel("samples")
    ax.set_title(f"QoS estimator: MAE {errors.mean():.4f} (paper 0.0639)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--periods", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/agents_h1")
    args = parser.parse_args()
    out = Path(args.out)
    agents = {"traffic": TrafficAgent(), "idla": IDLAAgent(progress=True), "oracle": OracleAgent()}
    summaries = {}
    for name, agent in agents.items():
        env = make_env("paper")
        traj = run(env, agent, periods=args.periods, seed=args.seed)
        traj.save(out / name)
        summaries[name] = traj.summary()
    idla = agents["idla"]
    assert isinstance(idla, IDLAAgent) and idla.report is not None
    mae_histogram(idla.report.errors, out / "fig3_estimator_mae.png")
    print(f"estimator: {json.dumps(idla.report.as_dict())}")
    print("| agent | phase | mean utility | mean r | P(r = 1) | decision ms |")
    print("|---|---|---|---|---|---|")
    for name, summary in summaries.items():
        for phase in ("H0", "H1", "H2"):
            if phase in summary:
                s = summary[phase]
                print(f"| {name} | {phase} | {s['mean_utility']:.3f} | {s['mean_qos']:.3f} | "
                      f"{s['p_qos_1']:.3f} | {s['decision_ms']:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
