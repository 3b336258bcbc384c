"""Cell-wise TD3 online on the ``paper`` timeline vs uniform-random and traffic-proportional shares.

Usage: python benchmarks/td3_online.py [--periods 5000] [--collect N] [--seed 0] [--out DIR]

TD3 explores in H0 (filling SB3's replay buffer), trains online from H1 and retrains when slice 3
joins in H2 (paper Section V-C). Every agent runs on identical traffic (same env seed). Prints
per agent and phase the mean utility, mean QoS, P(r = 1) and median decision time, then the mean
utility in windows of ``--window`` periods (TD3's learning curve and its recovery after the slice
change) and TD3's training time. Paper full run: 3000 periods for H0 + H1, 5000 with H2.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Agent, Trajectory, run
from agents.td3 import TD3Agent, TD3Config
from agents.traffic import TrafficAgent
from slicesim.envs import make_env


class RandomAgent(Agent):
    """Uniformly random shares on each cell's active slices (Dirichlet(1), rows sum to 1)."""

    name = "random"

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        draw = self.rng.exponential(size=info["active_next"].shape) * info["active_next"]
        total = draw.sum(axis=1, keepdims=True)
        return np.where(total > 0, draw / np.where(total > 0, total, 1.0), 0.0)


class TimedTD3(TD3Agent):
    """TD3Agent that also times its learning step (``observe``: buffer add + updates)."""

    def observe(self, *args: Any) -> None:
        start = time.perf_counter()
        super().observe(*args)
        self.learn_s = getattr(self, "learn_s", 0.0) + time.perf_counter() - start


def windows(traj: Trajectory, size: int) -> list[tuple[int, str, float]]:
    """(first period, phase, mean utility) of consecutive windows of ``size`` periods."""
    u, out = np.array(traj.utility), []
    for start in range(0, len(u), size):
        out.append((traj.periods[start], traj.phases[start], float(u[start : start + size].mean())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--periods", type=int, default=5000)
    parser.add_argument("--collect", type=int, default=None, help="TD3's H0 (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=250)
    parser.add_argument("--config", default=None, help="TD3 hyperparameter YAML")
    parser.add_argument("--out", default=None, help="folder for trajectories and the TD3 model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    td3 = TimedTD3(TD3Config.from_yaml(args.config), collect_periods=args.collect)
    agents: dict[str, Any] = {"random": RandomAgent(), "traffic": TrafficAgent(), "td3": td3}
    trajs, wall = {}, {}
    for name, agent in agents.items():
        start = time.perf_counter()
        trajs[name] = run(make_env("paper"), agent, periods=args.periods, seed=args.seed)
        wall[name] = time.perf_counter() - start
        if args.out:
            trajs[name].save(Path(args.out) / name)
    if args.out:
        td3.save(Path(args.out) / "td3")
    print("| agent | phase | periods | mean utility | mean r | P(r = 1) | decision ms |")
    print("|---|---|---|---|---|---|---|")
    for name, traj in trajs.items():
        summary = traj.summary()
        for phase in ("H0", "H1", "H2"):
            if phase in summary:
                s = summary[phase]
                cols = [s["periods"], f"{s['mean_utility']:.3f}", f"{s['mean_qos']:.3f}",
                        f"{s['p_qos_1']:.3f}", f"{s['decision_ms']:.2f}"]  # fmt: skip
                print(f"| {name} | {phase} | " + " | ".join(map(str, cols)) + " |")
    curves = {name: windows(traj, args.window) for name, traj in trajs.items()}
    print(
        f"\nmean utility per {args.window}-period window (slice changes at periods {td3.changes})"
    )
    print("| from period | phase | " + " | ".join(curves) + " |")
    print("|---|---|" + "---|" * len(curves))
    for i, (first, phase, _) in enumerate(curves["td3"]):
        cells = " | ".join(f"{curves[n][i][2]:.3f}" for n in curves)
        print(f"| {first} | {phase} | {cells} |")
    for change in td3.changes:
        print(f"\nafter the slice change at period {change}: mean utility per 50 periods")
        print("| periods | " + " | ".join(curves) + " |")
        print("|---|" + "---|" * len(curves))
        for lo in range(change, min(change + 250, len(trajs["td3"])), 50):
            u = [np.mean(trajs[n].utility[lo : lo + 50]) for n in curves]
            print(f"| {lo}-{lo + 49} | " + " | ".join(f"{v:.3f}" for v in u) + " |")
    learn = getattr(td3, "learn_s", 0.0)
    print(f"\nwall time s: {', '.join(f'{n} {t:.1f}' for n, t in wall.items())}; "
          f"TD3 learning (buffer + updates) {learn:.1f} s, {td3.model.num_timesteps} transitions, "
          f"{td3.model._n_updates} gradient steps")  # fmt: skip


if __name__ == "__main__":
    main()
