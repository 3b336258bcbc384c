"""Stepping overhead of SlicingEnv over bare ``Network.run_period`` (target: under 10 %).

Runs, interleaved, ``--runs`` times ``--periods`` periods of the same scenario with the same
seed and the same action (equal shares over active slices), and prints the median per-period
time of: the bare network, ``env.unwrapped.step`` and the ``gymnasium.make`` env (TimeLimit,
OrderEnforcing, PassiveEnvChecker). It also times the env's own work directly (a step minus the
simulator's ``run_periods`` inside it: checks, observation, rewards, info), which is far less
noisy than the difference of two medians.

Usage: ``python benchmarks/env_overhead.py [--scenario paper] [--runs 5] [--periods 100]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import slicesim
from slicesim.envs import env_id, replicas
from slicesim.sim import equal_split


def run_bare(scenario: str, seed: int, periods: int) -> float:
    """Seconds per period of bare ``run_period`` with the network the env would build."""
    env = slicesim.envs.SlicingEnv(scenario)
    env.reset(seed=seed)
    assert env.net is not None
    net = slicesim.Network(env.config, seed=env.net.seed)
    x = equal_split(net.active_mask())
    start = time.perf_counter()
    for _ in range(periods):
        net.run_period(x)
    return (time.perf_counter() - start) / periods


def run_env(env: gym.Env, seed: int, periods: int) -> tuple[float, float]:
    """Seconds per period of ``env.step`` and of the env's own work (step minus the simulator's
    ``run_periods`` inside it)."""
    env.reset(seed=seed)
    net = env.unwrapped.net  # type: ignore[attr-defined]
    x = equal_split(net.active_mask()).astype(np.float32)
    inner = 0.0
    simulate = replicas.run_periods

    def timed(*args: Any, **kwargs: Any) -> Any:
        nonlocal inner
        t0 = time.perf_counter()
        reports = simulate(*args, **kwargs)
        inner += time.perf_counter() - t0
        return reports

    replicas.run_periods = timed  # the env's call of the simulator, timed inside the step
    try:
        start = time.perf_counter()
        for _ in range(periods):
            env.step(x)
        total = time.perf_counter() - start
    finally:
        replicas.run_periods = simulate
    return total / periods, (total - inner) / periods


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="paper")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--periods", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    # the timeline must not end inside a run (TimeLimit would refuse further steps)
    wrapped = gym.make(env_id(args.scenario), max_episode_steps=args.periods + 1)
    unwrapped = slicesim.envs.SlicingEnv(args.scenario)
    runners: dict[str, Callable[[], tuple[float, float]]] = {
        "bare run_period": lambda: (run_bare(args.scenario, args.seed, args.periods), 0.0),
        "env.unwrapped": lambda: run_env(unwrapped, args.seed, args.periods),
        "gymnasium.make": lambda: run_env(wrapped, args.seed, args.periods),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for _ in range(args.runs):  # interleaved, so drifts of the machine hit every variant
        for name, runner in runners.items():
            times[name].append(runner())
    bare = statistics.median(t for t, _ in times["bare run_period"])
    print(f"{args.scenario}: {args.runs} runs x {args.periods} periods, medians\n")
    print("| variant | ms/period | vs bare | env's own work per step |\n|---|---|---|---|")
    for name, values in times.items():
        per = statistics.median(t for t, _ in values)
        own = statistics.median(o for _, o in values)
        print(
            f"| {name} | {per * 1e3:.3f} | {per / bare - 1:+.1%} | "
            f"{own * 1e3:.3f} ms ({own / bare:.1%}) |"
        )


if __name__ == "__main__":
    main()
